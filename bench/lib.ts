/**
 * The benchmark framework: a fresh bench database, target servers in child processes, an autocannon
 * load helper and a results table with ratios against reference servers measured in the same run.
 *
 * Why child processes: autocannon is itself a busy Node process. If the server under test shared its
 * event loop, every figure would measure both at once. The machines here have 2 cores, so the load
 * generator (this process) and the target (a child) each get roughly one; PostgreSQL and Redis share
 * them too. Absolute numbers are therefore modest and noisy (±10%); the ratios against the bare Fastify
 * references, measured the same way minutes apart, are what to read.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { Pool } from 'undici';
import { loadConfig, repoRoot, type Config } from '../shared/config.js';
import { createDb, type Db } from '../shared/db/index.js';
import { migrateToLatest } from '../shared/db/migrate.js';
import { createRedis } from '../shared/redis.js';

export interface LoadOptions {
  path: string;
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  body?: string | object;
  /** Concurrent connections (default: --connections, 50). */
  connections?: number;
  /** Seconds measured (default: --duration, 10), after a warm-up that is discarded. */
  duration?: number;
  /** Seconds of discarded warm-up load (default 2). */
  warmup?: number;
  /**
   * Requests per second, evenly spaced, open loop (latency at a fixed load instead of peak throughput):
   * see openLoop. `connections` then caps the connections opened.
   */
  overallRate?: number;
  /** A fresh body and headers (and path) for every request (e.g. distinct signed webhooks, rotating keys). */
  makeRequest?: () => { body?: string; headers?: Record<string, string>; path?: string };
}

export interface LoadResult {
  reqPerSec: number;
  /** Latency percentiles in milliseconds. */
  p50: number;
  p99: number;
  requests: number;
  /**
   * The target process's CPU time (user + system) per request, in microseconds. Unlike req/s this
   * barely moves when other work shares the machine, so it is the steadier figure to compare.
   */
  cpuPerRequestUs?: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export interface BenchRow {
  name: string;
  result: LoadResult;
  /** The name of an earlier row of this suite to divide by: prints `name/baseline = 0.87`. */
  baseline?: string;
  /** The ratio aimed for (e.g. 0.8): the table marks whether it was met. */
  aim?: number;
}

/** A server under load, running in its own process. */
export interface Target {
  name: string;
  url: string;
  /** The target process's cumulative CPU time (process.cpuUsage), when it can tell. */
  cpuUsage?(): Promise<NodeJS.CpuUsage>;
  /** The target process's memory now, and its peak RSS so far (`maxRss`, bytes). */
  memoryUsage?(): Promise<NodeJS.MemoryUsage & { maxRss: number }>;
  stop(): Promise<void>;
}

export type ReferenceKind = 'hello' | 'pg-pk' | 'worker';

export interface BenchContext {
  suite: string;
  /** Configuration of the bench run: the bench database, a unique QUEUE_PREFIX, LOG_LEVEL=warn. */
  config: Config;
  /** A handle on the bench database, to arrange data before starting targets. */
  db: Db;
  options: { duration: number; connections: number };
  /** Our API (`buildApp`) in a child process on a free port; `env` overrides configuration. */
  startApp(env?: Record<string, string>): Promise<Target>;
  /**
   * A reference server in a child process: `hello` is a bare Fastify hello-world at `GET /`;
   * `pg-pk` is a bare Fastify + pg primary-key lookup at `GET /items/:id` (ids 1..1000).
   */
  startReference(kind: ReferenceKind): Promise<Target>;
  load(target: Target, opts: LoadOptions): Promise<LoadResult>;
  report(row: BenchRow): void;
  log(message: string): void;
}

export type BenchSuite = (ctx: BenchContext) => Promise<void>;

// ---------------------------------------------------------------------------------------------------
// Bench database and Redis prefix

/**
 * Each run has its own database, `agape_bench_<pid>`, created fresh from the migrations and dropped at
 * the end: two people (or a bench and a test run) can measure at the same time without dropping each
 * other's data. A run that was killed leaves its database behind; the next run drops those whose
 * process is gone.
 */
export const BENCH_DATABASE = `agape_bench_${process.pid}`;

/** The bench run's configuration: the normal one pointed at the run's database and a unique Redis prefix. */
export function benchEnv(base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const url = new URL(loadConfig(base).DATABASE_URL);
  url.pathname = `/${BENCH_DATABASE}`;
  return {
    ...(Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >),
    DATABASE_URL: url.toString(),
    QUEUE_PREFIX: `{bench_${process.pid}_${Date.now().toString(36)}}`,
    LOG_LEVEL: 'warn',
    LOG_PRETTY: 'false',
    // Load comes from this machine; rate limits would measure 429s, not the route.
    RATE_LIMIT_ALLOWLIST: '127.0.0.1,::1,::ffff:127.0.0.1',
  };
}

async function withServer<T>(config: Config, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const admin = new URL(config.DATABASE_URL);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), application_name: 'agape-bench' });
  client.on('error', () => {}); // a dropped connection surfaces through the query that needed it
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const processAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Creates the run's database from the migrations, plus the pg-pk reference table; clears dead runs' ones. */
export async function prepareBenchDatabase(config: Config): Promise<Db> {
  const name = new URL(config.DATABASE_URL).pathname.slice(1);
  await withServer(config, async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname ~ '^agape_bench_[0-9]+$'",
    );
    for (const { datname } of rows) {
      if (datname === name || !processAlive(Number(datname.slice('agape_bench_'.length)))) {
        await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
      }
    }
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  });
  const db = createDb(config.DATABASE_URL, { poolSize: 4, applicationName: 'agape-bench' });
  const { error } = await migrateToLatest(db);
  if (error) throw error instanceof Error ? error : new Error(JSON.stringify(error));
  const raw = new pg.Client({ connectionString: config.DATABASE_URL });
  raw.on('error', () => {});
  await raw.connect();
  try {
    await raw.query('CREATE TABLE bench_items (id int PRIMARY KEY, name text NOT NULL, price int NOT NULL)');
    await raw.query(
      "INSERT INTO bench_items SELECT g, 'item ' || g, g * 100 FROM generate_series(1, 1000) g",
    );
    await raw.query('ANALYZE bench_items');
  } finally {
    await raw.end();
  }
  return db;
}

