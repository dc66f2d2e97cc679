import { createServer } from 'node:net';
import { FailureError } from '../core/errors.js';

/**
 * Listening for `kestrel up` / `kestrel serve`: a port that cannot be bound stops the command at
 * once with one line naming the port and the variable that sets it (exit 1), instead of a stack
 * trace — and the caller closes what it had started, so nothing keeps running.
 */
export interface PortSpec {
  port: number;
  host: string;
  /** The variable (or flag) that sets this port: GATEWAY_PORT, --port, … */
  setting: string;
}

export function portError(e: unknown, p: PortSpec): Error {
  const code = (e as { code?: string }).code;
  if (code === 'EADDRINUSE') return new FailureError(`port ${p.port} (${p.setting}) on ${p.host} is in use — stop the other process or set ${p.setting}`, 'port_in_use');
  if (code === 'EACCES') return new FailureError(`port ${p.port} (${p.setting}) on ${p.host}: permission denied — use a port above 1023 or set ${p.setting}`, 'port_denied');
  if (code === 'EADDRNOTAVAIL') return new FailureError(`cannot listen on ${p.host}:${p.port}: no such local address — set HOST to an address of this machine`, 'bad_host');
  return e instanceof Error ? e : new Error(String(e));
}

/** Binds and releases each port (port 0 = any: nothing to check), so a busy one fails before anything starts. */
export async function assertPortsFree(ports: readonly PortSpec[]): Promise<void> {
  for (const p of ports) {
    if (p.port === 0) continue;
    await new Promise<void>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', (e) => reject(portError(e, p)));
      srv.listen({ port: p.port, host: p.host, exclusive: true }, () => srv.close(() => resolve()));
    });
  }
}

/** `app.listen`, with a busy/forbidden port reported as portError says. */
export async function listenOn(app: { listen(o: { port: number; host: string }): Promise<unknown> }, p: PortSpec): Promise<void> {
  try {
    await app.listen({ port: p.port, host: p.host });
  } catch (e) {
    throw portError(e, p);
  }
}
