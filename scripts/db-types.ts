/**
 * Regenerates shared/db/types.ts from the migrations: migrates a scratch database, runs kysely-codegen
 * against it, drops it. Never touches the development database.
 *   npm run db:types            write the file
 *   npm run db:types -- --verify  fail if the file is out of date
 */
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { repoRoot } from '../shared/config.js';
import { createDb } from '../shared/db/index.js';
import { migrateToLatest } from '../shared/db/migrate.js';

const admin = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const name = `agape_codegen_${process.pid}`;
const url = new URL(admin);
url.pathname = `/${name}`;

const client = new pg.Client({ connectionString: admin });
await client.connect();
await client.query(`CREATE DATABASE ${name}`);
try {
  const db = createDb(url.toString(), { poolSize: 1 });
  const { error } = await migrateToLatest(db);
  await db.destroy();
  if (error) throw error instanceof Error ? error : new Error(JSON.stringify(error));
  execFileSync(
    'npx',
    [
      'kysely-codegen',
      '--dialect',
      'postgres',
      '--url',
      url.toString(),
      '--camel-case',
      '--numeric-parser',
      'number',
      '--type-mapping',
      '{"int8":"number"}',
      '--exclude-pattern',
      'kysely_*',
      '--out-file',
      'shared/db/types.ts',
      ...(process.argv.includes('--verify') ? ['--verify'] : []),
    ],
    { cwd: repoRoot, stdio: 'inherit' },
  );
} finally {
  await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await client.end();
}
