import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../bus/test-helpers.js';
import { CHILD_ENTRY } from '../execution/test-helpers.js';
import { COSTLY, disruptive, helpExampleGroups, helpTexts, kestrelCommand, lineKind, markdownGroups, normalize, SKIP, type Example, type ExampleGroup } from './doc-examples.js';
import { buildProgram } from './main.js';

/**
 * Every example of the documentation runs as printed: the `Examples:` of every command's
 * --help, the ```sh blocks of README.md and docs/ (discovered, not listed here: see
 * src/cli/doc-examples.ts for how, and for the SKIP rules of lines that cannot run here).
 *
 * How: a fresh directory laid out like a clone (data/sample and examples/ linked in, no .env),
 * seeded with `kestrel etl` of the bundled sample and a quick `kestrel train`; `kestrel` on PATH
 * runs this checkout's sources. Each line runs in bash (pipes, redirects, env prefixes as
 * printed) and must exit 0; curl runs for real, with --fail-with-body so an HTTP error fails
 * it. Servers (`kestrel up`, `kestrel serve …`) start in the background, are ready when they
 * say so, run to the end of their group (examples separated by a blank line) and must then
 * stop cleanly (exit 0) on SIGINT. Lines that talk to services (curl, status, risk,
 * kill-switch) in a group without servers get one shared `kestrel up`. The embedded database
 * is one process's at a time, so servers stop before a line that opens it (etl, sql, train, …).
 * Ports are free ones (GATEWAY_PORT …), and the printed 7301–7306 are mapped to them.
 *
 * Order: groups without services, then groups with their own servers (`kestrel up` ones last:
 * a plain `kestrel up` left running at the end of its group is the shared one), then the
 * shared-up ones (those that trip the breaker or engage the kill switch last). KESTREL_EXAMPLES=all also runs
 * the costly variants (COSTLY); KESTREL_EXAMPLES_VERBOSE=1 prints what each line printed.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ALL = process.env.KESTREL_EXAMPLES === 'all';
const READY = /listening on|kestrel up: ready/;

// ---- discovery (at collection time: one test per group) ---------------------------------

function discover(): ExampleGroup[] {
  let buf = '';
  const sink = new Writable({
    write(c, _e, cb) {
      buf += String(c);
      cb();
    },
  });
  const program = buildProgram({ stdout: sink, stderr: sink });
  const helps = helpTexts(program, () => {
    buf = '';
    return { take: () => buf };
  });
  return [...helps.flatMap((h) => helpExampleGroups(h.source, h.help)), ...markdownGroups(ROOT)];
}

const groups = discover();
const rank = (g: ExampleGroup) => {
  const runs = g.examples.filter((e) => !skipReason(e));
  // Groups running `kestrel up` come last of those with servers: the last one's up stays for the clients after.
  if (runs.some((e) => lineKind(e.text) === 'server')) return runs.some((e) => kestrelCommand(e.text) === 'up') ? 2 : 1;
  if (runs.some((e) => lineKind(e.text) === 'client')) return g.examples.some((e) => disruptive(e.text)) ? 4 : 3;
  return 0;
};
const ordered = groups.map((g, i) => ({ g, i })).sort((a, b) => rank(a.g) - rank(b.g) || a.i - b.i).map((x) => x.g);

/** What happens to each line, decided up front: run, or skipped with its reason. */
interface Step {
  e: Example;
  skip: string | null;
}
const costlySeen = new Map<string, number>();
const plan: Array<{ g: ExampleGroup; steps: Step[] }> = ordered.map((g) => ({
  g,
  steps: g.examples.map((e) => {
    const reason = skipReason(e);
    if (reason) return { e, skip: reason };
    const cmd = kestrelCommand(e.text);
    const costly = cmd ? COSTLY[cmd] : undefined;
    const seen = cmd ? (costlySeen.get(cmd) ?? 0) : 0;
    if (cmd) costlySeen.set(cmd, seen + 1);
    if (costly && !ALL && (costly === 'none' || seen > 0)) return { e, skip: `costly variant of \`kestrel ${cmd}\` (KESTREL_EXAMPLES=all runs it)` };
    return { e, skip: null };
  }),
}));

function skipReason(e: Example): string | null {
  const first = e.text.split('\n')[0]!.trim();
  for (const s of SKIP) if (s.pattern.test(e.text) || s.pattern.test(first)) return s.reason;
  return null;
}

// ---- the sandbox ------------------------------------------------------------------------

