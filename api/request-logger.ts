import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, FastifyChildLoggerFactory } from 'fastify/types/logger.js';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type LevelValues = Record<string, number>;

/**
 * `request.log` that becomes a pino child only when something logs at a level that is on. Fastify makes a child
 * logger for every request, and pino runs the child's bindings (the request id) through the redaction of every
 * wildcard path: ~4% of a /health/live request's CPU (issue 16), for a logger most requests never write to at
 * `warn`. Once written to (or asked for its level to change, or for a child) it is that very pino child, so
 * every line it writes is the one the eager child would have written.
 */
class LazyRequestLogger {
  #child: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly opts: ChildLoggerOptions,
    private readonly values: LevelValues,
    private readonly threshold: number,
  ) {}

  private real(): FastifyBaseLogger {
    return (this.#child ??= this.parent.child(this.bindings, this.opts));
  }

  private write(level: Level, args: [unknown, string?, ...unknown[]]): void {
    if (this.#child === undefined && this.values[level] < this.threshold) return;
    this.real()[level](...args);
  }

  get level(): string {
    return this.#child?.level ?? this.opts.level ?? this.parent.level;
  }

  set level(level: string) {
    this.real().level = level;
  }

  fatal(...args: [unknown, string?, ...unknown[]]) {
    this.write('fatal', args);
  }
  error(...args: [unknown, string?, ...unknown[]]) {
    this.write('error', args);
  }
  warn(...args: [unknown, string?, ...unknown[]]) {
    this.write('warn', args);
  }
  info(...args: [unknown, string?, ...unknown[]]) {
    this.write('info', args);
  }
  debug(...args: [unknown, string?, ...unknown[]]) {
    this.write('debug', args);
  }
  trace(...args: [unknown, string?, ...unknown[]]) {
    this.write('trace', args);
  }
  silent() {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real().child(bindings, options);
  }
}

/**
 * Fastify's child-logger factory, lazily (see LazyRequestLogger). Anything but a pino parent, or child options
 * other than a level (a route's `logLevel`), gets the eager child as before.
 */
export const lazyRequestLogger: FastifyChildLoggerFactory = function lazyRequestLogger(logger, bindings, opts) {
  const values = (logger as { levels?: { values?: LevelValues } }).levels?.values;
  const level = opts.level ?? logger.level;
  const threshold = level === 'silent' ? Number.POSITIVE_INFINITY : values?.[level];
  for (const key in opts) if (key !== 'level') return logger.child(bindings, opts);
  if (values === undefined || threshold === undefined) return logger.child(bindings, opts);
  return new LazyRequestLogger(logger, bindings, opts, values, threshold);
};
