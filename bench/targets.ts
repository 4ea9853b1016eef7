/**
 * A bench target in its own process (see bench/lib.ts for why): `node --import tsx bench/targets.ts <kind>`.
 *   app    our API, built by the same buildApp as production and tests
 *   hello  a bare Fastify hello-world: GET / → {"hello":"world"}
 *   pg-pk  a bare Fastify + pg primary-key route: GET /items/:id → one row of bench_items
 * Listens on a free loopback port, prints "listening <port>", closes on SIGTERM.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApp } from '../api/app.js';
import { loadConfig } from '../shared/config.js';

async function target(kind: string): Promise<FastifyInstance> {
  const config = loadConfig(process.env);
  if (kind === 'app') return await buildApp(config);
  const app = Fastify({ logger: false });
  if (kind === 'hello') {
    app.get('/', async () => ({ hello: 'world' }));
    return app;
  }
  if (kind === 'pg-pk') {
    const pool = new pg.Pool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE });
    app.get<{ Params: { id: string } }>('/items/:id', async (request, reply) => {
      const { rows } = await pool.query('SELECT id, name, price FROM bench_items WHERE id = $1', [
        Number(request.params.id),
      ]);
      return rows[0] ?? reply.code(404).send({ error: 'not found' });
    });
    app.addHook('onClose', () => pool.end());
    return app;
  }
  throw new Error(`unknown bench target "${kind}" (app, hello, pg-pk)`);
}

const app = await target(process.argv[2] ?? '');
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
console.log(`listening ${typeof address === 'object' && address ? address.port : 0}`);
// The bench runner asks for this process's CPU time before and after a measurement (cpu µs per request).
process.on('message', (message) => {
  if (message === 'cpu-usage') process.send?.(process.cpuUsage());
});
process.once('SIGTERM', () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
