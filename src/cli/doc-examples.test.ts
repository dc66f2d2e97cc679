import { describe, expect, it } from 'vitest';
import { helpExampleGroups, kestrelCommand, lineKind, markdownExampleGroups, normalize, SKIP } from './doc-examples.js';

describe('finding the examples of the documentation', () => {
  it('help: the indented lines under Examples:, groups split by blank lines, continuations kept', () => {
    const help = ['Usage: kestrel serve [options]', '', 'Examples:', '  kestrel serve gateway   # a comment', "  curl -s -XPOST localhost:7301/x \\", "    -d '{}'", '', '  DRY_RUN=true kestrel serve gateway', '', 'Configuration: not an example', '  indented prose after the section'].join('\n');
    const groups = helpExampleGroups('kestrel serve --help', help);
    expect(groups.map((g) => g.examples.map((e) => [e.line, e.text]))).toEqual([
      [
        [4, 'kestrel serve gateway   # a comment'],
        [5, "curl -s -XPOST localhost:7301/x \\\n  -d '{}'"],
      ],
      [[8, 'DRY_RUN=true kestrel serve gateway']],
    ]);
    expect(helpExampleGroups('x', 'Usage: no examples')).toEqual([]);
  });

  it('markdown: only sh/bash/shell blocks; one group per blank-line-separated run', () => {
    const md = ['# T', '```ts', 'kestrel up // code, not a command', '```', '```sh', 'kestrel etl --input a.csv', '', 'kestrel sql "SELECT 1"', '```', '```text', 'kestrel not-run', '```', '```bash', '# just a comment', 'curl -s localhost:7304/health', '```'].join('\n');
    const groups = markdownExampleGroups('docs/x.md', md);
    expect(groups.map((g) => [g.line, g.examples.map((e) => e.text)])).toEqual([
      [6, ['kestrel etl --input a.csv']],
      [8, ['kestrel sql "SELECT 1"']],
      [15, ['curl -s localhost:7304/health']],
    ]);
  });

  it('what a line is, and how it runs here', () => {
    expect(kestrelCommand('DRY_RUN=true npx kestrel serve gateway')).toBe('serve');
    expect(kestrelCommand('curl -s x')).toBeNull();
    expect(lineKind('kestrel up')).toBe('server');
    expect(lineKind('kestrel serve broker-sim --as-of last')).toBe('server');
    expect(lineKind("curl -s localhost:7301/health")).toBe('client');
    expect(lineKind('kestrel risk trip --reason x')).toBe('client');
    expect(lineKind('kestrel sql "SELECT 1"')).toBe('offline');
    expect(normalize("npx kestrel status && curl -s localhost:7301/a 127.0.0.1:7306 host:7301", { 7301: 40001, 7306: 40006 })).toBe('kestrel status && curl -s localhost:40001/a 127.0.0.1:40006 host:7301');
    expect(normalize('curl -s localhost:7303/x', { 7303: 5 })).toBe('curl --fail-with-body --max-time 60 -s localhost:5/x');
  });

  it('skips placeholders, secrets and other machines — and not ordinary examples', () => {
    const reason = (t: string) => SKIP.find((s) => s.pattern.test(t))?.reason ?? null;
    expect(reason('BROKER=alpaca ALPACA_API_KEY_ID=… kestrel serve gateway')).toMatch(/placeholder|Alpaca/);
    expect(reason('API_TOKEN=$(openssl rand -hex 24) kestrel serve gateway')).toMatch(/secret/);
    expect(reason('kestrel risk status --url http://gateway.internal:7301')).toMatch(/another machine/);
    expect(reason('npm start')).toMatch(/npm scripts/);
    for (const ok of ['kestrel up', 'kestrel risk status --url http://127.0.0.1:7301', "curl -s localhost:7301/health", 'kestrel etl --input data/sample/bars.csv.gz', 'DRY_RUN=true kestrel serve gateway']) expect(reason(ok)).toBeNull();
  });
});
