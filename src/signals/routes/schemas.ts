import { ErrorSchema } from '../../observability/http-app.js';

/** Schemas shared by the signal service's routes (route-specific ones live beside their routes). */

export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorSchema]));
export const BEARER = [{ bearer: [] }];

export const ModelRefSchema = {
  type: 'object',
  properties: { name: { type: 'string', example: 'alpha158-gbdt' }, version: { type: 'integer', example: 3 } },
  required: ['name', 'version'],
} as const;

export const NullableModelRefSchema = { ...ModelRefSchema, type: ['object', 'null'] } as const;
