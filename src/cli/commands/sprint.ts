/** `omega-pr sprint` (placeholder until its issue lands). */
import type { RegisterCommand } from './index';

/** Registers `omega-pr sprint`. */
export const register: RegisterCommand = () => {};
