import { createReadStream } from 'node:fs';
import type { Db } from '../db/index.js';
import { enqueue } from '../outbox.js';
import { countCsvRecords, importProductsCsv, type ImportProgress } from './csv.js';

const PROGRESS_EVERY_MS = 500;

export interface ImportView {
  id: string;
  status: string;
  filename: string;
  totalRows: number;
  processedRows: number;
  productsCreated: number;
  productsUpdated: number;
  errors: { line: number; handle?: string; reason: string }[];
  createdAt: string;
  finishedAt: string | null;
}

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

/** Records an uploaded file and queues its import, in one transaction (the job exists iff the row does). */
export async function queueImport(db: Db, file: { filename: string; path: string }, createdBy: string | null): Promise<string> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('imports')
      .values({ filename: file.filename.slice(0, 255), filePath: file.path, createdBy })
      .returning('id')
      .executeTakeFirstOrThrow();
    await enqueue(trx, 'import.products', { importId: row.id });
    return row.id;
  });
}

/**
 * Runs a queued import (the worker's `import.products`): the same streaming code as the CLI, progress
 * written to the row at most twice a second. Safe to run again after a crash: the import upserts by
 * handle and SKU, so a second pass changes nothing already written.
 */
export async function runImport(db: Db, importId: string): Promise<ImportView | null> {
  const row = await db.selectFrom('imports').selectAll().where('id', '=', importId).executeTakeFirst();
  if (!row || row.status === 'completed' || row.status === 'failed') return row ? getImport(db, importId) : null;
  let totalRows: number;
  try {
    totalRows = await countCsvRecords(row.filePath);
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
  const result = await importProductsCsv(db, createReadStream(row.filePath), {
    onProgress: async (p) => {
      if (Date.now() - lastWrite < PROGRESS_EVERY_MS) return;
      lastWrite = Date.now();
      await save(p);
    },
  });
  await save(result, { status: 'completed', finishedAt: new Date() });
  return getImport(db, importId);
}
