import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * One Prometheus registry per service instance (no global registry: several services can
 * share a process under `kestrel up`). Metric names are prefixed `kestrel_`.
 */
export interface Metrics {
  registry: Registry;
  counter(name: string, help: string, labelNames?: readonly string[]): Counter<string>;
  gauge(name: string, help: string, labelNames?: readonly string[]): Gauge<string>;
  histogram(name: string, help: string, labelNames?: readonly string[], buckets?: number[]): Histogram<string>;
}

export function createMetrics(service: string, opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'kestrel_' });
  const existing = <T>(name: string) => registry.getSingleMetric(`kestrel_${name}`) as T | undefined;
  return {
    registry,
    counter: (name, help, labelNames = []) => existing<Counter<string>>(name) ?? new Counter({ name: `kestrel_${name}`, help, labelNames, registers: [registry] }),
    gauge: (name, help, labelNames = []) => existing<Gauge<string>>(name) ?? new Gauge({ name: `kestrel_${name}`, help, labelNames, registers: [registry] }),
    histogram: (name, help, labelNames = [], buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]) =>
      existing<Histogram<string>>(name) ?? new Histogram({ name: `kestrel_${name}`, help, labelNames, buckets, registers: [registry] }),
  };
}
