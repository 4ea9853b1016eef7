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

/**
 * Security headers (helmet's, as configured) on every response, error answers included, for the price of one
 * synchronous hook. Pages that need their own policy (the docs, the queue dashboard) set it themselves.
 */
export default fp(
  async function securityHeaders(app: FastifyInstance, options: FastifyHelmetOptions) {
    const headers = await helmetHeaders(options);
    const names = Object.keys(headers);
    const values = names.map((n) => headers[n]);
    app.addHook('onRequest', (_request, reply, done) => {
      for (let i = 0; i < names.length; i++) reply.header(names[i], values[i]);
      done();
    });
  },
  { name: 'security-headers' },
);
