/**
 * `npm run import:products -- file.csv`: imports a Shopify product CSV into DATABASE_URL with a progress
 * bar. The same streaming code the `import.products` worker job runs (shared/catalog/csv/import.ts).
 */
import { SingleBar, Presets } from 'cli-progress';
import { createReadStream, existsSync } from 'node:fs';
import { countCsvRecords, importProductsCsv } from '../shared/catalog/csv/import.js';
import { loadConfigOrExit } from '../shared/config.js';
import { createDb } from '../shared/db/index.js';
import { assertMigrationsCurrent } from '../shared/db/migrate.js';

const file = process.argv.slice(2).find((a) => !a.startsWith('--'));
if (!file || !existsSync(file)) {
  process.stderr.write(`usage: npm run import:products -- <file.csv>${file ? ` (no such file: ${file})` : ''}\n`);
  process.exit(2);
}

const config = loadConfigOrExit();
const db = createDb(config.DATABASE_URL, { poolSize: 2, applicationName: 'agape-import' });
try {
  await assertMigrationsCurrent(db);
  const total = await countCsvRecords(file);
  const bar = new SingleBar({ format: 'import |{bar}| {percentage}% {value}/{total} rows · {created} new · {updated} updated · {errors} errors', hideCursor: true }, Presets.shades_classic);
  bar.start(total, 0, { created: 0, updated: 0, errors: 0 });
  const result = await importProductsCsv(db, createReadStream(file), {
    onProgress: (p) => bar.update(p.processedRows, { created: p.productsCreated, updated: p.productsUpdated, errors: p.errors.length }),
  });
  bar.stop();
  for (const e of result.errors.slice(0, 50)) process.stdout.write(`line ${e.line}${e.handle ? ` (${e.handle})` : ''}: ${e.reason}\n`);
  if (result.errors.length > 50) process.stdout.write(`… and ${result.errors.length - 50} more\n`);
  process.stdout.write(`${result.productsCreated} products created, ${result.productsUpdated} updated, ${result.errors.length} rejected (${result.processedRows} rows)\n`);
  process.exitCode = result.errors.length ? 1 : 0;
} finally {
  await db.destroy();
}
