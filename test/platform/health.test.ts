import net from 'node:net';
import t, { type Test } from 'tap';
import { loadConfig } from '../../shared/config.js';
import { buildTestApp, eventually, startTestWorker, testEnv, tokenFor } from '../support/harness.js';

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A server that accepts connections and never answers: what a hung dependency looks like. */
async function silentServer(t: Test): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

const { config } = await testEnv(t);
const withUrl = (overrides: Record<string, string>) => loadConfig({ ...config, ...overrides } as unknown as Record<string, string>);

t.test('live and ready answer 200 when Postgres and Redis are up', async (t) => {
  const app = await buildTestApp(t, config);
  const live = await app.inject({ url: '/health/live' });
  t.equal(live.statusCode, 200);
  t.same(live.json(), { status: 'ok' });
  const ready = await app.inject({ url: '/health/ready' });
  t.equal(ready.statusCode, 200);
  t.same(ready.json(), { status: 'ok', checks: { postgres: 'ok', redis: 'ok' }, failing: [] });
});

const broken = [
  { name: 'postgres', how: 'refused', url: async () => `postgres://postgres@127.0.0.1:${await closedPort()}/nowhere`, key: 'DATABASE_URL' },
  { name: 'postgres', how: 'hung', url: async (t: Test) => `postgres://postgres@127.0.0.1:${await silentServer(t)}/nowhere`, key: 'DATABASE_URL' },
  { name: 'redis', how: 'refused', url: async () => `redis://127.0.0.1:${await closedPort()}`, key: 'REDIS_URL' },
  { name: 'redis', how: 'hung', url: async (t: Test) => `redis://127.0.0.1:${await silentServer(t)}`, key: 'REDIS_URL' },
] as const;

for (const dep of broken) {
  t.test(`ready is 503 naming ${dep.name} when it is ${dep.how}, within ~2 s`, async (t) => {
    const cfg = withUrl({ [dep.key]: await dep.url(t) });
    const app = await buildTestApp(t, cfg, { skipMigrationCheck: true });
    t.equal((await app.inject({ url: '/health/live' })).statusCode, 200, 'still live');
    const started = Date.now();
    const ready = await app.inject({ url: '/health/ready' });
    const took = Date.now() - started;
    t.equal(ready.statusCode, 503);
    t.match(ready.json(), { status: 'unavailable', failing: [dep.name], checks: { [dep.name]: 'failing' } });
    t.ok(took < 2_500, `answered in ${took} ms`);
  });
}

t.test('the worker serves live, ready and metrics on its own port', async (t) => {
  const worker = await startTestWorker(t, config, { queues: ['system'] });
  const base = `http://127.0.0.1:${worker.port}`;
  t.not(worker.port, 0);
  t.equal((await fetch(`${base}/health/live`)).status, 200);
  const ready = await fetch(`${base}/health/ready`);
  t.equal(ready.status, 200);
  t.match(await ready.json(), { ok: true, failing: [] });

  const app = await buildTestApp(t, config);
  const res = await app.inject({ method: 'POST', url: '/api/v1/system/ping', headers: { authorization: tokenFor(app, 'admin') }, payload: { message: 'm' } });
  t.equal(res.statusCode, 202);
  const metric = (text: string, line: RegExp) => Number(line.exec(text)?.[1] ?? NaN);
  const text = await eventually(async () => {
    const body = await (await fetch(`${base}/metrics`)).text();
    return metric(body, /^agape_jobs_total\{queue="system",name="system.ping",outcome="completed"\} (\d+)$/m) === 1 ? body : '';
  });
  t.equal(metric(text, /^agape_queue_jobs\{queue="system",state="completed"\} (\d+)$/m), 1, 'queue depth gauge by state');
  t.equal(metric(text, /^agape_queue_jobs\{queue="email",state="waiting"\} (\d+)$/m), 0, 'every catalogue queue is reported');
  t.equal(metric(text, /^agape_job_duration_seconds_count\{queue="system",name="system.ping"\} (\d+)$/m), 1, 'job duration histogram');
  t.match(text, /^agape_queue_oldest_waiting_seconds\{queue="system"\} 0$/m);
  t.match(text, /^process_cpu_user_seconds_total /m, 'default process metrics');
});

t.test('a worker started while Redis is unreachable runs and says it is not ready', async (t) => {
  const cfg = withUrl({ REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
  const worker = await startTestWorker(t, cfg, { queues: ['system'] });
  const ready = await fetch(`http://127.0.0.1:${worker.port}/health/ready`);
  t.equal(ready.status, 503);
  t.match(await ready.json(), { ok: false, failing: ['redis'] });
  t.equal((await fetch(`http://127.0.0.1:${worker.port}/health/live`)).status, 200);
  const started = Date.now();
  await worker.close();
  t.ok(Date.now() - started < 2_000, `and still shuts down promptly (${Date.now() - started} ms)`);
});
