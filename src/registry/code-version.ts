import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

/** `git:<sha>[-dirty]` when run from a checkout, else `pkg:<version>`. Recorded with every run. */
export function codeVersion(cwd = process.cwd()): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return `git:${sha}${dirty ? '-dirty' : ''}`;
  } catch {
    const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
    return `pkg:${pkg.version}`;
  }
}