export async function dropBenchDatabase(config: Config): Promise<void> {
  const name = new URL(config.DATABASE_URL).pathname.slice(1);
  await withServer(config, (client) =>
    client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`),
  );
}

/** Deletes the run's Redis keys (queues, rate-limit counters) when the run ends. */
export async function clearBenchRedis(config: Config): Promise<void> {
  const redis = createRedis(config.REDIS_URL, 'worker', 'agape-bench-cleanup');
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${config.QUEUE_PREFIX}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------------
// Targets

/** The node flags of `npm run start:api` (package.json): the bench's API runs with what production runs. */
const API_NODE_FLAGS: string[] = (
  (JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['start:api'] ?? ''
)
  .split(/\s+/)
  .filter((arg) => arg.startsWith('--'));

/** Starts `bench/targets.ts <kind>` and waits for its "listening <port>" line. */
export function startTarget(kind: 'app' | ReferenceKind, env: Record<string, string>): Promise<Target> {
  // BENCH_CPU_PROF=<dir>: every target writes a V8 CPU profile there when it stops (node --cpu-prof).
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const flags = kind === 'app' ? API_NODE_FLAGS : [];
  const child: ChildProcess = spawn(process.execPath, [...prof, ...flags, '--import', 'tsx', 'bench/targets.ts', kind], {
    cwd: repoRoot,
    env,
    // The IPC channel answers CPU-usage questions (see bench/targets.ts).
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const ask = <T>(question: 'cpu-usage' | 'memory-usage') =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`bench target ${kind} did not answer ${question}`)),
        5_000,
      );
      child.once('message', (usage) => {
        clearTimeout(timer);
        resolve(usage as T);
      });
      if (!child.connected) return reject(new Error(`bench target ${kind} is gone`));
      child.send(question, (err) => {
        if (err) reject(err);
      });
    });
  const cpuUsage = () => ask<NodeJS.CpuUsage>('cpu-usage');
  const memoryUsage = () => ask<NodeJS.MemoryUsage & { maxRss: number }>('memory-usage');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`bench target ${kind} did not start within 60 s`));
    }, 60_000);
    lines.on('line', (line) => {
      const port = /^listening (\d+)$/.exec(line)?.[1];
      if (!port) return;
      clearTimeout(timer);
      resolve({ name: kind, url: `http://127.0.0.1:${port}`, cpuUsage, memoryUsage, stop });
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`bench target ${kind} exited before listening`));
    });
  });
}

