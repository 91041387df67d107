/** `omega-pr stress` (placeholder until its issue lands). */
import type { RegisterCommand } from './index';

/** Registers `omega-pr stress`. */
export const register: RegisterCommand = () => {};
