import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { KestrelError, oneLine } from '../core/errors.js';
import type { IO } from './context.js';
import { registerEtl } from './commands/etl.js';
import { registerSql } from './commands/sql.js';
import { registerStart } from './commands/start.js';
import { registerServe } from './commands/serve.js';
import { registerModels } from './commands/models.js';
import { registerResearch } from './commands/research.js';
import { registerPaperRun } from './commands/paper-run.js';
import { registerStatus } from './commands/status.js';
import { registerUp } from './commands/up.js';
import { registerRisk } from './commands/risk.js';

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

export function buildProgram(io: IO): Command {
  const program = new Command('kestrel')
    .description('Kestrel: clean data → features → model → signals → risk-checked orders → exact P&L')
    .version(pkg.version)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .exitOverride();
  registerStart(program, io);
  registerEtl(program, io);
  registerSql(program, io);
  registerServe(program, io);
  registerResearch(program, io);
  registerModels(program, io);
  registerPaperRun(program, io);
  registerStatus(program, io);
  registerUp(program, io);
  registerRisk(program, io);
  for (const c of program.commands) c.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  return program;
}

/**
 * Runs the CLI and returns the exit code: 0 ok, 1 failure, 2 bad usage or input.
 * Failures print one line on stderr: `kestrel: <cause>`.
 */
export async function main(argv: string[], io: IO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const program = buildProgram(io);
  if (argv.length === 0) {
    io.stderr.write(program.helpInformation());
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are not failures; every other commander error is bad usage.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2;
    }
    io.stderr.write(`kestrel: ${oneLine(e)}\n`);
    if (e instanceof KestrelError) return e.exitCode;
    return 1;
  }
}
