import pg from 'pg';
import { createDb } from '../shared/db/index.js';
import { migrateToLatest } from '../shared/db/migrate.js';

/**
 * Runs `fn` against a freshly migrated scratch database named `<prefix>_<pid>` and drops it afterwards,
 * so the generators (db:types, docs:erd) read the schema the migrations make, never a developer's data.
 */
export async function withScratchDatabase<T>(prefix: string, fn: (url: string) => Promise<T>): Promise<T> {
  const admin = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `${prefix}_${process.pid}`;
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
    return await fn(url.toString());
  } finally {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.end();
  }
}
