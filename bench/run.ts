/**
 * `npm run bench [-- suite ...] [--duration 10] [--connections 50]`
 *
 * Runs the suites below (all by default, or the named ones) against a fresh database of its own
 * (`agape_bench_<pid>`, dropped at the end) and a unique Redis prefix, prints one table per suite and
 * writes bench/results/<time>.json.
 *
 * To add a suite: create bench/<name>.ts exporting `default async function run(ctx: BenchContext)`
 * (see bench/foundation.ts and bench/lib.ts), then add one import and one entry to `suites`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfigOrExit, repoRoot } from '../shared/config.js';
import auth from './auth.js';
import catalog from './catalog.js';
import checkout from './checkout.js';
import customers from './customers.js';
import fleet from './fleet.js';
import foundation from './foundation.js';
import payments from './payments.js';
import read from './read.js';
import reports from './reports.js';
import {
  benchEnv,
  clearBenchRedis,
  dropBenchDatabase,
  formatTable,
  load,
  prepareBenchDatabase,
  startTarget,
  type BenchContext,
  type BenchRow,
  type BenchSuite,
  type Target,
} from './lib.js';

const suites: { name: string; run: BenchSuite }[] = [
  { name: 'foundation', run: foundation },
  { name: 'auth', run: auth },
  { name: 'payments', run: payments },
  { name: 'fleet', run: fleet },
  { name: 'checkout', run: checkout },
  { name: 'catalog', run: catalog },
  { name: 'reports', run: reports },
  { name: 'customers', run: customers },
  { name: 'read', run: read },
];

function parseArgs(argv: string[]) {
  const names: string[] = [];
  const options = { duration: 10, connections: 50 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const flag = /^--(duration|connections)(?:=(\d+))?$/.exec(arg);
    if (flag) {
      const value = Number(flag[2] ?? argv[++i]);
      if (!Number.isInteger(value) || value <= 0) throw new Error(`${arg} needs a positive whole number`);
      options[flag[1] as 'duration' | 'connections'] = value;
    } else if (arg.startsWith('-')) throw new Error(`unknown option ${arg} (--duration N, --connections N)`);
    else names.push(arg);
  }
  const unknown = names.filter((n) => !suites.some((s) => s.name === n));
  if (unknown.length)
    throw new Error(
      `unknown suite(s) ${unknown.join(', ')}; available: ${suites.map((s) => s.name).join(', ')}`,
    );
  return { selected: names.length ? suites.filter((s) => names.includes(s.name)) : suites, options };
}

let parsed: ReturnType<typeof parseArgs>;
try {
  parsed = parseArgs(process.argv.slice(2));
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
const { selected, options } = parsed;
const env = benchEnv();
const config = loadConfigOrExit(env);
console.log(
  `bench: ${selected.map((s) => s.name).join(', ')} · ${options.connections} connections · ${options.duration} s each (+2 s warm-up) · database ${new URL(config.DATABASE_URL).pathname.slice(1)}`,
);
const db = await prepareBenchDatabase(config);
const results: Record<string, BenchRow[]> = {};
let failed = false;

for (const suite of selected) {
  const rows: BenchRow[] = [];
  const targets: Target[] = [];
  const track = async (started: Promise<Target>) => {
    const target = await started;
    targets.push(target);
    return target;
  };
  const ctx: BenchContext = {
    suite: suite.name,
    config,
    db,
    options,
    startApp: (overrides = {}) => track(startTarget('app', { ...env, ...overrides })),
    startReference: (kind) => track(startTarget(kind, env)),
    load: (target, opts) => load(target, opts, options),
    report: (row) => {
      rows.push(row);
      const r = row.result;
      console.log(
        `  ${row.name}: ${Math.round(r.reqPerSec)} req/s, p99 ${r.p99} ms${r.non2xx + r.errors ? `, ${r.non2xx} non-2xx, ${r.errors} errors` : ''}`,
      );
    },
    log: (message) => console.log(`  ${message}`),
  };
  console.log(`\n-- ${suite.name}`);
  try {
    await suite.run(ctx);
  } catch (err) {
    failed = true;
    console.error(
      `suite ${suite.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
  } finally {
    await Promise.all(targets.map((t) => t.stop()));
  }
  results[suite.name] = rows;
  if (rows.length) console.log(`\n${formatTable(suite.name, rows)}`);
}

await db.destroy();
await dropBenchDatabase(config);
await clearBenchRedis(config);
const dir = path.join(repoRoot, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), options, results }, null, 2));
console.log(`\nresults written to ${path.relative(repoRoot, file)}`);
process.exitCode = failed ? 1 : 0;
