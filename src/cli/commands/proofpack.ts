/** `omega-pr proofpack` (placeholder until its issue lands). */
import type { RegisterCommand } from './index';

/** Registers `omega-pr proofpack`. */
export const register: RegisterCommand = () => {};
