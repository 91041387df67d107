/** `omega-pr preflight` (placeholder until its issue lands). */
import type { RegisterCommand } from './index';

/** Registers `omega-pr preflight`. */
export const register: RegisterCommand = () => {};
