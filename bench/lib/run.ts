/**
 * Runs a bench's `main` so that whatever it started is stopped whatever happens: `cleanup`
 * after success, after a failure (printed; exit code 1) and on Ctrl-C / SIGTERM (exit 130).
 */
export function runBench(main: () => Promise<void>, cleanup: () => Promise<void>): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void cleanup().finally(() => process.exit(130));
    });
  }
  main()
    .then(cleanup)
    .catch(async (e: unknown) => {
      console.error(e);
      await cleanup();
      process.exitCode = 1;
    });
}
