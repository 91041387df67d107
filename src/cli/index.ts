/**
 * The `omega-pr` command: one subcommand per runbook phase, plus `sprint` for the whole runbook.
 * Exit codes: 0 = gate PASS, 1 = gate FAIL, 2 = usage or input error, 130 = interrupted
 * (SIGINT / SIGTERM).
 */
import { Command, CommanderError } from 'commander';
import { EXIT, rel } from './util';
import { EXIT_INTERRUPTED, InterruptedError, interrupted, interruptedBy } from './lifecycle';
import { COMMANDS } from './commands';
import { setInvocation } from './ncr';

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command();
  program
    .name('omega-pr')
    .description('Hardening toolkit for LLM-driven engines: runs the PR sprint runbook (gates PR-G0…G5).')
    .version(require('../../package.json').version as string)
    .exitOverride()
    .showHelpAfterError()
    // Options after a subcommand belong to it (`stress merge … --calibration f` is merge's).
    .enablePositionalOptions();
  setInvocation(argv);
  let exitCode: number = EXIT.PASS;
  for (const register of COMMANDS) {
    register(program, (code: number) => {
      exitCode = code;
    });
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof InterruptedError || interrupted()) {
      process.stderr.write(`omega-pr: ERR_OMEGA_INTERRUPTED: ${err instanceof InterruptedError ? err.message : `interrupted by ${interruptedBy()}`}\n`);
      return EXIT_INTERRUPTED;
    }
    if (err instanceof CommanderError) {
      // --help / --version exit 0; every other commander error is a usage error.
      return err.exitCode === 0 ? EXIT.PASS : EXIT.USAGE;
    }
    const sys = err as NodeJS.ErrnoException;
    if (typeof sys.code === 'string' && typeof sys.syscall === 'string' && /^E[A-Z]+$/.test(sys.code)) {
      // A file-system error (an output folder that cannot be made, a read-only disk…): an input
      // problem of the command line, named with the path as the user gave it.
      const where = typeof sys.path === 'string' ? ` ${rel(sys.path)}` : '';
      const what = (sys.message ?? '').replace(/^[A-Z]+: /, '').replace(/,.*$/, '');
      process.stderr.write(`omega-pr: ERR_OMEGA_IO: cannot ${sys.syscall}${where}: ${what} (${sys.code})\n`);
      return EXIT.USAGE;
    }
    const e = err as { code?: string; message?: string };
    process.stderr.write(`omega-pr: ${e.code ?? 'ERR_OMEGA_INTERNAL'}: ${e.message ?? String(err)}\n`);
    return typeof e.code === 'string' && e.code.startsWith('ERR_OMEGA') && e.code !== 'ERR_OMEGA_INTERNAL'
      ? EXIT.USAGE
      : EXIT.FAIL;
  }
  // Interrupted but the command finished its work anyway: still 130, as shells expect.
  return interrupted() ? EXIT_INTERRUPTED : exitCode;
}
