import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Queue } from 'bullmq';
import t, { type Test } from 'tap';
import { publicJwk } from '../../api/plugins/auth.js';
import { repoRoot } from '../../shared/config.js';
import { closeRedis, createRedis } from '../../shared/redis.js';
import { eventually, startTestWorker, testEnv } from '../support/harness.js';
import { jwt } from '../support/jwt.js';

const { config, db } = await testEnv(t);

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Child {
  process: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Runs a TypeScript entrypoint with the test's configuration; killed at the end whatever happens. */
function run(t: Test, file: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, [path.join(repoRoot, 'node_modules/tsx/dist/cli.mjs'), file], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: config.DATABASE_URL,
      REDIS_URL: config.REDIS_URL,
      QUEUE_PREFIX: config.QUEUE_PREFIX,
      JWT_PRIVATE_KEY: config.JWT_PRIVATE_KEY,
      JWT_PUBLIC_KEY: config.JWT_PUBLIC_KEY,
      ENCRYPTION_KEY: config.ENCRYPTION_KEY,
      HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return { process: child, output: () => output, exited };
}

// Both processes start at once: each spends most of its start-up loading TypeScript.
const apiPort = await freePort();
const api = run(t, 'api/server.ts', { PORT: String(apiPort) });
const slowWorker = run(t, 'test/platform/fixtures/slow-worker.ts', { WORKER_PORT: '0' });

const exitWithin = (child: Child, ms: number) =>
  Promise.race([child.exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), ms).unref())]);

t.test('API: SIGTERM finishes the in-flight request, refuses new connections, exits 0', async (t) => {
  const port = apiPort;
  const base = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${base}/health/live`)).ok, { timeoutMs: 120_000, intervalMs: 200 });

  const now = Math.floor(Date.now() / 1000);
  const token = jwt(
    { alg: 'RS256', typ: 'JWT', kid: publicJwk(config.JWT_PUBLIC_KEY).kid },
    { sub: '00000000-0000-4000-8000-000000000001', role: 'admin', iat: now, exp: now + 600 },
    config.JWT_PRIVATE_KEY,
  );
  const body = JSON.stringify({ message: 'in flight during shutdown' });
  const socket = net.connect(port, '127.0.0.1');
  let answer = '';
  socket.on('data', (c: Buffer) => (answer += c.toString()));
  const ended = new Promise((resolve) => socket.on('close', resolve));
  socket.write(
    `POST /api/v1/system/ping HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer ${token}\r\n` +
      `content-type: application/json\r\ncontent-length: ${body.length}\r\nx-request-id: in-flight-1\r\n\r\n` +
      body.slice(0, 10),
  );
  // The server has the request (its onRequest log line) but not yet the whole body.
  await eventually(() => /"requestId":"in-flight-1".*"msg":"incoming request"/.test(api.output()), { timeoutMs: 30_000 });

  api.process.kill('SIGTERM');
  // Generous: on a loaded machine the child can take a while to get scheduled.
  await eventually(() => api.output().includes('"msg":"shutting down"'), { timeoutMs: 30_000 }).catch((err: unknown) => {
    t.comment(api.output().slice(-3000));
    throw err;
  });
  await eventually(async () => {
    try {
      await fetch(`${base}/health/live`);
      return false;
    } catch {
      return true;
    }
  });
  t.pass('new connections are refused');

  socket.write(body.slice(10));
  await ended;
  t.match(answer, /^HTTP\/1\.1 202 /, 'the in-flight request completed with its status');
  const jobId = (JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { jobId: string }).jobId;
  const row = await db.selectFrom('outbox').select(['requestId']).where('id', '=', jobId).executeTakeFirst();
  t.equal(row?.requestId, 'in-flight-1', 'and its work was committed');
  t.equal(await exitWithin(api, 10_000), 0, 'the process exits 0 within 10 s');
});

t.test('worker: SIGTERM while a job runs lets it finish, then exits 0', async (t) => {
  const worker = slowWorker;
  await eventually(() => worker.output().includes('"msg":"worker started"'), { timeoutMs: 120_000, intervalMs: 100 });

  const connection = createRedis(config.REDIS_URL, 'producer', 'shutdown-test');
  const queue = new Queue('test-slow', { connection, prefix: config.QUEUE_PREFIX });
  t.teardown(async () => {
    await queue.close();
    await closeRedis(connection);
  });
  const job = await queue.add('slow', { payload: { ms: 1_500 }, requestId: 'slow-1' });
  await eventually(() => worker.output().includes('"msg":"slow job started"'));

  worker.process.kill('SIGTERM');
  t.equal(await exitWithin(worker, 15_000), 0, 'exits 0');
  t.equal(await job.getState(), 'completed', 'the active job finished');
  t.equal((await queue.getJob(job.id ?? ''))?.returnvalue, 'done');
  const out = worker.output();
  t.ok(out.indexOf('slow job finished') < out.indexOf('"msg":"worker stopped"'), 'before the worker stopped');
  t.match(out, /"requestId":"slow-1".*"msg":"slow job finished"/, 'job logs carry the request id');
});

t.test('worker: shutdown is bounded when a job outlasts the deadline', async (t) => {
  let finished = false;
  const worker = await startTestWorker(t, config, {
    queues: ['system'],
    shutdownTimeoutMs: 300,
    extraQueues: {
      'test-stuck': {
        handlers: {
          stuck: async () => {
            await new Promise((resolve) => setTimeout(resolve, 3_000));
            finished = true;
          },
        },
      },
    },
  });
  const connection = createRedis(config.REDIS_URL, 'producer', 'shutdown-test-2');
  const queue = new Queue('test-stuck', { connection, prefix: config.QUEUE_PREFIX });
  t.teardown(async () => {
    await queue.close();
    await closeRedis(connection);
  });
  const job = await queue.add('stuck', { payload: {} });
  await eventually(async () => (await job.getState()) === 'active');
  const started = Date.now();
  await worker.close();
  const took = Date.now() - started;
  t.ok(took < 2_000, `closed in ${took} ms with a 300 ms deadline`);
  t.notOk(finished, 'without waiting for the stuck job (its lock expires and another worker retries it)');
  t.equal(await job.getState(), 'active');
});
