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
    // Commander's own error text (two lines: `error: …` and a hint) is replaced by main's one line.
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s), outputError: () => {} })
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
  for (const c of program.commands) c.exitOverride().configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s), outputError: () => {} });
  return program;
}

/**
 * `kestrel worker --help` and `kestrel help worker` would print the main help and exit 0:
 * commander only looks the name up when it dispatches. Such argv is re-parsed as the bare name,
 * so commander's own unknown-command path (with its did-you-mean suggestion) reports it.
 */
function unknownCommandHelp(program: Command, argv: string[]): string[] | null {
  const find = (cmd: Command, name: string) => cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
  const words = argv[0] === 'help' ? argv.slice(1) : argv;
  let cmd = program;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w.startsWith('-') || cmd.commands.length === 0) return null;
    const sub = find(cmd, w);
    if (!sub) return words.slice(0, i + 1);
    cmd = sub;
  }
  return null;
}

/** A commander error as one line: `unknown command "worker" (did you mean work?)`. */
export function commanderLine(e: CommanderError, program: Command, argv: string[]): string {
  const [head = '', ...rest] = e.message.replace(/^error: /, '').split('\n');
  const hint = rest.join(' ').trim().replace(/^\(Did you mean/, '(did you mean');
  // The (sub)command the words of argv name, for the pointer to its help.
  let cmd = program;
  for (const word of argv) {
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) break;
    cmd = sub;
  }
  if (e.code === 'commander.unknownCommand') {
    const name = /'(.*)'/.exec(head)?.[1] ?? head;
    const names = cmd.commands.map((c) => c.name());
    // Commander suggests by edit distance; a prefix (`paper` → paper-run) is as good a guess.
    const prefixed = names.filter((n) => name.length >= 2 && n.startsWith(name));
    const guess = hint || (prefixed.length ? `(did you mean ${prefixed.join(' or ')}?)` : `(commands: ${names.join(', ')})`);
    return `unknown command ${JSON.stringify(name)} ${guess}`;
  }
  const path = [cmd.name()];
  for (let p = cmd.parent; p; p = p.parent) path.unshift(p.name());
  return `${head}${hint ? ` ${hint}` : ''} (see ${path.join(' ')} --help)`;
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
  const parsed = unknownCommandHelp(program, argv) ?? argv;
  try {
    await program.parseAsync(parsed, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are not failures; every other commander error is bad usage.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      io.stderr.write(`kestrel: ${commanderLine(e, program, parsed)}\n`);
      return 2;
    }
    io.stderr.write(`kestrel: ${oneLine(e)}\n`);
    if (e instanceof KestrelError) return e.exitCode;
    return 1;
  }
}
