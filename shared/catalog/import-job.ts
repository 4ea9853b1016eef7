import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeAudit } from '../auth/audit.js';
import type { Db } from '../db/index.js';
import type { PrivateFiles } from '../media/files.js';
import { enqueue } from '../outbox.js';
import type { ImportProgress } from './csv/import.js';
import type { ImportView } from './schemas.js';

export type { ImportView } from './schemas.js';

const PROGRESS_EVERY_MS = 500;

export async function getImport(db: Db, id: string): Promise<ImportView | null> {
  const row = await db.selectFrom('imports').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return null;
  return {
    id: row.id,
    status: row.status,
    filename: row.filename,
    totalRows: row.totalRows,
    processedRows: row.processedRows,
    productsCreated: row.productsCreated,
    productsUpdated: row.productsUpdated,
    errors: row.errors as ImportView['errors'],
    createdAt: row.createdAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}

/** Where an uploaded import file is kept on the media host (the private file store). */
const importFileKey = () => `imports/${randomUUID()}.csv`;

/**
 * Records an uploaded file and queues its import, in one transaction (the job exists iff the row does).
 * `path` is the file's key in the private file store (rows written before the store held an absolute
 * local path, which the worker still reads).
 */
async function queueImport(db: Db, file: { filename: string; path: string }, createdBy: string | null): Promise<string> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('imports')
      .values({ filename: file.filename.slice(0, 255), filePath: file.path, createdBy })
      .returning('id')
      .executeTakeFirstOrThrow();
    await enqueue(trx, 'import.products', { importId: row.id });
    await writeAudit(trx, { actorId: createdBy, action: 'import.queued', targetType: 'import', targetId: row.id, after: { filename: file.filename } });
    return row.id;
  });
}

/**
 * Takes an upload spooled on this replica's own disk: hands it to the private file store (the media host in
 * production, so whichever worker takes the job can read it; never under the public /media/products/ route)
 * and queues its import.
 */
export async function acceptImport(db: Db, files: PrivateFiles, upload: { filename: string; localPath: string }, createdBy: string | null): Promise<ImportView> {
  const key = importFileKey();
  await files.put(key, { path: upload.localPath });
  const id = await queueImport(db, { filename: upload.filename, path: key }, createdBy);
  return (await getImport(db, id))!;
}

/**
 * Runs a queued import (the worker's `import.products`): the same streaming code as the CLI, progress
 * written to the row at most twice a second. Safe to run again after a crash: the import upserts by
 * handle and SKU, so a second pass changes nothing already written.
 *
 * The file was uploaded through any API replica to the media host; this worker copies it to its own
 * temporary folder first (the CSV is read twice: counted, then imported) and removes the upload once
 * the import has finished.
 */
export async function runImport(db: Db, importId: string, files: PrivateFiles): Promise<ImportView | null> {
  const row = await db.selectFrom('imports').selectAll().where('id', '=', importId).executeTakeFirst();
  if (!row || row.status === 'completed' || row.status === 'failed') return row ? getImport(db, importId) : null;
  // Loaded here, in the worker that runs imports: the API only accepts them, and need not carry csv-parse.
  const { countCsvRecords, importProductsCsv } = await import('./csv/import.js');
  const legacy = path.isAbsolute(row.filePath);
  const local = legacy ? row.filePath : path.join(tmpdir(), `agape-import-${importId}-${randomUUID()}.csv`);
  try {
    let totalRows: number;
    try {
      if (!legacy && !(await files.download(row.filePath, local))) throw Object.assign(new Error('gone'), { code: 'ENOENT' });
      totalRows = await countCsvRecords(local);
    } catch (err) {
      // The file is gone (or was never shared with this worker): retrying cannot help.
      if ((err as { code?: string }).code !== 'ENOENT') throw err;
      await db
        .updateTable('imports')
        .set({ status: 'failed', finishedAt: new Date(), errors: JSON.stringify([{ line: 0, reason: 'The uploaded file is not available to the worker' }]) })
        .where('id', '=', importId)
        .execute();
      return getImport(db, importId);
    }
    await db.updateTable('imports').set({ status: 'running', totalRows, processedRows: 0 }).where('id', '=', importId).execute();
    let lastWrite = 0;
    const save = (p: ImportProgress, extra: Record<string, unknown> = {}) =>
      db
        .updateTable('imports')
        .set({
          processedRows: p.processedRows,
          productsCreated: p.productsCreated,
          productsUpdated: p.productsUpdated,
          errors: JSON.stringify(p.errors),
          ...extra,
        })
        .where('id', '=', importId)
        .execute();
    const result = await importProductsCsv(db, createReadStream(local), {
      onProgress: async (p) => {
        if (Date.now() - lastWrite < PROGRESS_EVERY_MS) return;
        lastWrite = Date.now();
        await save(p);
      },
    });
    await save(result, { status: 'completed', finishedAt: new Date() });
    // Done for good (a completed row is never run again), so the upload is no longer needed. A failed
    // delete leaves an orphan that costs storage, not correctness: the finished job must not fail for it.
    if (!legacy) await files.delete(row.filePath).catch(() => undefined);
    return getImport(db, importId);
  } finally {
    if (!legacy) await rm(local, { force: true });
  }
}
