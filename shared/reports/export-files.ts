import { PassThrough, Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { writeAudit } from '../auth/audit.js';
import type { Db } from '../db/index.js';
import type { Logger } from '../logger.js';
import { EXPORT_COLUMNS, exportRows, type Cell, type ExportKind } from './exports.js';
import type { DateRange } from './range.js';
import { readSnapshot, type ReadSource, type SnapshotInfo } from './snapshot.js';

export const EXPORT_FORMATS = {
  csv: { type: 'text/csv; charset=utf-8', label: 'CSV' },
  xlsx: { type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', label: 'XLSX' },
} as const;
export type ExportFormat = keyof typeof EXPORT_FORMATS;

async function writeCsv(rows: AsyncIterable<Cell[]>, kind: ExportKind, out: Writable) {
  // Loaded on first use, like exceljs below: the API process otherwise never writes CSV.
  const { stringify } = await import('csv-stringify');
  await pipeline(Readable.from(rows), stringify({ header: true, columns: [...EXPORT_COLUMNS[kind]] }), out);
}

/** exceljs's streaming writer: each row is committed (written to the zip) as it comes, never held. */
async function writeXlsx(rows: AsyncIterable<Cell[]>, kind: ExportKind, out: Writable) {
  // Loaded on first use: exceljs (and its zip stack) is tens of MB no other request needs.
  const { default: ExcelJS } = await import('exceljs');
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
    stream: out,
    useStyles: false,
    useSharedStrings: false,
  });
  const sheet = workbook.addWorksheet(kind);
  sheet.addRow([...EXPORT_COLUMNS[kind]]).commit();
  for await (const row of rows) sheet.addRow(row).commit();
  sheet.commit();
  await workbook.commit();
}

export interface ExportRequest {
  kind: ExportKind;
  format: ExportFormat;
  range: DateRange;
  timeZone: string;
  status?: string;
  actorId: string;
}

/**
 * Audits the export (on the primary), then streams the file from one read snapshot. `open` is called once,
 * when the snapshot is taken, and returns where the bytes go. Before that a failure throws; after it the
 * stream is cut (the answer can no longer become an error) and the failure only logged.
 */
export async function runExport(
  deps: { db: Db; reads: ReadSource; log: Pick<Logger, 'warn'> },
  req: ExportRequest,
  open: (file: PassThrough, info: SnapshotInfo) => void,
): Promise<void> {
  const { kind, format, range, timeZone, status, actorId } = req;
  await deps.db.transaction().execute((trx) =>
    writeAudit(trx, {
      actorId,
      action: `export.${kind}`,
      targetType: 'export',
      targetId: null,
      after: { format, ...range, ...(status ? { status } : {}) },
    }),
  );
  let started = false;
  await readSnapshot(deps.reads, async (trx, info) => {
    // A replica lost mid-stream must not make the primary answer a second time.
    if (started) throw new Error('export already streaming');
    started = true;
    const out = new PassThrough();
    open(out, info);
    const rows = exportRows(trx, kind, { range, timeZone, status });
    try {
      await (format === 'csv' ? writeCsv(rows, kind, out) : writeXlsx(rows, kind, out).then(() => out.end()));
    } catch (err) {
      out.destroy(err as Error);
      throw err;
    }
  }).catch((err: unknown) => {
    if (started) deps.log.warn({ err }, 'export interrupted');
    else throw err;
  });
}
