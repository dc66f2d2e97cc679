/**
 * Child process of bench/marketdata/replay.ts: the replay server (`buildReplayServer`, the code
 * of `kestrel serve replay`) on loopback, at `--rate` trades/s per connection across `--symbols`
 * synthetic symbols (seeded daily bars, so no data dir is needed). Its own process, so the
 * server's CPU is not the measured client's. `GET /bench/sent` answers the trades sent so far,
 * `GET /bench/symbols` the symbols.
 * Prints `replay listening on ws://127.0.0.1:<port>/v2/iex`.
 */
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { buildReplayServer, staticSource } from '../../src/marketdata/replay/server.js';
import type { DailyBar } from '../../src/marketdata/replay/path.js';
import { benchArgs } from '../lib/args.js';

const { flag } = benchArgs();
const RATE = Number(flag('rate', '20000'));
const SYMBOLS = Number(flag('symbols', '20'));
const DATE = '2025-01-17';

const symbols = Array.from({ length: SYMBOLS }, (_, k) => `BM${String(k).padStart(3, '0')}`);
const bars: Record<string, Record<string, DailyBar>> = {};
symbols.forEach((s, k) => {
  const open = 50 + k * 7.31;
  bars[s] = { [DATE]: { open, high: open * 1.03, low: open * 0.97, close: open * 1.01, volume: 2_000_000 + k * 1000 } };
});

let sent = 0;
const server = buildReplayServer({
  clock: systemClock,
  logger: silentLogger(),
  source: staticSource(bars),
  speed: 1,
  rate: RATE,
  keys: { key: 'bench', secret: 'bench' },
  date: DATE,
  tradesPerDay: 390,
  onSent: (msgs) => {
    for (const m of msgs) if (m.T === 't') sent++;
  },
});
server.app.get('/bench/sent', async () => ({ sent }));
server.app.get('/bench/symbols', async () => ({ symbols }));
const port = await server.listen(0, '127.0.0.1');
console.log(`replay listening on ws://127.0.0.1:${port}/v2/iex`);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void server.close().finally(() => process.exit(0));
  });
}
