import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import pino from 'pino';
import type { Test } from 'tap';
import { buildApp, type BuildAppOptions } from '../../api/app.js';
import { loadConfig, type Config } from '../../shared/config.js';
import { createDb, type Db } from '../../shared/db/index.js';
import { migrateToLatest, migrationFolder } from '../../shared/db/migrate.js';
import { redactPaths } from '../../shared/logger.js';
import { createRedis } from '../../shared/redis.js';
import { startWorker, type StartWorkerOptions } from '../../worker/main.js';

export const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const dbUrl = (name: string) => {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
};

/** Template name from the migrations' content: a changed migration makes a new template, unchanged reuses it. */
function templateName(): string {
  const hash = createHash('sha256');
  for (const f of readdirSync(migrationFolder).sort()) {
    hash.update(f);
    hash.update(readFileSync(path.join(migrationFolder, f)));
  }
  return `agape_tpl_${hash.digest('hex').slice(0, 12)}`;
}

async function withAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, application_name: 'agape-test-harness' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * Migrates the template once per migration set. Test files start in parallel, so the build holds an
 * advisory lock keyed by the template's name: a run whose template exists never waits, and runs of other
 * migration sets (another branch on the same server) building theirs never block it.
 */
async function ensureTemplate(): Promise<string> {
  const name = templateName();
  await withAdmin(async (c) => {
    const ready = await c.query('SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate', [name]);
    if (ready.rowCount) return;
    await c.query('SELECT pg_advisory_lock(774411, hashtext($1))', [name]);
    try {
      const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rowCount) return;
      const building = `${name}_build`;
      await c.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${building}`);
      const db = createDb(dbUrl(building), { poolSize: 1 });
      try {
        const { error } = await migrateToLatest(db);
        if (error) throw error instanceof Error ? error : new Error(JSON.stringify(error));
      } finally {
        await db.destroy();
      }
      await c.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
      await c.query(`ALTER DATABASE ${name} WITH is_template = true`);
    } finally {
      await c.query('SELECT pg_advisory_unlock(774411, hashtext($1))', [name]);
    }
  });
  return name;
}

let counter = 0;
const uniq = () => `${process.pid}_${Date.now().toString(36)}_${counter++}`;

/** A fresh database cloned from the migrated template, dropped when the test ends. */
export async function testDatabase(t: Test): Promise<string> {
  const template = await ensureTemplate();
  const name = `agape_t_${uniq()}`;
  for (let attempt = 0; ; attempt++) {
    try {
      await withAdmin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
      break;
    } catch (err) {
      // Another file cloning at the same instant can hold the template briefly.
      if (attempt > 20 || !String((err as Error).message).includes('being accessed')) throw err;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }
  t.teardown(() => withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined));
  return dbUrl(name);
}

/** Deletes every Redis key under a test's prefix. */
async function flushPrefix(prefix: string) {
  const redis = createRedis(REDIS_URL, 'worker', 'agape-test-cleanup');
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export interface TestEnv {
  config: Config;
  /** A direct handle on the test's database, for arranging and asserting. */
  db: Db;
}

/**
 * Gives a test file its own database and its own Redis prefix, so files run in parallel.
 * `env` overrides any configuration variable.
 */
export async function testEnv(t: Test, env: Record<string, string> = {}): Promise<TestEnv> {
  const databaseUrl = await testDatabase(t);
  const prefix = `{t_${uniq()}}`;
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: '10',
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    PUBLIC_URL: 'http://shop.test',
    PAYSTACK_BASE_URL: 'http://127.0.0.1:1',
    MEDIA_DIR: path.join('/tmp', `agape-media-${uniq()}`),
    ...env,
  });
  const db = createDb(config.DATABASE_URL, { poolSize: 5, applicationName: 'agape-test' });
  t.teardown(async () => {
    await db.destroy();
    await flushPrefix(prefix);
  });
  return { config, db };
}

/** Collects every log line an app or worker writes, to assert on (and to grep for secrets). */
export function logCapture(level: pino.Level = 'debug') {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = pino({ level, redact: { paths: redactPaths, censor: '[redacted]' } }, stream);
  return { logger, lines, text: () => lines.join('\n') };
}

export async function buildTestApp(t: Test, config: Config, opts: BuildAppOptions = {}) {
  const app = await buildApp(config, opts);
  t.teardown(() => app.close());
  await app.ready();
  return app;
}

export async function startTestWorker(t: Test, config: Config, opts: StartWorkerOptions = {}) {
  const worker = await startWorker(config, { port: 0, schedules: false, shutdownTimeoutMs: 5_000, ...opts });
  t.teardown(() => worker.close());
  return worker;
}

/** Polls until `fn` returns a truthy value or the time is up (for work that happens in another process). */
export async function eventually<T>(fn: () => Promise<T> | T, { timeoutMs = 10_000, intervalMs = 50 } = {}): Promise<T> {
  const started = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met in ${timeoutMs} ms${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** An access token for a role without an account behind it (the id is made up unless given). */
export function tokenFor(app: { signAccessToken(u: { id: string; role: 'customer' | 'support' | 'manager' | 'admin' }): string }, role: 'customer' | 'support' | 'manager' | 'admin', id = '00000000-0000-4000-8000-000000000001') {
  return `Bearer ${app.signAccessToken({ id, role })}`;
}
