import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../core/errors.js';
import type { IO } from '../context.js';
import { createContext } from '../context.js';
import { etlCommand } from './etl.js';

/** The bundled sample: 40 symbols of the shared data set, all dates (see data/sample/README.md). */
export const SAMPLE_BARS = fileURLToPath(new URL('../../../data/sample/bars.csv.gz', import.meta.url));

/** `npm start`: the main job on embedded defaults. Today: ETL of the bundled sample and its quality report. */
export function registerStart(program: Command, io: IO): void {
  program
    .command('start')
    .description('run the main job on embedded defaults (today: ETL of the bundled sample + quality report)')
    .option('--data-dir <dir>', 'data directory (default $KESTREL_DATA_DIR or ./data)')
    .option('--json', 'print the quality report as JSON')
    .action(async (opts: { dataDir?: string; json?: boolean }) => {
      if (!existsSync(SAMPLE_BARS)) throw new InputError(`bundled sample missing: ${SAMPLE_BARS}`);
      const ctx = createContext('start', io, { dataDir: opts.dataDir }, { quiet: opts.json });
      ctx.logger.info({ input: SAMPLE_BARS, dataDir: ctx.config.dataDir }, 'running ETL on the bundled sample');
      await etlCommand(ctx, { input: SAMPLE_BARS, json: opts.json });
      if (!opts.json) ctx.out(`\nNext: kestrel sql "SELECT symbol, count(*) AS days, round(avg(close), 2) AS avg_close FROM bars GROUP BY ALL ORDER BY symbol"`);
    });
}
