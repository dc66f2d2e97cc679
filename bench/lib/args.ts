/**
 * The command line of a bench script: `flag('seconds', '10')` reads `--seconds N`, `has('json')`
 * tests `--json`, and `log` prints progress to stdout — or to stderr under `--json`, so that
 * stdout carries only the JSON result.
 */
export function benchArgs(argv: readonly string[] = process.argv.slice(2)) {
  const has = (name: string) => argv.includes(`--${name}`);
  const json = has('json');
  return {
    argv,
    has,
    json,
    flag(name: string, dflt: string): string {
      const i = argv.indexOf(`--${name}`);
      return i >= 0 && argv[i + 1] ? argv[i + 1]! : dflt;
    },
    log: (s: string) => (json ? process.stderr.write(s + '\n') : console.log(s)),
  };
}
