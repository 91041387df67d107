/**
 * The registry of subcommands. Each module exports `register(program, setExit)`; `setExit`
 * records the gate's exit code (0 PASS, 1 FAIL).
 */
import type { RegisterCommand } from '../util';
import { register as preflight } from './preflight';
import { register as concurrency } from './concurrency';
import { register as chaos } from './chaos';
import { register as stress } from './stress';
import { register as proofpack } from './proofpack';
import { register as sprint } from './sprint';
import { register as keygen } from './keygen';
import { register as prices } from './prices';

export type { RegisterCommand };

/** Every subcommand, in runbook order. */
export const COMMANDS: RegisterCommand[] = [preflight, concurrency, chaos, stress, proofpack, sprint, keygen, prices];
