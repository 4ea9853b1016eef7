/**
 * `npm run dev`: everything on one machine with readable logs.
 *
 *   1. PostgreSQL and Redis: use what answers at DATABASE_URL / REDIS_URL; in development start an
 *      embedded PostgreSQL and a redis-server child when nothing does (else one line says what is missing).
 *   2. Create the database if needed, migrate, seed.
 *   3. Dev stand-ins for outside services (scripts/dev-services.ts `devStandIns`).
 *   4. API and worker as child processes (pretty logs, prefixed), then one `system.ping` through the
 *      outbox so the worker log shows "pong".
 *   Ctrl-C (or SIGTERM) stops the children first, then the stand-ins, then Redis and PostgreSQL.
 *
 * A `.env` file in the repository root, if present, is read first (variables already set win).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { loadConfigOrExit, repoRoot } from '../shared/config.js';
import { createDb } from '../shared/db/index.js';
import { ensureDatabase, migrateToLatest } from '../shared/db/migrate.js';
import { requestPing } from '../shared/system/ping.js';
import { devStandIns, ensureServices, missingLine, type RunningService } from './dev-services.js';
import { runSeed } from './seed.js';

const tty = process.stdout.isTTY;
const paint = (code: number, text: string) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);
const tag = (name: string, color: number) => paint(color, `${name.padEnd(6)} │`);
const say = (message: string) => console.log(`${tag('dev', 35)} ${message}`);

const envFile = path.join(repoRoot, '.env');
if (existsSync(envFile)) {
  process.loadEnvFile(envFile);
  say('read .env');
}
const config = loadConfigOrExit();
const services: RunningService[] = [];
const children = new Map<string, ChildProcess>();
let stopping: Promise<void> | undefined;

/** Stops children (SIGTERM, then SIGKILL after 15 s), stand-ins, then Redis and PostgreSQL, in that order. */
function shutdown(code: number): Promise<void> {
  return (stopping ??= (async () => {
    say('stopping…');
    await Promise.all(
      [...children.values()].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
            child.once('exit', () => {
              clearTimeout(force);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    for (const service of services.reverse()) {
      try {
        await service.stop();
        say(`${service.name} stopped`);
      } catch (err) {
        say(`${service.name} did not stop cleanly: ${(err as Error).message}`);
      }
    }
    say('stopped');
    process.exit(code);
  })());
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(0));
// Last resort if the runner itself crashes: never leave the API or worker running behind it.
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGTERM')));

function startChild(name: string, color: number, entry: string, env: NodeJS.ProcessEnv): ChildProcess {
  // node --import tsx: one process per service (no tsx watcher in between), signals go straight to it.
  // Own process group: the terminal's Ctrl-C reaches only this runner, which then stops it in order.
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: repoRoot,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => console.log(`${tag(name, color)} ${line}`));
  }
  child.once('exit', (code, signal) => {
    if (stopping) return;
    say(`${name} exited (${signal ?? `code ${code}`}); stopping everything`);
    void shutdown(1);
  });
  children.set(name, child);
  return child;
}

async function waitForReady(name: string, url: string, timeoutMs = 90_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (stopping) return;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > timeoutMs)
      throw new Error(`${name} was not ready at ${url} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main() {
  // 1. PostgreSQL and Redis
  const ensured = await ensureServices({
    databaseUrl: config.DATABASE_URL,
    redisUrl: config.REDIS_URL,
    development: config.NODE_ENV === 'development',
    dataDir: path.join(repoRoot, '.data'),
    log: say,
  });
  services.push(...ensured.started);
  if (ensured.missing.length) {
    console.error(missingLine(ensured.missing));
    return shutdown(1);
  }

  // 2. Database, migrations, seed
  if (await ensureDatabase(config.DATABASE_URL))
    say(`created database ${new URL(config.DATABASE_URL).pathname.slice(1)}`);
  const db = createDb(config.DATABASE_URL, { poolSize: 4, applicationName: 'agape-dev' });
  try {
    const { error, results } = await migrateToLatest(db);
    for (const r of results ?? []) say(`migration ${r.migrationName}: ${r.status}`);
    if (error) throw error instanceof Error ? error : new Error(JSON.stringify(error));
    // A refusal (ADMIN_EMAIL is another account) changes nothing: say so loudly and keep the shop running;
    // `npm run seed` (deployments) exits 1 on it instead.
    await runSeed({ db, config, log: say, args: [] }, undefined, { onRefusal: (message) => say(paint(31, message)) });

    // 3. Dev stand-ins for outside services
    const standInEnv: Record<string, string> = {};
    for (const standIn of devStandIns) {
      const running = await standIn.start({ config, log: (m) => say(`${standIn.name}: ${m}`) });
      if (!running) continue;
      services.push(running);
      Object.assign(standInEnv, running.env);
      say(`${standIn.name} started${running.env ? ` (${Object.keys(running.env).join(', ')})` : ''}`);
    }

    // 4. API and worker
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...standInEnv,
      ...(config.NODE_ENV === 'production' ? {} : { LOG_PRETTY: 'true' }),
      ...(tty ? { FORCE_COLOR: '1' } : {}),
    };
    startChild('api', 36, 'api/server.ts', env);
    startChild('worker', 33, 'worker/main.ts', env);
    const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
    const api = `http://${host}:${config.PORT}`;
    await Promise.all([
      waitForReady('api', `${api}/health/ready`),
      waitForReady('worker', `http://${host}:${config.WORKER_PORT}/health/ready`),
    ]);
    if (stopping) return;

    const { jobId } = await requestPing(db, 'hello from npm run dev');
    say(`sent system.ping (job ${jobId}) through the outbox: look for "pong" in the worker log`);
    say(
      [
        `ready: API ${api}`,
        `docs ${api}/docs`,
        `metrics ${api}/metrics`,
        `queues ${api}/admin/queues`,
        `worker metrics http://${host}:${config.WORKER_PORT}/metrics`,
        'Ctrl-C stops everything',
      ].join(' · '),
    );
  } finally {
    await db.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(`${tag('dev', 35)} failed: ${err instanceof Error ? err.message : String(err)}`);
  void shutdown(1);
});
