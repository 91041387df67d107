/** `omega-pr concurrency` (placeholder until its issue lands). */
import type { RegisterCommand } from './index';

/** Registers `omega-pr concurrency`. */
export const register: RegisterCommand = () => {};
