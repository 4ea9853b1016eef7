import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** What a response carries without helmet: left out of the headers learnt from it. */
const BASE_HEADERS = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);

/**
 * The headers helmet sets with these options, learnt once from a throwaway instance. With a fixed
 * configuration they are the same on every response, and @fastify/helmet would rebuild its middleware
 * (every option parsed again) on each request.
 */
async function helmetHeaders(options: FastifyHelmetOptions): Promise<Record<string, string>> {
  const probe = Fastify({ logger: false });
  await probe.register(helmet, options);
  probe.get('/', () => '');
  try {
    const res = await probe.inject('/');
    return Object.fromEntries(
      Object.entries(res.headers)
        .filter(([name, value]) => !BASE_HEADERS.has(name) && typeof value === 'string')
        .map(([name, value]) => [name, value as string]),
    );
  } finally {
    await probe.close();
  }
}

/** Where Fastify keeps a reply's headers until it writes them (found once, on the first request). */
const REPLY_HEADERS = 'fastify.reply.headers';

/**
 * Security headers (helmet's, as configured) on every response, error answers included, for the price of one
 * synchronous hook. Pages that need their own policy (the docs, the queue dashboard) set it themselves.
 *
 * The headers go in as one copy of a prepared object rather than a dozen `reply.header` calls: each call adds
 * a key to the reply's header object at a store site every route shares, which profiled at ~8% of an uncached
 * product detail's CPU (issue 16). Headers already set (the request id) are kept; if Fastify ever stops keeping
 * them where expected, the hook falls back to `reply.header`.
 */
export default fp(
  async function securityHeaders(app: FastifyInstance, options: FastifyHelmetOptions) {
    const headers = await helmetHeaders(options);
    const names = Object.keys(headers);
    const values = names.map((n) => headers[n]);
    let slot: symbol | null | undefined;
    app.addHook('onRequest', (_request, reply, done) => {
      slot ??= Object.getOwnPropertySymbols(reply).find((s) => s.description === REPLY_HEADERS) ?? null;
      const set = slot === null ? undefined : (reply as unknown as Record<symbol, Record<string, unknown> | undefined>)[slot];
      if (slot !== null && set !== undefined) {
        (reply as unknown as Record<symbol, Record<string, unknown>>)[slot] = { ...headers, ...set };
      } else {
        for (let i = 0; i < names.length; i++) reply.header(names[i], values[i]);
      }
      done();
    });
  },
  { name: 'security-headers' },
);
