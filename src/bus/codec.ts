import { endianness } from 'node:os';
import { InputError } from '../core/errors.js';
import { BusDecodeError } from './types.js';

/**
 * Value codecs shared by both bus implementations. Float64 vectors travel as raw
 * little-endian IEEE-754 bytes (8 per element, no header): compact, and on little-endian
 * machines (x86, ARM) both directions avoid copying where memory layout allows.
 */
const LITTLE_ENDIAN = endianness() === 'LE';

/** The bytes of `v`: a view sharing its memory on little-endian hosts, a byte-swapped copy otherwise. */
export function f64ToBuffer(v: Float64Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  const out = Buffer.allocUnsafe(v.byteLength);
  for (let i = 0; i < v.length; i++) out.writeDoubleLE(v[i]!, i * 8);
  return out;
}

/**
 * A Float64Array over `buf`. Zero-copy when the bytes are 8-byte aligned and `buf` does not
 * pin a much larger allocation (a small vector sliced out of a 64 KiB socket chunk would keep
 * the whole chunk alive as long as the vector lives); one copy otherwise.
 */
export function bufferToF64(buf: Buffer, key: string): Float64Array {
  if (buf.byteLength % 8 !== 0) throw new BusDecodeError(`value of ${key} is ${buf.byteLength} bytes, not a Float64 vector (multiple of 8)`);
  const n = buf.byteLength / 8;
  if (!LITTLE_ENDIAN) {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = buf.readDoubleLE(i * 8);
    return out;
  }
  if (buf.byteOffset % 8 === 0 && buf.buffer.byteLength <= 2 * buf.byteLength + 64) return new Float64Array(buf.buffer, buf.byteOffset, n);
  const out = new Float64Array(n);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

export function decodeJson<T>(raw: string | null, key: string): T | null {
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as T;
  } catch (e) {
    throw new BusDecodeError(`value of ${key} is not JSON (${(e as Error).message})`);
  }
}

export function encodeJson(value: unknown, key: string): string {
  const s = JSON.stringify(value);
  if (s === undefined) throw new InputError(`cannot store ${typeof value} as JSON at ${key}`);
  return s;
}

/** TTL seconds (fractions allowed) → whole milliseconds ≥ 1; undefined means "no expiry". */
export function ttlMs(ttlSeconds: number | undefined): number | undefined {
  if (ttlSeconds === undefined) return undefined;
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) throw new InputError(`ttlSeconds must be a positive number of seconds, got ${ttlSeconds}`);
  return Math.max(1, Math.round(ttlSeconds * 1000));
}

export function checkName(kind: string, name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new InputError(`${kind} name must be a non-empty string`);
}

/** Copies a value into a Buffer the store owns (callers may reuse their arrays). */
export function ownedBuffer(v: string | Buffer): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v);
}
