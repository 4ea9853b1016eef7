/**
 * A bench target in its own process (see bench/lib.ts for why): `node --import tsx bench/targets.ts <kind>`.
 *   app    our API, built by the same buildApp as production and tests
 *   hello  a bare Fastify hello-world: GET / → {"hello":"world"}
 *   pg-pk  a bare Fastify + pg primary-key route: GET /items/:id → one row of bench_items
 *   worker the worker (startWorker, every queue, no schedules): "listening" is its /health port
 * Listens on a free loopback port, prints "listening <port>", closes on SIGTERM.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { loadConfig } from '../shared/config.js';

// Each kind imports only its own code (dynamic imports below): the API target must not carry the worker's
// modules, nor the references the API's, or the RSS figures measure the bench instead of the process.

async function target(kind: string): Promise<FastifyInstance> {
  const config = loadConfig(process.env);
  if (kind === 'app') return await (await import('../api/app.js')).buildApp(config);
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

let close: () => Promise<void>;
if (process.argv[2] === 'worker') {
  const { startWorker } = await import('../worker/main.js');
  const worker = await startWorker(loadConfig(process.env), { port: 0, schedules: false });
  close = () => worker.close();
  console.log(`listening ${worker.port}`);
} else {
  const app = await target(process.argv[2] ?? '');
  await app.listen({ port: 0, host: '127.0.0.1' });
  close = () => app.close();
  const address = app.server.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : 0}`);
}
// The bench runner asks for this process's CPU time before and after a measurement (cpu µs per request),
// and for its memory: RSS now and the peak so far (maxRSS, KiB).
process.on('message', (message) => {
  if (message === 'cpu-usage') process.send?.(process.cpuUsage());
  if (message === 'memory-usage') process.send?.({ ...process.memoryUsage(), maxRss: process.resourceUsage().maxRSS * 1024 });
});
process.once('SIGTERM', () => {
  close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
