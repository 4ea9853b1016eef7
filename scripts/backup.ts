/**
 * Backup and restore of the shop's PostgreSQL database, each checked against the other.
 *
 *   npm run backup -- [--out backups/agape-<time>.dump]            (DATABASE_URL: the database to dump)
 *   npm run restore -- --from <file.dump> [--to <database url>]     (default target: DATABASE_URL)
 *
 * `backup` runs `pg_dump --format=custom` inside a snapshot it exported itself, and in that same
 * snapshot writes a manifest beside the dump (`<file>.json`): row counts of every table and the money
 * ledger's totals (payments confirmed, refunds paid back, what orders say was paid and refunded). The
 * dump and the manifest therefore describe the very same instant, even on a live database.
 *
 * `restore` refuses a target database that already has tables, creates it if missing, restores with
 * `pg_restore --single-transaction --exit-on-error`, then recomputes the manifest on the restored
 * database and fails (exit 1) unless every count and total matches. The database and its dump are the
 * shop's only durable state: Redis is rebuilt from the outbox (docs/backup.md).
 *
 * pg_dump and pg_restore must be on PATH, of the server's major version or newer.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { ensureDatabase } from '../shared/db/migrate.js';

export interface Manifest {
  createdAt: string;
  /** The newest applied migration: a restore runs with code that expects at least this schema. */
  lastMigration: string | null;
  rowCounts: Record<string, number>;
  /** Integer kobo per currency, as text (sums of bigint may pass 2^53). */
  ledger: Record<string, string>;
}

/** Sums that must survive a backup unchanged: the money that came in and went back out. */
const LEDGER_SQL = `
  SELECT 'payments.success.paid_amount.' || coalesce(paid_currency, currency) AS key, sum(coalesce(paid_amount, amount))::text AS total
    FROM payments WHERE status = 'success' GROUP BY coalesce(paid_currency, currency)
  UNION ALL
  SELECT 'refund_parts.processed.amount.' || currency, sum(amount)::text FROM refund_parts WHERE status = 'processed' GROUP BY currency
  UNION ALL
  SELECT 'orders.amount_paid.' || currency, sum(amount_paid)::text FROM orders GROUP BY currency
  UNION ALL
  SELECT 'orders.amount_refunded.' || currency, sum(amount_refunded)::text FROM orders GROUP BY currency
  UNION ALL
  SELECT 'orders.total.' || currency, sum(total)::text FROM orders GROUP BY currency`;

/** The manifest of what `client` sees (call it inside the transaction whose snapshot is dumped). */
export async function computeManifest(client: pg.ClientBase): Promise<Manifest> {
  const tables = await client.query<{ name: string }>(
    `SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS name FROM pg_tables
     WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
  );
  const rowCounts: Record<string, number> = {};
  for (const { name } of tables.rows) {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${name}`);
    rowCounts[name] = Number(rows[0].n);
  }
  const ledger: Record<string, string> = {};
  for (const r of (await client.query<{ key: string; total: string }>(LEDGER_SQL)).rows)
    ledger[r.key] = r.total;
  const migration =
    rowCounts['public.kysely_migration'] !== undefined
      ? (await client.query<{ name: string }>('SELECT max(name) AS name FROM kysely_migration')).rows[0].name
      : null;
  return { createdAt: new Date().toISOString(), lastMigration: migration, rowCounts, ledger };
}

/** Differences between two manifests (ignoring when each was made), one line each; empty when equal. */
export function manifestDifferences(expected: Manifest, actual: Manifest): string[] {
  const diffs: string[] = [];
  const compare = (what: string, a: Record<string, unknown>, b: Record<string, unknown>) => {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
      if (a[key] !== b[key])
        diffs.push(`${what} ${key}: expected ${String(a[key])}, found ${String(b[key])}`);
  };
  if (expected.lastMigration !== actual.lastMigration)
    diffs.push(`last migration: expected ${expected.lastMigration}, found ${actual.lastMigration}`);
  compare('rows in', expected.rowCounts, actual.rowCounts);
  compare('ledger', expected.ledger, actual.ledger);
  return diffs;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (err) =>
      reject(new Error(`${command}: ${err.message} (is the PostgreSQL client installed?)`)),
    );
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}: ${stderr.trim()}`)),
    );
  });
}

export const manifestPath = (dumpFile: string) => `${dumpFile}.json`;

/** Dumps `databaseUrl` to `out` and writes the manifest of the same snapshot beside it. */
export async function backup(databaseUrl: string, out: string): Promise<Manifest> {
  mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'agape-backup' });
  await client.connect();
  try {
    // The snapshot lives as long as this transaction: pg_dump reads exactly what the manifest counts.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const { rows } = await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
    const manifest = await computeManifest(client);
    await run('pg_dump', [
      '--format=custom',
      '--no-owner',
      '--no-acl',
      `--snapshot=${rows[0].id}`,
      `--file=${out}`,
      `--dbname=${databaseUrl}`,
    ]);
    writeFileSync(manifestPath(out), JSON.stringify(manifest, null, 2) + '\n');
    await client.query('COMMIT');
    return manifest;
  } finally {
    await client.end();
  }
}

/** Restores `file` into `databaseUrl` (created if missing, must hold no table) and checks it against the manifest. */
export async function restore(
  file: string,
  databaseUrl: string,
): Promise<{ manifest: Manifest; differences: string[] }> {
  const expected = JSON.parse(readFileSync(manifestPath(file), 'utf8')) as Manifest;
  await ensureDatabase(databaseUrl);
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'agape-restore' });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`,
    );
    if (Number(rows[0].n) > 0)
      throw new Error(
        `refusing to restore into ${new URL(databaseUrl).pathname.slice(1)}: it already has tables (restore into a new database, then switch DATABASE_URL)`,
      );
    await run('pg_restore', [
      '--no-owner',
      '--no-acl',
      '--single-transaction',
      '--exit-on-error',
      `--dbname=${databaseUrl}`,
      file,
    ]);
    const manifest = await computeManifest(client);
    return { manifest, differences: manifestDifferences(expected, manifest) };
  } finally {
    await client.end();
  }
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(command: string | undefined, args: string[]): Promise<number> {
  const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/agape';
  if (command === 'backup') {
    const out =
      argValue(args, '--out') ??
      path.join('backups', `agape-${new Date().toISOString().replace(/[:.]/g, '-')}.dump`);
    const manifest = await backup(databaseUrl, out);
    const rows = Object.values(manifest.rowCounts).reduce((a, b) => a + b, 0);
    console.log(
      `backup written: ${out} (${rows} rows in ${Object.keys(manifest.rowCounts).length} tables) and ${manifestPath(out)}`,
    );
    return 0;
  }
  if (command === 'restore') {
    const from = argValue(args, '--from');
    if (!from) throw new Error('restore needs --from <file.dump>');
    const to = argValue(args, '--to') ?? databaseUrl;
    const { differences } = await restore(from, to);
    if (differences.length) {
      console.error(`restored, but it does not match the backup's manifest:\n  ${differences.join('\n  ')}`);
      return 1;
    }
    console.log(
      `restored ${from} into ${new URL(to).pathname.slice(1)}: row counts and ledger totals match the backup`,
    );
    return 0;
  }
  console.error('usage: backup.ts backup [--out file.dump] | restore --from file.dump [--to database-url]');
  return 2;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv[2], process.argv.slice(3)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
