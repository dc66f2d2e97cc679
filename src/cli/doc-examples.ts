import type { Command } from 'commander';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * The example commands of the documentation, as a user would copy them: every command's
 * `--help` (the indented lines under `Examples:`), and the ```sh blocks of README.md and
 * docs/**\/*.md. Blank lines split examples into groups (a scenario: servers started in a group
 * run until its end); a trailing backslash continues a command on the next line. Used by
 * src/cli/examples.test.ts, which runs them all on the bundled sample.
 *
 * To write an example that is not to be run, use a ```text block in Markdown (or prose); a
 * line that cannot run as printed (placeholders, secrets, other hosts) needs a SKIP rule below
 * with its reason.
 */
export interface Example {
  /** `kestrel serve --help` or `docs/execution.md`. */
  source: string;
  /** 1-based line of the example in its help text or file. */
  line: number;
  /** The command as printed (continuation lines included, dedented). */
  text: string;
}

export interface ExampleGroup {
  source: string;
  line: number;
  examples: Example[];
}

/** Groups of the help text's `Examples:` section. */
export function helpExampleGroups(source: string, help: string): ExampleGroup[] {
  const lines = help.split('\n');
  const start = lines.findIndex((l) => l.trim() === 'Examples:' && !/^\s/.test(l));
  if (start < 0) return [];
  const body: Array<{ n: number; text: string }> = [];
  for (let i = start + 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.trim() !== '' && !/^\s/.test(l)) break; // the section ends at the next unindented line
    body.push({ n: i + 1, text: l });
  }
  return groupLines(source, body);
}