/** A free loopback port (the OS picks one; it is free again once the probe closes). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * The API as production runs it: `node <start:api flags> dist/api/server.js`, without tsx (whose loader thread
 * and transformed sources add ~100 MB of RSS to every target started from source). Null when there is no build
 * (`npm run build` first; a stale build measures the old code). CPU and memory come from /proc (Linux).
 */
export async function startBuiltApi(env: Record<string, string>): Promise<Target | null> {
  const entry = path.join(repoRoot, 'dist', 'api', 'server.js');
  if (!existsSync(entry)) return null;
  const port = await freePort();
  const child = spawn(process.execPath, [...API_NODE_FLAGS, entry], {
    cwd: repoRoot,
    env: { ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const proc = (file: string) => readFileSync(`/proc/${child.pid}/${file}`, 'utf8');
  const cpuUsage = async (): Promise<NodeJS.CpuUsage> => {
    // Fields after "(comm) ": state is [0], utime [11], stime [12], in clock ticks (100 per second).
    const fields = proc('stat').split(') ')[1].split(' ');
    return { user: Number(fields[11]) * 10_000, system: Number(fields[12]) * 10_000 };
  };
  const memoryUsage = async () => {
    const status = proc('status');
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), maxRss: kb('VmHWM'), heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error('the built API exited before answering');
    try {
      if ((await fetch(`${url}/health/live`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error('the built API did not answer within 60 s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { name: 'app (dist)', url, cpuUsage, memoryUsage, stop };
}

// ---------------------------------------------------------------------------------------------------
// Load

function cannon(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) =>
      err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(result),
    );
  });
}

/** Warms the target up (discarded), then measures: mean req/s, p50/p99 latency, failures. */
export async function load(
  target: Target,
  opts: LoadOptions,
  defaults: { duration: number; connections: number },
): Promise<LoadResult> {
  const base: autocannon.Options = {
    url: `${target.url}${opts.path}`,
    method: opts.method ?? 'GET',
    headers: {
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...opts.headers,
    },
    body: typeof opts.body === 'object' ? JSON.stringify(opts.body) : opts.body,
    connections: opts.connections ?? defaults.connections,
    ...(opts.makeRequest
      ? {
          requests: [
            {
              setupRequest: (req: autocannon.Request) => {
                const { body, headers, path } = opts.makeRequest!();
                return { ...req, ...(body !== undefined ? { body } : {}), ...(path ? { path } : {}), headers: { ...req.headers, ...headers } };
              },
            },
          ],
        }
      : {}),
  };
  const duration = opts.duration ?? defaults.duration;
  const warmup = opts.warmup ?? 2;
  if (opts.overallRate) {
    const rated = { ...opts, connections: base.connections!, rate: opts.overallRate };
    if (warmup > 0) await openLoop(target, { ...rated, duration: warmup });
    const before = await target.cpuUsage?.();
    const r = await openLoop(target, { ...rated, duration });
    return { ...r, cpuPerRequestUs: cpuPerRequest(before, await target.cpuUsage?.(), r.requests) };
  }
  if (warmup > 0) await cannon({ ...base, duration: warmup });
  const before = await target.cpuUsage?.();
  const r = await cannon({ ...base, duration });
  return {
    cpuPerRequestUs: cpuPerRequest(before, await target.cpuUsage?.(), r.requests.total),
    reqPerSec: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}

function cpuPerRequest(before: NodeJS.CpuUsage | undefined, after: NodeJS.CpuUsage | undefined, requests: number) {
  if (!before || !after || requests === 0) return undefined;
  return (after.user - before.user + after.system - before.system) / requests;
}

/**
 * Open-loop load: `rate` requests per second, evenly spaced, sent whether or not earlier ones have been
 * answered (as shoppers and Paystack send them), over at most `connections` keep-alive connections. Each
 * latency counts from when its request was due, so a stall shows in full (no coordinated omission).
 *
 * Not autocannon's `overallRate`: that gives each connection a quota per second, reset on one shared
 * tick, so every second's requests leave in one burst at its start and queue behind each other: at
 * 200/s over 20 connections, a hello-world measured a 16 ms p99.
 */
export async function openLoop(
  target: Target,
  opts: Omit<LoadOptions, 'overallRate' | 'warmup'> & { rate: number; duration: number; connections: number },
): Promise<LoadResult> {
  const pool = new Pool(target.url, { connections: opts.connections, keepAliveTimeout: 30_000 });
  const total = Math.max(1, Math.round(opts.rate * opts.duration));
  const interval = 1000 / opts.rate;
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const inFlight = new Set<Promise<void>>();
  const fire = (due: number) => {
    const custom = opts.makeRequest?.();
    const body = custom?.body ?? (typeof opts.body === 'object' ? JSON.stringify(opts.body) : opts.body);
    const sent = pool
      .request({
        path: custom?.path ?? opts.path,
        method: opts.method ?? 'GET',
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers, ...custom?.headers },
        body,
      })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode < 200 || res.statusCode >= 300) non2xx++;
        latencies.push(performance.now() - due);
      })
      .catch(() => void errors++)
      .finally(() => inFlight.delete(sent));
    inFlight.add(sent);
  };
  const start = performance.now() + 20;
  let sentCount = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      for (; sentCount < total && start + sentCount * interval <= now; sentCount++) fire(start + sentCount * interval);
      if (sentCount >= total) return resolve();
      setTimeout(tick, Math.max(0, start + sentCount * interval - performance.now()));
    };
    tick();
  });
  while (inFlight.size) await Promise.all(inFlight);
  const elapsed = (performance.now() - start) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0) * 100) / 100;
  return { reqPerSec: latencies.length / elapsed, p50: pct(0.5), p99: pct(0.99), requests: latencies.length, non2xx, errors, timeouts: 0 };
}

