import { parse } from 'csv-parse';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Db } from '../../db/index.js';
import { unescapeCsvCell } from '../../csv-cells.js';
import type { CsvRow } from './columns.js';
import { parseGroup, type RowFailure } from './parse-product.js';
import { saveProduct } from './save-product.js';

import type { RowError } from '../schemas.js';

export interface ImportProgress {
  processedRows: number;
  productsCreated: number;
  productsUpdated: number;
  errors: RowError[];
}

const MAX_REPORTED_ERRORS = 1_000;
/**
 * Memory bounds of an import: one record (a row, quoted newlines included) holds at most this many
 * characters, and one product (its consecutive rows of one Handle) at most this many rows. Shopify itself
 * allows 2,048 variants and 250 images; a product past the bound is reported and skipped, never buffered.
 */
export const MAX_RECORD_CHARS = 1_000_000;
export const MAX_ROWS_PER_PRODUCT = 2_500;

/** Every bad row of one product: the product is rolled back whole and each row is reported. */
class ProductFailure extends Error {
  constructor(readonly failures: RowFailure[]) {
    super(failures.map((f) => f.message).join('; '));
  }
}

function csvParser() {
  return parse({
    columns: true,
    bom: true,
    skip_empty_lines: true,
    relax_column_count: true,
    info: true,
    trim: false,
    max_record_size: MAX_RECORD_CHARS,
  });
}

/** Counts records (not lines: a quoted description may span several) for progress totals; stops at bad CSV (the import reports it). */
export async function countCsvRecords(path: string): Promise<number> {
  let n = 0;
  const parser = createReadStream(path).pipe(
    parse({
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      from_line: 2,
      max_record_size: MAX_RECORD_CHARS,
    }),
  );
  try {
    for await (const _ of parser) n++;
  } catch (err) {
    if (!(err as { code?: string }).code?.startsWith('CSV_')) throw err;
  }
  return n;
}

/** What the import tells the user about a file csv-parse refused. */
function csvProblem(err: Error & { code?: string; lines?: number }): string {
  if (err.code === 'CSV_MAX_RECORD_SIZE') {
    return `A record is longer than ${MAX_RECORD_CHARS.toLocaleString('en')} characters (an unclosed quote?); the import stopped there`;
  }
  return `The file is not valid CSV: ${err.message}`;
}

/**
 * Streams a Shopify product CSV into the catalog. Consecutive rows with the same Handle make one product,
 * written in its own transaction: a product is imported whole or not at all, and a bad row fails its
 * product. Every bad row of the product is reported (line number and reason), not only the first.
 * Memory holds one product's rows at a time (at most MAX_ROWS_PER_PRODUCT, each record at most
 * MAX_RECORD_CHARS), and the parser is paused while a product is written (async iteration = backpressure).
 */
export async function importProductsCsv(
  db: Db,
  input: Readable,
  opts: { onProgress?: (p: ImportProgress) => void | Promise<void> } = {},
): Promise<ImportProgress> {
  const progress: ImportProgress = { processedRows: 0, productsCreated: 0, productsUpdated: 0, errors: [] };
  const report = (e: RowError) => {
    if (progress.errors.length < MAX_REPORTED_ERRORS) progress.errors.push(e);
  };
  let group: { line: number; row: CsvRow }[] = [];
  let handle: string | null = null;
  /** The current handle went past MAX_ROWS_PER_PRODUCT: its rows are counted and dropped. */
  let overflowed = false;

  const flush = async () => {
    const rows = group;
    const current = handle;
    group = [];
    if (!rows.length || current === null) return;
    try {
      const { product, failures } = parseGroup(current, rows);
      if (product) {
        const outcome = await db
          .transaction()
          .execute(async (trx) => {
            const saved = await saveProduct(trx, product, failures);
            // Roll back: the product is all or nothing, and the database's refusals are now known too.
            if (failures.length) throw new ProductFailure(failures);
            return saved;
          })
          .catch((err: unknown) => {
            if (err instanceof ProductFailure) return null;
            throw err;
          });
        if (outcome === 'created') progress.productsCreated++;
        else if (outcome === 'updated') progress.productsUpdated++;
      }
      failures.sort((a, b) => a.line - b.line);
      for (const f of failures) report({ line: f.line, handle: current, reason: f.message });
    } catch (err) {
      report({
        line: rows[0].line,
        handle: current,
        reason: `could not be saved: ${(err as Error).message}`,
      });
    }
    progress.processedRows += rows.length;
    await opts.onProgress?.(progress);
  };

  const parser = input.pipe(csvParser());
  input.on('error', (err) => parser.destroy(err));
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: CsvRow;
      info: { lines: number };
    }>) {
      for (const [column, value] of Object.entries(record))
        if (typeof value === 'string') record[column as keyof CsvRow] = unescapeCsvCell(value);
      const h = record.Handle?.trim() ?? '';
      if (!h) {
        await flush();
        report({ line: info.lines, reason: 'Handle is required' });
        progress.processedRows++;
        handle = null;
        continue;
      }
      if (h !== handle) {
        await flush();
        handle = h;
        overflowed = false;
      }
      if (overflowed) {
        progress.processedRows++;
        continue;
      }
      if (group.length >= MAX_ROWS_PER_PRODUCT) {
        report({
          line: info.lines,
          handle: h,
          reason: `Product ${h} has more than ${MAX_ROWS_PER_PRODUCT} rows; it was not imported`,
        });
        progress.processedRows += group.length + 1;
        group = [];
        overflowed = true;
        continue;
      }
      group.push({ line: info.lines, row: record });
    }
  } catch (err) {
    const e = err as Error & { code?: string; lines?: number };
    report({ line: e.lines ?? 0, reason: csvProblem(e) });
    return progress;
  }
  await flush();
  return progress;
}

