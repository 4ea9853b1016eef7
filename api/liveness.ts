import { createServer, type ServerOptions as HttpServerOptions, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyServerFactory } from 'fastify';

/** What Fastify's options say about the server it would make (see getServerInstance in fastify/lib/server.js). */
interface ServerOptions {
  http?: HttpServerOptions;
  keepAliveTimeout: number;
  requestTimeout: number;
  connectionTimeout: number;
  maxRequestsPerSocket: number;
}

/** Headers that belong to one exchange, not to the answer: made afresh for each (or by Node). */
const PER_EXCHANGE = new Set(['x-request-id', 'date', 'connection', 'keep-alive', 'transfer-encoding']);

/**
 * `GET /health/live` answered by the HTTP server itself, ahead of Fastify (issue 16).
 *
 * The answer never changes while the process runs, and a probe that hits it every few seconds on every replica
 * only asks "does the event loop answer?": routing, hooks and a reply object add nothing to that. So the Fastify
 * route stays the definition (its schema, the docs, `inject` in tests) and, once the server listens, its answer
 * is learnt from it once: the same status, headers (security headers, content type and length) and body, with a
 * request id of its own per answer. Until it is learnt, while the app closes (Fastify's 503), with an `Origin`
 * (CORS headers) and for anything but that exact path and method, the request goes to Fastify as usual.
 * Answers given here are not counted in `http_request_duration_seconds`.
 */
export class LivenessShortcut {
  /** Flat header list ([name, value, …]) without the request id, which goes at the end of each answer's copy. */
  private headers: string[] | undefined;
  private body = '';
  private status = 200;

  constructor(
    private readonly path: string,
    private readonly requestId: (header: string | string[] | undefined) => string,
  ) {}

  /** Fastify's `serverFactory`: the server Fastify would make (same timeouts), with the shortcut in front. */
  readonly serverFactory: FastifyServerFactory = (handler, fastifyOptions) => {
    // Fastify hands over its options with its defaults filled in.
    const options = fastifyOptions as unknown as ServerOptions;
    const server: Server = createServer(options.http ?? {}, (req, res) => {
      if (!this.answer(req, res)) handler(req, res);
    });
    server.keepAliveTimeout = options.keepAliveTimeout;
    server.requestTimeout = options.requestTimeout;
    server.setTimeout(options.connectionTimeout);
    if (options.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = options.maxRequestsPerSocket;
    return server;
  };

  /** Learns the answer from the route (call once the app is ready). */
  async learn(app: FastifyInstance): Promise<void> {
    const res = await app.inject({ method: 'GET', url: this.path });
    const headers: string[] = [];
    for (const [name, value] of Object.entries(res.headers)) {
      if (PER_EXCHANGE.has(name) || typeof value !== 'string') continue;
      headers.push(name, value);
    }
    this.status = res.statusCode;
    this.body = res.body;
    this.headers = headers;
  }

  /** From now on every request goes to Fastify (it answers 503 while closing). */
  stop(): void {
    this.headers = undefined;
  }

  private answer(req: IncomingMessage, res: ServerResponse): boolean {
    const headers = this.headers;
    if (headers === undefined || req.url !== this.path || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    // A cross-origin request may get CORS headers the learnt answer does not have.
    if (req.headers.origin !== undefined) return false;
    const list = headers.slice();
    list.push('x-request-id', this.requestId(req.headers['x-request-id']));
    res.writeHead(this.status, list);
    // Node leaves the body out of a HEAD answer and keeps its content-length, as Fastify's HEAD route does.
    res.end(this.body);
    return true;
  }
}
