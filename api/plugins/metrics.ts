import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { Registry, collectDefaultMetrics, type Metric } from 'prom-client';

declare module 'fastify' {
  interface FastifyInstance {
    /** Per-app registry (tests build many apps in one process); domains add their own metrics to it. */
    metrics: Registry;
  }
}

type Label = 'method' | 'route' | 'status';

/** One label set's counts: per bucket (not cumulative; the last slot is above the largest bound), sum and count. */
/** One line of the exposition, as prom-client's own metrics hand it to the registry. */
interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

interface Series {
  labels: Record<Label, string>;
  buckets: Float64Array;
  sum: number;
  count: number;
}

/**
 * The HTTP duration histogram, counted with a few array increments per response and written out in prom-client's
 * histogram format (`_bucket{le}` cumulative, `_sum`, `_count`) when /metrics is read. prom-client's Histogram
 * validates and hashes the label object and allocates on every observe: ~3 µs of every request (issue 16, a third
 * of what a /health/live answer paid beyond bare Fastify). The registry reads a metric through its `get()`, as
 * it does prom-client's own; the label sets grow with routes × methods × statuses, as they did before.
 */
class DurationHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  /** route → method → status → series. */
  private series = new Map<string, Map<string, Map<number, Series>>>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  observe(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.series.get(route);
    if (byMethod === undefined) this.series.set(route, (byMethod = new Map<string, Map<number, Series>>()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map<number, Series>()));
    let series = byStatus.get(status);
    if (series === undefined) {
      series = { labels: { method, route, status: String(status) }, buckets: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      byStatus.set(status, series);
    }
    const bounds = this.bounds;
    let at = 0;
    while (at < bounds.length && seconds > bounds[at]) at++;
    series.buckets[at]++;
    series.sum += seconds;
    series.count++;
  }

  get(): Promise<{ name: string; help: string; type: 'histogram'; values: Value[]; aggregator: 'sum' }> {
    const values: Value[] = [];
    for (const byMethod of this.series.values()) {
      for (const byStatus of byMethod.values()) {
        for (const { labels, buckets, sum, count } of byStatus.values()) {
          let cumulative = 0;
          for (let i = 0; i < this.bounds.length; i++) {
            cumulative += buckets[i];
            values.push({ labels: { le: this.bounds[i], ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
          }
          values.push({ labels: { le: '+Inf', ...labels }, value: count, metricName: `${this.name}_bucket` });
          values.push({ labels, value: sum, metricName: `${this.name}_sum` });
          values.push({ labels, value: count, metricName: `${this.name}_count` });
        }
      }
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  reset(): void {
    this.series.clear();
  }
}

/** Prometheus: default process metrics and an HTTP duration histogram by route pattern and status. */
export default fp(
  async function metrics(app: FastifyInstance) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const duration = new DurationHistogram(
      'http_request_duration_seconds',
      'HTTP request duration by method, route pattern and status',
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    );
    registry.registerMetric(duration as unknown as Metric);
    app.decorate('metrics', registry);
    // By route pattern, never the raw URL: ids in paths would explode the label set. Each route gets a hook that
    // knows its pattern from `onRoute` (`request.routeOptions` builds and freezes an object on every read); the
    // global hook counts only what matched no route. Synchronous: an async hook costs a promise and a microtask.
    const record = (request: FastifyRequest, reply: FastifyReply, url: string) =>
      duration.observe(request.method, url, reply.statusCode, reply.elapsedTime / 1000);
    const observer = (url: string): onResponseHookHandler => (request, reply, done) => {
      record(request, reply, url);
      done();
    };
    app.addHook('onRoute', (route) => {
      route.onResponse = [observer(route.url), ...(route.onResponse === undefined ? [] : [route.onResponse].flat())];
    });
    app.addHook('onResponse', (request, reply, done) => {
      if (request.is404) record(request, reply, 'unmatched');
      done();
    });
    app.get(
      '/metrics',
      { schema: { hide: true }, logLevel: 'warn' },
      async (_request, reply) => {
        reply.header('content-type', registry.contentType);
        return registry.metrics();
      },
    );
  },
  { name: 'metrics' },
);
