import { spawn } from 'node:child_process';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import t from 'tap';
import { buildApp } from '../../api/app.js';
import { loadConfig, repoRoot } from '../../shared/config.js';
import { MigrationsBehindError } from '../../shared/db/migrate.js';
import { startWorker } from '../../worker/main.js';
import { ADMIN_URL, eventually, testEnv } from '../support/harness.js';

const { config, db } = await testEnv(t);
const latest = await db
  .selectFrom(sql<{ name: string }>`kysely_migration`.as('m'))
  .select('name')
  .orderBy('name', 'desc')
  .executeTakeFirstOrThrow();
// The database as it was before the newest migration was applied (its row gone = not applied).
await sql`DELETE FROM kysely_migration WHERE name = ${latest.name}`.execute(db);

const connectionsFrom = async (database: string, apps: string[]) => {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    const res = await admin.query<{ n: string }>(
      'SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = ANY($2)',
      [database, apps],
    );
    return Number(res.rows[0]?.n);
  } finally {
    await admin.end();
  }
};
const dbName = new URL(config.DATABASE_URL).pathname.slice(1);

t.test('buildApp refuses a database whose migrations are behind, and says what to run', async (t) => {
  const error = await buildApp(config).then(
    async (app) => {
      await app.close();
      return undefined;
    },
    (err: unknown) => err,
  );
  t.type(error, MigrationsBehindError);
  t.match((error as Error).message, /npm run migrate/);
  t.match((error as Error).message, latest.name, 'the missing migration is named');
  t.same((error as MigrationsBehindError).pending, [latest.name]);
  await eventually(async () => (await connectionsFrom(dbName, ['agape-api'])) === 0);
  t.pass('its pool is closed');
});

t.test('startWorker refuses it too and leaves nothing open', async (t) => {
  const error = await startWorker(config, { port: 0, schedules: false }).then(
    async (w) => {
      await w.close();
      return undefined;
    },
    (err: unknown) => err,
  );
  t.type(error, MigrationsBehindError);
  t.match((error as Error).message, /Run `npm run migrate`/);
  await eventually(async () => (await connectionsFrom(dbName, ['agape-worker'])) === 0);
  t.pass('its pool is closed');
});

t.test('a database never migrated is refused with every migration named', async (t) => {
  const blank = `agape_blank_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${blank}`);
  t.teardown(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${blank} WITH (FORCE)`);
    await admin.end();
  });
  const url = new URL(ADMIN_URL);
  url.pathname = `/${blank}`;
  const error = await buildApp(loadConfig({ ...config, DATABASE_URL: url.toString() } as unknown as Record<string, string>)).then(
    () => undefined,
    (err: unknown) => err,
  );
  t.type(error, MigrationsBehindError);
  t.ok((error as MigrationsBehindError).pending.length >= 5, `${(error as MigrationsBehindError).pending.length} pending`);
});

t.test('the api and worker processes exit 1 with the message', async (t) => {
  const run = (file: string) =>
    new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(repoRoot, 'node_modules/tsx/dist/cli.mjs'), file], {
        cwd: repoRoot,
        env: {
          PATH: process.env.PATH ?? '',
          NODE_ENV: 'test',
          DATABASE_URL: config.DATABASE_URL,
          REDIS_URL: config.REDIS_URL,
          QUEUE_PREFIX: config.QUEUE_PREFIX,
          PORT: '0',
          WORKER_PORT: '0',
          HOST: '127.0.0.1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, output });
      });
    });
  const [api, worker] = await Promise.all([run('api/server.ts'), run('worker/main.ts')]);
  t.equal(api.code, 1, 'api exits 1');
  t.match(api.output, /The database is behind: 1 migration\(s\) not applied .*Run `npm run migrate`\./);
  t.equal(worker.code, 1, 'worker exits 1');
  t.match(worker.output, /npm run migrate/);
});
