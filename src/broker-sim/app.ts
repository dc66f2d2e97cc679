import type { Server } from 'node:http';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { Clock } from '../core/clock.js';
import { InputError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { createServiceApp, HttpError } from '../observability/http-app.js';
import type { Metrics } from '../observability/metrics.js';
import { BrokerSim, type BrokerSimConfig } from './engine.js';
import { AlpacaApiError, CODES } from './errors.js';
import { Faults } from './faults.js';
import type { PriceSource } from './prices.js';
import { registerAdminFaults } from './routes/admin-faults.js';
import { registerAdminPrices } from './routes/admin-prices.js';
import { registerAdminReset } from './routes/admin-reset.js';
import { registerCancelAllOrders } from './routes/cancel-all-orders.js';
import { registerCancelOrder } from './routes/cancel-order.js';
import type { SimContext } from './routes/context.js';
import { registerGetAccount } from './routes/get-account.js';
import { registerGetClock } from './routes/get-clock.js';
import { registerGetOrderByClientId } from './routes/get-order-by-client-id.js';
import { registerGetOrder } from './routes/get-order.js';
import { registerGetPosition } from './routes/get-position.js';
import { registerListOrders } from './routes/list-orders.js';
import { registerListPositions } from './routes/list-positions.js';
import { registerPostOrder } from './routes/post-order.js';
import { sameSecret, TradeUpdateStream, type StreamAuth } from './stream.js';

export interface BrokerSimDeps {
  clock: Clock;
  logger: Logger;
  prices: PriceSource;
  config?: BrokerSimConfig;
  metrics?: Metrics;
}

export interface BrokerSimApp {
  app: FastifyInstance;
  sim: BrokerSim;
  /** The `/stream` WebSocket endpoint, already serving `app.server`. */
  stream: TradeUpdateStream;
  faults: Faults;
  /** Serves `/stream` on another HTTP server too (e.g. when the app is mounted elsewhere). */
  attachStream(server: Server): () => void;
}

/** The simulated Alpaca broker as a Kestrel service: REST under /v2, trade_updates at /stream, /admin for tests. */
export async function buildBrokerSimApp(deps: BrokerSimDeps): Promise<BrokerSimApp> {
  const config = deps.config ?? {};
  if (Boolean(config.apiKeyId) !== Boolean(config.apiSecretKey)) throw new InputError('broker sim: set both apiKeyId and apiSecretKey, or neither', 'bad_config');
  const auth: StreamAuth | null = config.apiKeyId && config.apiSecretKey ? { keyId: config.apiKeyId, secretKey: config.apiSecretKey } : null;

  const { app, metrics } = await createServiceApp({
    name: 'broker-sim',
    version: '1',
    logger: deps.logger,
    metrics: deps.metrics,
    description: 'Simulated broker speaking a subset of Alpaca Trading API v2 (REST + trade_updates stream).',
  });
  const sim = new BrokerSim({ clock: deps.clock, logger: deps.logger, prices: deps.prices }, config);
  const faults = new Faults();
  const clients = metrics.gauge('broker_sim_stream_clients', 'connected trade_updates clients');
  const updates = metrics.counter('broker_sim_trade_updates_total', 'trade updates emitted', ['event']);
  sim.onTradeUpdate((u) => updates.inc({ event: u.event }));
  const stream = new TradeUpdateStream({ sim, logger: deps.logger, auth, onClientCount: (n) => clients.set(n) });
  stream.attach(app.server);
  const ctx: SimContext = { sim, faults, stream, clock: deps.clock, metrics };

  const authorized = (headers: Record<string, string | string[] | undefined>) => {
    if (!auth) return true;
    const key = headers['apca-api-key-id'];
    const secret = headers['apca-api-secret-key'];
    return typeof key === 'string' && typeof secret === 'string' && sameSecret(key, auth.keyId) && sameSecret(secret, auth.secretKey);
  };

  await app.register(
    async (v2) => {
      v2.addHook('onRequest', async (req) => {
        if (!authorized(req.headers)) throw new AlpacaApiError(401, CODES.unauthorized, 'request is not authorized');
      });
      v2.setErrorHandler((err: FastifyError | Error, req, reply) => {
        if (err instanceof AlpacaApiError) return reply.status(err.statusCode).send(err.body());
        const fe = err as FastifyError;
        if (fe.validation) return reply.status(422).send({ code: CODES.invalid, message: fe.message });
        if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
          return reply.status(400).send({ code: CODES.malformed, message: 'request body format is invalid' });
        }
        if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return reply.status(fe.statusCode).send({ code: fe.statusCode * 100_000, message: fe.message });
        req.log.error({ err }, 'broker sim: unhandled error');
        return reply.status(500).send({ code: CODES.internal, message: 'internal server error' });
      });
      v2.setNotFoundHandler((_req, reply) => reply.status(404).send({ code: CODES.notFound, message: 'endpoint not found' }));
      registerPostOrder(v2, ctx);
      registerListOrders(v2, ctx);
      registerGetOrderByClientId(v2, ctx);
      registerGetOrder(v2, ctx);
      registerCancelOrder(v2, ctx);
      registerCancelAllOrders(v2, ctx);
      registerListPositions(v2, ctx);
      registerGetPosition(v2, ctx);
      registerGetAccount(v2, ctx);
      registerGetClock(v2, ctx);
    },
    { prefix: '/v2' },
  );

  await app.register(async (admin) => {
    admin.addHook('onRequest', async (req) => {
      if (!authorized(req.headers)) throw new HttpError(401, 'unauthorized', 'send the APCA-API-KEY-ID and APCA-API-SECRET-KEY headers');
    });
    registerAdminPrices(admin, ctx);
    registerAdminReset(admin, ctx);
    registerAdminFaults(admin, ctx);
  });

  app.addHook('preClose', async () => {
    faults.clear();
    await stream.close();
    sim.close();
  });

  return { app, sim, stream, faults, attachStream: (server) => stream.attach(server) };
}
