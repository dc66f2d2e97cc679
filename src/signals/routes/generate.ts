import type { FastifyInstance } from 'fastify';
import type { SignalsRequest } from '../types.js';
import type { RouteDeps } from './deps.js';
import { BEARER, errors, ModelRefSchema } from './schemas.js';
import { TIE_BREAK_RULE } from '../ranking.js';

export const GENERATE_EXAMPLE = {
  as_of_date: '2020-01-10',
  model: { name: 'alpha158-gbdt', version: 3, label: 'return' },
  generated_at: '2020-01-10T21:15:00.000Z',
  timezone: 'UTC',
  signals: [
    { symbol: 'AAPL', predicted_return: 0.4127, rank: 1, target_weight: 0.5 },
    { symbol: 'MSFT', predicted_return: 0.2011, rank: 2, target_weight: 0.5 },
    { symbol: 'JPM', predicted_return: -0.0132, rank: 3, target_weight: 0 },
    { symbol: 'XOM', predicted_return: -0.3305, rank: 4, target_weight: -1 },
  ],
  missing: ['TWTR'],
  cache: { hits: 3, misses: 1 },
  ties: { symbols: 0, share: 0 },
};

export const generateSchema = {
  tags: ['signals'],
  summary: 'score symbols on a date with the production model: predicted return, rank, long/short target weight',
  description:
    'Features come from the data store (last 70 adjusted bars up to as_of_date) through the Redis feature cache `features:{symbol}:{date}`. ' +
    `Longs: ranks 1..top_n at +1/top_n each; shorts: the last bottom_n ranks at −1/bottom_n each (gross per side configurable); equal scores ranked by ${TIE_BREAK_RULE} (\`ties\` says how many symbols share a score: a high share means a weak model). ` +
    '`model.label` is what the model predicts (`return`: the next-day return; `abs_return`: its size, i.e. volatility — not a return forecast). ' +
    'After answering, `signals.generated` is appended to the stream. ' +
    '400: malformed body; 422: bad or too recent date (`bad_date`, `date_out_of_range`), unknown symbols (`unknown_symbols`), no bars on the date (`no_data`), top_n + bottom_n above the symbols scored (`too_few_symbols`); ' +
    '503: no production model (`no_model`: run `kestrel train`) or no data (`no_data`: run `kestrel etl`).',
  security: BEARER,
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['as_of_date', 'top_n', 'bottom_n'],
    properties: {
      as_of_date: { type: 'string', minLength: 1, maxLength: 32, description: 'trading date whose closing data the features use (YYYY-MM-DD, not after the last stored date)', examples: ['2020-01-10'] },
      symbols: {
        type: 'array',
        minItems: 1,
        maxItems: 10_000,
        uniqueItems: true,
        items: { type: 'string', minLength: 1, maxLength: 16 },
        description: 'default: every symbol with a bar on as_of_date; requested symbols without a bar that day are listed in `missing`',
        examples: [['AAPL', 'MSFT', 'JPM', 'XOM', 'TWTR']],
      },
      top_n: { type: 'integer', minimum: 0, maximum: 100_000, description: 'number of longs (0 = none)', examples: [2] },
      bottom_n: { type: 'integer', minimum: 0, maximum: 100_000, description: 'number of shorts (0 = none)', examples: [1] },
    },
    examples: [
      { as_of_date: '2020-01-10', symbols: ['AAPL', 'MSFT', 'JPM', 'XOM', 'TWTR'], top_n: 2, bottom_n: 1 },
      { as_of_date: '2020-01-10', top_n: 50, bottom_n: 50 },
    ],
  },
  response: {
    200: {
      type: 'object',
      properties: {
        as_of_date: { type: 'string' },
        model: {
          ...ModelRefSchema,
          properties: { ...ModelRefSchema.properties, label: { type: 'string', description: 'what the model was trained to predict: return | abs_return', example: 'return' } },
          required: ['name', 'version', 'label'],
        },
        generated_at: { type: 'string', description: 'UTC ISO-8601' },
        timezone: { type: 'string', enum: ['UTC'] },
        signals: {
          type: 'array',
          description: 'every scored symbol, best first',
          items: {
            type: 'object',
            properties: {
              symbol: { type: 'string' },
              predicted_return: { type: 'number', description: "the model's score (z-scored next-day return it predicts)" },
              rank: { type: 'integer', description: '1 = best' },
              target_weight: { type: 'number', description: '+1/top_n for longs, −1/bottom_n for shorts, 0 otherwise (× gross per side)' },
            },
            required: ['symbol', 'predicted_return', 'rank', 'target_weight'],
          },
        },
        missing: { type: 'array', items: { type: 'string' }, description: 'requested symbols without a bar on as_of_date (skipped)' },
        cache: {
          type: 'object',
          properties: { hits: { type: 'integer' }, misses: { type: 'integer' } },
          required: ['hits', 'misses'],
        },
        ties: {
          type: 'object',
          description: `scored symbols whose score equals another's (ranked by ${TIE_BREAK_RULE}) and their share of all scored`,
          properties: { symbols: { type: 'integer' }, share: { type: 'number' } },
          required: ['symbols', 'share'],
        },
      },
      required: ['as_of_date', 'model', 'generated_at', 'timezone', 'signals', 'missing', 'cache', 'ties'],
      example: GENERATE_EXAMPLE,
    },
    ...errors(400, 401, 413, 422, 503),
  },
} as const;

export function registerGenerate(app: FastifyInstance, d: RouteDeps): void {
  app.post('/api/v1/signals/generate', { schema: generateSchema, onRequest: d.guard }, async (req) => d.runtime.generate(req.body as SignalsRequest));
}