/** Groups of the ```sh / ```bash / ```shell blocks of a Markdown file (one block = one or more groups). */
export function markdownExampleGroups(source: string, markdown: string): ExampleGroup[] {
  const groups: ExampleGroup[] = [];
  let state: 'prose' | 'shell' | 'other' = 'prose';
  let block: Array<{ n: number; text: string }> = [];
  markdown.split('\n').forEach((l, i) => {
    const fence = /^```\s*([\w-]*)/.exec(l);
    if (!fence) {
      if (state === 'shell') block.push({ n: i + 1, text: l });
      return;
    }
    if (state === 'prose') {
      state = ['sh', 'bash', 'shell'].includes(fence[1]!) ? 'shell' : 'other';
      block = [];
      return;
    }
    if (state === 'shell') groups.push(...groupLines(source, block));
    state = 'prose';
  });
  return groups;
}

function groupLines(source: string, body: Array<{ n: number; text: string }>): ExampleGroup[] {
  const indent = Math.min(...body.filter((l) => l.text.trim()).map((l) => /^\s*/.exec(l.text)![0].length));
  const groups: ExampleGroup[] = [];
  let current: Example[] = [];
  const flush = () => {
    if (current.length) groups.push({ source, line: current[0]!.line, examples: current });
    current = [];
  };
  for (let i = 0; i < body.length; i++) {
    const first = body[i]!;
    if (!first.text.trim()) {
      flush();
      continue;
    }
    if (/^\s*#/.test(first.text)) continue; // a comment line
    const parts = [first.text.slice(indent)];
    while (parts.at(-1)!.trimEnd().endsWith('\\') && i + 1 < body.length) parts.push(body[++i]!.text.slice(indent));
    current.push({ source, line: first.n, text: parts.join('\n').trimEnd() });
  }
  flush();
  return groups;
}

/** Every command's help text (including addHelpText), depth first, as `kestrel <path> --help`. */
export function helpTexts(program: Command, capture: () => { take(): string }): Array<{ source: string; help: string }> {
  const out: Array<{ source: string; help: string }> = [];
  const walk = (c: Command, path: string[]) => {
    for (const sub of c.commands) {
      const p = [...path, sub.name()];
      const cap = capture();
      sub.outputHelp();
      out.push({ source: `kestrel ${p.join(' ')} --help`, help: cap.take() });
      walk(sub, p);
    }
  };
  walk(program, []);
  return out;
}

/** README.md and docs/**\/*.md under `root`, in a stable order. */
export function markdownFiles(root: string): string[] {
  const docs: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.md')) docs.push(join(dir, e.name));
    }
  };
  walk(join(root, 'docs'));
  return [join(root, 'README.md'), ...docs];
}

export function markdownGroups(root: string): ExampleGroup[] {
  return markdownFiles(root).flatMap((f) => markdownExampleGroups(relative(root, f), readFileSync(f, 'utf8')));
}

// ---- what a line is -------------------------------------------------------------------

/**
 * Lines that cannot run as printed here, each with its reason. Anything else must run.
 * Keep these about the kind of line (placeholders, secrets, other machines), not one example.
 */
export const SKIP: ReadonlyArray<{ pattern: RegExp; reason: string }> = [
  { pattern: /…|<[a-z_][a-z0-9_.-]*>/, reason: 'placeholder values (…, <name>): fill in your own' },
  { pattern: /\$\(openssl|API_TOKEN=\S/, reason: 'needs a secret of your own (API_TOKEN)' },
  { pattern: /\bBROKER=alpaca\b|ALPACA_API_KEY_ID=/, reason: 'needs Alpaca credentials' },
  { pattern: /postgres:\/\/[^@\s]*@(?!127\.0\.0\.1|localhost)[\w.-]+/, reason: 'a PostgreSQL server of your own' },
  { pattern: /--url https?:\/\/(?!127\.0\.0\.1|localhost)[\w.-]+/, reason: 'another machine (an example host name)' },
  { pattern: /^npm (ci|start|test|run)\b/, reason: 'npm scripts: the build, the main job and the test suite itself (npm start = kestrel start)' },
  { pattern: /^make\b/, reason: 'Makefile targets run the compiled dist/ (npm run build); the kestrel commands they wrap run here directly' },
  { pattern: /\.\.\/shared\/data\//, reason: 'the full shared data set is not part of the repository (data/sample is)' },
  { pattern: /--input new-day\.csv|--config train\.json/, reason: 'files of your own (new-day.csv, actions.csv, gates.json, train.json)' },
];

/**
 * Commands whose examples cost tens of seconds each, run only with KESTREL_EXAMPLES=all
 * (`none`) or only their first example (`first`): `start` is ETL + training + a paper run;
 * a paper run is 20+ trading days through the whole stack (src/backtest/paper-run.int.test.ts
 * runs that code); training the default model is the one `train` kept.
 */
export const COSTLY: Readonly<Record<string, 'first' | 'none'>> = { start: 'none', 'paper-run': 'none', train: 'first' };

export type LineKind = 'server' | 'client' | 'offline';

/** The `kestrel` subcommand of a line (after env assignments and `npx`), or null for other programs. */
export function kestrelCommand(text: string): string | null {
  const m = /^(?:[A-Z_][A-Z0-9_]*=\S*\s+)*(?:npx\s+)?kestrel\s+([a-z-]+)/.exec(text.trim());
  return m ? m[1]! : null;
}

/**
 * server: runs until stopped (`kestrel up`, `kestrel serve …`); client: talks to running
 * services (curl, `kestrel status|risk|kill-switch`); offline: everything else (opens the data
 * and the embedded database itself).
 */
export function lineKind(text: string): LineKind {
  const cmd = kestrelCommand(text);
  if (cmd === 'up' || cmd === 'serve') return 'server';
  if (cmd === 'status' || cmd === 'risk' || cmd === 'kill-switch' || /^curl\b/.test(text.trim())) return 'client';
  return 'offline';
}

/** Lines that change shared state for the examples after them (tripping the breaker, engaging the kill switch). */
export function disruptive(text: string): boolean {
  return /kestrel\s+(risk\s+trip|kill-switch\s+engage)\b/.test(text);
}

/** How a line is run here: `npx kestrel` is the `kestrel` on PATH; the default ports are the test's; curl fails on HTTP errors. */
export function normalize(text: string, ports: Readonly<Record<number, number>>): string {
  let t = text.replace(/\bnpx kestrel\b/g, 'kestrel');
  t = t.replace(/\b(localhost|127\.0\.0\.1):(730[1-6])\b/g, (_m, host: string, p: string) => `${host}:${ports[Number(p)] ?? p}`);
  t = t.replace(/^curl\b/, 'curl --fail-with-body --max-time 60');
  return t;
}
