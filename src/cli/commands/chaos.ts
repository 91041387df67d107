/** `omega-pr chaos` (placeholder until its issue lands). */
import type { RegisterCommand } from './index';

/** Registers `omega-pr chaos`. */
export const register: RegisterCommand = () => {};