// ---------------------------------------------------------------------------------------------------
// Table

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** One table per suite; a row with a baseline gets its ratio (`ours/hello = 0.87`) and the aim's mark. */
export function formatTable(suite: string, rows: readonly BenchRow[]): string {
  const header = ['target', 'req/s', 'p50 ms', 'p99 ms', 'cpu µs/req', 'non-2xx', 'errors', 'ratio'];
  const body = rows.map((row) => {
    const base = row.baseline ? rows.find((r) => r.name === row.baseline) : undefined;
    let ratio = '';
    if (base) {
      const mark = (value: number) =>
        row.aim === undefined
          ? ''
          : value >= row.aim
            ? ` (aim ≥ ${row.aim}: met)`
            : ` (aim ≥ ${row.aim}: not met)`;
      const value = row.result.reqPerSec / base.result.reqPerSec;
      ratio = `${row.name}/${base.name} = ${fmt(value, 2)}${mark(value)}`;
      // The same comparison by CPU cost: what the req/s ratio would be with a core to itself.
      if (row.result.cpuPerRequestUs && base.result.cpuPerRequestUs) {
        const byCpu = base.result.cpuPerRequestUs / row.result.cpuPerRequestUs;
        ratio += `; by cpu/req = ${fmt(byCpu, 2)}${mark(byCpu)}`;
      }
    }
    const r = row.result;
    const cpu = r.cpuPerRequestUs === undefined ? '-' : fmt(r.cpuPerRequestUs);
    return [
      row.name,
      fmt(r.reqPerSec),
      fmt(r.p50),
      fmt(r.p99),
      cpu,
      fmt(r.non2xx),
      fmt(r.errors + r.timeouts),
      ratio,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [`== ${suite}`, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join(
    '\n',
  );
}
