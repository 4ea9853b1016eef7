import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileMigrationProvider, Migrator, type Kysely, type MigrationResultSet } from 'kysely';
import pg from 'pg';

/** migrations/ beside shared/ in source, dist/migrations when built. */
export const migrationFolder = fileURLToPath(new URL('../../migrations', import.meta.url));

// Migrations use Kysely<any>: they are frozen in time and must not depend on today's table types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

function migrator(db: AnyDb, folder = migrationFolder) {
  return new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: folder }),
    // Parallel branches add migrations with nearby timestamps; order of application is still by name.
    allowUnorderedMigrations: true,
  });
}

export async function migrateToLatest(db: AnyDb, folder = migrationFolder): Promise<MigrationResultSet> {
  return migrator(db, folder).migrateToLatest();
}

export class MigrationsBehindError extends Error {
  constructor(readonly pending: string[]) {
    super(
      `The database is behind: ${pending.length} migration(s) not applied (${pending.join(', ')}). Run \`npm run migrate\`.`,
    );
    this.name = 'MigrationsBehindError';
  }
}

/** Both processes call this at start and refuse to run against an old schema. */
export async function assertMigrationsCurrent(db: AnyDb, folder = migrationFolder): Promise<void> {
  const migrations = await migrator(db, folder).getMigrations();
  const pending = migrations.filter((m) => !m.executedAt).map((m) => m.name);
  if (pending.length) throw new MigrationsBehindError(pending);
}

/** Creates the database named in the URL when it does not exist (first run on a fresh machine). */
export async function ensureDatabase(connectionString: string): Promise<boolean> {
  const url = new URL(connectionString);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!name) throw new Error('DATABASE_URL names no database');
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
    return true;
  } catch (err) {
    // Another process created it between our check and our CREATE.
    if ((err as { code?: string }).code === '42P04') return false;
    throw err;
  } finally {
    await client.end();
  }
}