let dir: string;
let env: NodeJS.ProcessEnv;
const portMap: Record<number, number> = {};
const ran: string[] = [];

interface Server {
  proc: ChildProcess;
  command: string;
  label: string;
  service: string;
  shared: boolean;
  out: () => string;
  exited: Promise<number | null>;
}
let servers: Server[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kestrel-examples-'));
  mkdirSync(join(dir, 'data'));
  symlinkSync(join(ROOT, 'data/sample'), join(dir, 'data/sample'));
  symlinkSync(join(ROOT, 'examples'), join(dir, 'examples'));
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin/kestrel'), `#!/bin/sh\nexec ${kestrelCommandLine()} "$@"\n`);
  chmodSync(join(dir, 'bin/kestrel'), 0o755);
  const ports = await Promise.all([7301, 7302, 7303, 7304, 7305, 7306].map(async (p) => [p, await freePort()] as const));
  for (const [p, free] of ports) portMap[p] = free;
  // The embedded defaults, as in a fresh clone: nothing of this machine's configuration.
  env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(KESTREL_|DATABASE_URL$|REDIS_URL$|API_TOKEN$|BROKER$|ALPACA_|RISK_|SIM_|DRY_RUN$|HOST$|LOG_|MARKS_|GATEWAY_|SIGNALS_|[A-Z_]+_PORT$)/.test(k)));
  Object.assign(env, {
    PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    GATEWAY_PORT: String(portMap[7301]),
    BROKER_SIM_PORT: String(portMap[7302]),
    SIGNALS_PORT: String(portMap[7303]),
    ORCHESTRATOR_PORT: String(portMap[7304]),
    MARKETDATA_PORT: String(portMap[7305]),
    REPLAY_PORT: String(portMap[7306]),
  });
  // The seed: the sample's data and a quickly trained production model (v1).
  writeFileSync(join(dir, 'seed-train.json'), JSON.stringify({ params: { num_boost_round: 20, early_stopping_rounds: 5 } }));
  for (const cmd of ['kestrel etl --input data/sample/bars.csv.gz', 'kestrel train --config seed-train.json']) {
    const r = await sh(cmd, 180_000);
    expect(r.code, `seed: ${cmd}\n${r.out}`).toBe(0);
  }
}, 300_000);

afterAll(async () => {
  await stopServers(() => true);
  if (dir) rmSync(dir, { recursive: true, force: true });
  process.stderr.write(`examples: ${ran.length} lines run\n`);
}, 120_000);

/** Runs a line in bash (pipefail); `out` is stdout and stderr as they came, `stdout` alone. */
/**
 * `kestrel` as users run it: the compiled bin when dist/ is at least as new as every source
 * (CI builds it in `npm ci`), else the sources under tsx (a checkout being edited).
 */
function kestrelCommandLine(): string {
  const main = join(ROOT, 'dist/cli/main.js');
  const newest = (d: string): number =>
    readdirSync(d, { withFileTypes: true }).reduce((m, e) => Math.max(m, e.isDirectory() ? newest(join(d, e.name)) : e.name.endsWith('.ts') ? statSync(join(d, e.name)).mtimeMs : 0), 0);
  if (existsSync(main) && statSync(main).mtimeMs >= newest(join(ROOT, 'src'))) return `"${process.execPath}" "${join(ROOT, 'bin/kestrel.js')}"`;
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return `"${process.execPath}" --import "${tsx}" "${CHILD_ENTRY}"`;
}

function sh(cmd: string, timeoutMs = 120_000): Promise<{ code: number | null; out: string; stdout: string }> {
  return new Promise((resolve) => {
    const p = spawn('bash', ['-o', 'pipefail', '-c', cmd], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stdout = '';
    p.stdout!.on('data', (c: Buffer) => ((out += c.toString()), (stdout += c.toString())));
    p.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out, stdout });
    });
  });
}

