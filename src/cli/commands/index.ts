/**
 * The registry of subcommands. Each module exports `register(program, setExit)`; `setExit`
 * records the gate's exit code (0 PASS, 1 FAIL).
 */
import type { Command } from 'commander';
import { register as preflight } from './preflight';
import { register as concurrency } from './concurrency';
import { register as chaos } from './chaos';
import { register as stress } from './stress';
import { register as proofpack } from './proofpack';
import { register as sprint } from './sprint';
import { register as prices } from './prices';

/** Registers one subcommand on the program. */
export type RegisterCommand = (program: Command, setExit: (code: number) => void) => void;

/** Every subcommand, in runbook order. */
export const COMMANDS: RegisterCommand[] = [preflight, concurrency, chaos, stress, proofpack, sprint, prices];
