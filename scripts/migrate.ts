import { createDb } from '../shared/db/index.js';
import { ensureDatabase, migrateToLatest } from '../shared/db/migrate.js';
import { loadConfigOrExit } from '../shared/config.js';

const config = loadConfigOrExit();
if (await ensureDatabase(config.DATABASE_URL)) console.log(`created database ${new URL(config.DATABASE_URL).pathname.slice(1)}`);
const db = createDb(config.DATABASE_URL, { poolSize: 1, applicationName: 'agape-migrate' });
try {
  const { error, results } = await migrateToLatest(db);
  for (const r of results ?? []) console.log(`${r.status === 'Success' ? 'applied' : r.status}: ${r.migrationName}`);
  if (error) {
    console.error('migration failed:', error instanceof Error ? error.message : error);
    process.exitCode = 1;
  } else if (!results?.length) console.log('database is up to date');
} finally {
  await db.destroy();
}