async function startServer(cmd: string, label: string, shared: boolean): Promise<void> {
  const service = kestrelCommand(cmd) === 'up' ? 'up' : (/kestrel\s+serve\s+(\S+)/.exec(cmd)?.[1] ?? '?');
  // A second server of a service replaces the first (examples show alternatives); `up` is all of them.
  await stopServers((s) => service === 'up' || s.service === 'up' || s.service === service);
  const proc = spawn('bash', ['-c', cmd], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const s: Server = { proc, command: cmd.trim(), label, service, shared, out: () => out, exited };
  servers.push(s);
  const deadline = Date.now() + 90_000;
  let gone = false;
  void exited.then(() => (gone = true));
  while (!READY.test(out)) {
    if (gone) throw new Error(`${label}: exited before it was ready:\n${out}`);
    if (Date.now() > deadline) throw new Error(`${label}: not ready after 90 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopServers(which: (s: Server) => boolean): Promise<void> {
  const stopping = servers.filter(which);
  servers = servers.filter((s) => !stopping.includes(s));
  for (const s of stopping) {
    try {
      process.kill(-s.proc.pid!, 'SIGINT');
    } catch {
      // already gone
    }
  }
  for (const s of stopping) {
    const code = await Promise.race([s.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))]);
    if (code === 'hung') process.kill(-s.proc.pid!, 'SIGKILL');
    expect(code, `${s.label}: a clean stop on SIGINT exits 0\n${s.out().slice(-3000)}`).toBe(0);
  }
}

const sharedUp = () => servers.some((s) => s.shared);
async function ensureServices(): Promise<void> {
  if (servers.length) return;
  await startServer('kestrel up', 'shared kestrel up', true);
}

// ---- the tests --------------------------------------------------------------------------

describe('documentation examples', () => {
  it('are discovered in every command’s --help, README.md and docs/', () => {
    const sources = new Set(groups.map((g) => g.source));
    expect([...sources].filter((s) => s.endsWith('--help')).length).toBeGreaterThanOrEqual(8);
    expect(sources.has('README.md')).toBe(true);
    expect([...sources].filter((s) => s.startsWith('docs/')).length).toBeGreaterThanOrEqual(3);
    // Every line of those is run or skipped with a reason.
    expect(groups.flatMap((g) => g.examples).length).toBeGreaterThan(40);
  });

  for (const { g, steps } of plan.filter((p) => p.steps.some((st) => !st.skip))) {
    it(`${g.source}:${g.line}`, { timeout: 300_000 }, async () => {
      for (const { e, skip } of steps) {
        if (skip) continue;
        const where = `${e.source}:${e.line}`;
        const line = normalize(e.text, portMap);
        const kind = lineKind(e.text);
        if (kind === 'server') await startServer(line, `${where} ${e.text.split('\n')[0]}`, false);
        else {
          if (kind === 'client') await ensureServices();
          else await stopServers(() => true);
          const r = await sh(line);
          if (process.env.KESTREL_EXAMPLES_VERBOSE) process.stderr.write(`\n$ ${line}\n${r.out.slice(0, 2000)}\n`);
          expect(r.code, `${where}: \`${e.text}\` (ran as \`${line}\`) exited ${r.code}:\n${r.out.slice(-3000)}`).toBe(0);
        }
        ran.push(where);
      }
      // The group's own servers stop with it; a plain `kestrel up` stays, shared by the groups after.
      for (const s of servers) if (s.service === 'up' && /^kestrel up\s*(#.*)?$/.test(s.command)) s.shared = true;
      await stopServers((s) => !s.shared);
    });
  }

  it('skips only lines that cannot run here, each with its reason', () => {
    const skipped = plan.flatMap((p) => p.steps.filter((st) => st.skip).map((st) => ({ where: `${st.e.source}:${st.e.line}`, text: st.e.text.split('\n')[0], reason: st.skip! })));
    for (const s of skipped) expect(s.reason.length, `${s.where} ${s.text}`).toBeGreaterThan(10);
    // Most examples run: a rule that swallows everything would fail here.
    expect(skipped.length).toBeLessThan(plan.flatMap((p) => p.steps).length / 3);
    process.stderr.write(`examples skipped:\n${skipped.map((s) => `  ${s.where}  ${s.text}\n      → ${s.reason}`).join('\n')}\n`);
  });

  it('the shared kestrel up: every part UP, risk’s series on the gateway’s /metrics', { timeout: 300_000 }, async () => {
    if (!sharedUp()) {
      await stopServers(() => true);
      await ensureServices();
    }
    const metrics = await (await fetch(`http://127.0.0.1:${portMap[7301]}/metrics`)).text();
    expect(metrics).toContain('# TYPE kestrel_risk_rejections_total counter');
    expect(metrics).toMatch(/kestrel_risk_check_seconds_count\{service="gateway"\} \d+/);
    const status = await sh('kestrel status --json');
    expect(status.code, status.out).toBe(0);
    const report = JSON.parse(status.stdout) as { components: Array<{ name: string; status: string }> };
    expect(report.components.filter((c) => c.status === 'down')).toEqual([]);
    expect(report.components.map((c) => c.name)).toContain('marketdata');
  });
});
