// Shared helpers for the benchmarks: child processes with wall time and peak RSS, stats, temp dirs.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, accessSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setTimeout, clearTimeout } from 'node:timers';
import { Buffer } from 'node:buffer';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(ROOT, 'bin', 'kestrel.js');
export const RSS_WRAP = join(ROOT, 'bench', 'lib', 'rss-wrap.js');
export const FULL_DATA = '/work/shared/data/sp500_daily_2015_2020.csv.gz';
export const SAMPLE_DATA = join(ROOT, 'data', 'sample', 'bars.csv.gz');
const GNU_TIME = '/usr/bin/time';

/** The input data set: --input / $KESTREL_BENCH_INPUT, else the full data set, else the shipped sample. */
export function pickInput(explicit) {
  const given = explicit ?? process.env.KESTREL_BENCH_INPUT;
  if (given) {
    if (!existsSync(given)) throw new Error(`bench input ${given} does not exist`);
    const abs = resolve(given);
    return { path: abs, kind: abs === FULL_DATA ? 'full' : abs === SAMPLE_DATA ? 'sample' : 'custom' };
  }
  if (existsSync(FULL_DATA)) return { path: FULL_DATA, kind: 'full' };
  return { path: SAMPLE_DATA, kind: 'sample' };
}

export function describeInput(input) {
  if (input.kind === 'full') return `full data set ${input.path}`;
  if (input.kind === 'sample') {
    const why = existsSync(FULL_DATA) ? 'chosen explicitly' : `full data set ${FULL_DATA} is absent`;
    return `SAMPLE data ${input.path} (${why}; targets are defined for the full set, so pass/fail is only indicative)`;
  }
  return `custom input ${input.path} (targets are defined for the full data set)`;
}

/** How peak RSS of a child is measured: GNU time's %M from outside if present, else an in-process wrapper. */
export function rssMethod() {
  const forced = process.env.KESTREL_BENCH_RSS;
  if (forced === 'wrap') return 'wrap';
  try {
    accessSync(GNU_TIME, constants.X_OK);
    return forced === 'none' ? 'none' : 'gnu-time';
  } catch {
    return forced === 'none' ? 'none' : 'wrap';
  }
}

const tempDirs = [];
let rssDir;
let rssSeq = 0;
/** A fresh temp directory, removed by cleanupTemp() (unless KESTREL_BENCH_KEEP=1). */
export function tempDir(label) {
  const d = mkdtempSync(join(tmpdir(), `kestrel-bench-${label}-`));
  tempDirs.push(d);
  return d;
}
export function cleanupTemp() {
  rssDir = undefined;
  if (process.env.KESTREL_BENCH_KEEP === '1') {
    if (tempDirs.length) console.error(`bench: kept temp dirs: ${tempDirs.join(' ')}`);
    return;
  }
  while (tempDirs.length) rmSync(tempDirs.pop(), { recursive: true, force: true });
}

/** Children still running (each leads its own process group). */
const active = new Set();

/** On Ctrl-C / SIGTERM: kill the children this bench started (by process group id), remove temp dirs, exit. */
export function installSignalCleanup() {
  const stop = (sig) => {
    for (const c of active) {
      try {
        process.kill(-c.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    cleanupTemp();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

const RSS_MARK = 'KESTREL_BENCH_MAXRSS_KB=';

/**
 * Runs one child process to completion (killed after timeoutMs) and returns its exit code,
 * output, wall time in ms (spawn → close, so it includes process start) and, when asked,
 * its peak RSS in KiB.
 * `script` is a Node script path; `args` its arguments. measureRss: 'gnu-time' | 'wrap' | 'none'.
 * With 'wrap' the script must be the CLI (bin/kestrel.js): the wrapper imports the CLI's main.
 */
export function runNode(script, args, { timeoutMs = 120_000, measureRss = 'none', cwd = ROOT, env = process.env } = {}) {
  let cmd = process.execPath;
  let argv = [script, ...args];
  let rssFile = null;
  if (measureRss === 'gnu-time') {
    rssDir ??= tempDir('rss');
    rssFile = join(rssDir, `maxrss-${++rssSeq}`);
    cmd = GNU_TIME;
    argv = ['-f', '%M', '-o', rssFile, process.execPath, script, ...args];
  } else if (measureRss === 'wrap') {
    if (script !== CLI) argv = [RSS_WRAP, '--script', script, ...args];
    else argv = [RSS_WRAP, ...args];
  }
  return new Promise((resolve, reject) => {
    const out = [];
    const err = [];
    const t0 = performance.now();
    // detached: the child leads its own process group, so a timeout can kill it and anything it started.
    const child = spawn(cmd, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    active.add(child);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    child.on('error', (e) => {
      active.delete(child);
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      const wallMs = performance.now() - t0;
      active.delete(child);
      clearTimeout(timer);
      let stderr = Buffer.concat(err).toString('utf8');
      let maxRssKb = null;
      if (rssFile && existsSync(rssFile)) {
        const lines = readFileSync(rssFile, 'utf8').trim().split('\n');
        const v = Number(lines[lines.length - 1]);
        if (Number.isFinite(v)) maxRssKb = v;
      } else if (measureRss === 'wrap') {
        const i = stderr.lastIndexOf(RSS_MARK);
        if (i >= 0) {
          maxRssKb = Number(stderr.slice(i + RSS_MARK.length).split('\n')[0]);
          stderr = stderr.slice(0, i) + stderr.slice(i).split('\n').slice(1).join('\n');
        }
      }
      resolve({ code, signal, timedOut, wallMs, maxRssKb, stdout: Buffer.concat(out).toString('utf8'), stderr });
    });
  });
}

/** Throws with the child's stderr when it did not exit 0. */
export function mustSucceed(what, r) {
  if (r.code === 0) return r;
  const why = r.timedOut ? 'timed out' : r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
  throw new Error(`${what}: ${why}\n${r.stderr.trim().split('\n').slice(-10).join('\n')}`);
}

/** Linear-interpolated quantile (q in [0,1]) of numbers. */
export function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export function summarize(xs) {
  return { n: xs.length, min: round(Math.min(...xs)), median: round(quantile(xs, 0.5)), p90: round(quantile(xs, 0.9)), max: round(Math.max(...xs)), runs: xs.map(round) };
}

export const round = (x, d = 1) => (x == null || !Number.isFinite(x) ? x : Math.round(x * 10 ** d) / 10 ** d);
export const mib = (kb) => (kb == null ? null : round(kb / 1024, 1));

/** True when this module is the script node was started with. */
export function isMain(metaUrl) {
  return process.argv[1] != null && fileURLToPath(metaUrl) === process.argv[1];
}

/** Minimal flag parsing: --name value and bare --flag. */
export function parseFlags(argv) {
  const flags = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const key = a.slice(2);
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      flags[key] = next;
      i++;
    } else flags[key] = true;
  }
  return flags;
}

/** A bounded positive integer flag. */
export function intFlag(v, dflt, max) {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`want an integer in 1..${max}, got ${v}`);
  return n;
}

function cpuTimes() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] || 0); // idle + iowait
    return { idle, total: f.reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

/**
 * How busy the machine is while this bench sits idle: % of all cores in use over `ms`
 * (Linux /proc/stat; null elsewhere). Other work on a shared 2-core machine skews every figure.
 */
export async function busyPercent(ms = 1000) {
  const a = cpuTimes();
  if (!a) return null;
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  const total = b.total - a.total;
  return total > 0 ? round(100 * (1 - (b.idle - a.idle) / total), 0) : null;
}
