import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { stringify } from 'csv-stringify';
import ExcelJS from 'exceljs';
import { PassThrough, Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Type } from 'typebox';
import { writeAudit } from '../../shared/auth/audit.js';
import { TooManyRequestsError } from '../../shared/errors.js';
import {
  EXPORT_COLUMNS,
  EXPORT_KINDS,
  exportRows,
  type Cell,
  type ExportKind,
} from '../../shared/reports/exports.js';
import { resolveRange } from '../../shared/reports/range.js';
import { readSnapshot } from '../../shared/reports/snapshot.js';
import { problemResponses } from '../schemas.js';
import { RangeQuery } from '../../shared/reports/schemas.js';

/** Exports one user may run at the same time (each holds a database snapshot while it streams). */
const MAX_CONCURRENT_EXPORTS = 2;
/** A slot whose release was lost (a crashed process) frees itself after this. */
const SLOT_TTL_SECONDS = 3_600;

const FORMATS = {
  csv: { type: 'text/csv; charset=utf-8', label: 'CSV' },
  xlsx: { type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', label: 'XLSX' },
} as const;
type Format = keyof typeof FORMATS;

async function writeCsv(rows: AsyncIterable<Cell[]>, kind: ExportKind, out: Writable) {
  await pipeline(Readable.from(rows), stringify({ header: true, columns: [...EXPORT_COLUMNS[kind]] }), out);
}

/** exceljs's streaming writer: each row is committed (written to the zip) as it comes, never held. */
async function writeXlsx(rows: AsyncIterable<Cell[]>, kind: ExportKind, out: Writable) {
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

const exportsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { SHOP_TIMEZONE: timeZone, QUEUE_PREFIX: prefix } = app.config;

  /** A per-user slot in Redis, so the limit holds across API replicas. */
  async function takeSlot(userId: string): Promise<() => Promise<void>> {
    const key = `${prefix}:exports:${userId}`;
    let taken: number;
    try {
      const [[, count]] = (await app.redis.multi().incr(key).expire(key, SLOT_TTL_SECONDS).exec()) as [
        [null, number],
      ];
      taken = count;
    } catch (err) {
      // Without Redis the limit cannot be counted; an export is worth more than the limit.
      app.log.warn({ err }, 'export slots unavailable; export not limited');
      return async () => {};
    }
    const release = async () => {
      await app.redis.decr(key).catch(() => undefined);
    };
    if (taken > MAX_CONCURRENT_EXPORTS) {
      await release();
      throw new TooManyRequestsError(10);
    }
    return release;
  }

  for (const kind of EXPORT_KINDS) {
    for (const format of Object.keys(FORMATS) as Format[]) {
      const name = `${kind[0].toUpperCase()}${kind.slice(1)}${format === 'csv' ? 'Csv' : 'Xlsx'}`;
      app.get(
        `/admin/exports/${kind}.${format}`,
        {
          config: { permission: 'report:export' },
          schema: {
            tags: ['reports'],
            operationId: `adminExport${name}`,
            summary: `${kind[0].toUpperCase()}${kind.slice(1)} as ${FORMATS[format].label}, streamed (money in integer *_kobo columns)`,
            security: [{ bearerAuth: [] }],
            querystring: Type.Object(
              {
                ...RangeQuery,
                status: Type.Optional(
                  Type.String({
                    pattern: '^[a-z_]{1,30}$',
                    description:
                      kind === 'orders'
                        ? 'order status'
                        : kind === 'inventory'
                          ? 'product status'
                          : 'ignored',
                  }),
                ),
              },
              { additionalProperties: false },
            ),
            response: {
              200: Type.String({
                description: `the ${FORMATS[format].label} file (${FORMATS[format].type})`,
              }),
              ...problemResponses(400, 401, 403, 429),
            },
          },
        },
        async (request, reply) => {
          const { from, to, status } = request.query;
          const range = resolveRange({ from, to }, timeZone);
          const actorId = request.auth!.id;
          const release = await takeSlot(actorId);
          try {
            await app.db.transaction().execute((trx) =>
              writeAudit(trx, {
                actorId,
                action: `export.${kind}`,
                targetType: 'export',
                targetId: null,
                after: { format, ...range, ...(status ? { status } : {}) },
              }),
            );
            let started = false;
            await readSnapshot(app.reads, async (trx, info) => {
              // A replica lost mid-stream must not make the primary answer a second time.
              if (started) throw new Error('export already streaming');
              started = true;
              const out = new PassThrough();
              void reply
                .header('content-type', FORMATS[format].type)
                .header(
                  'content-disposition',
                  `attachment; filename="${kind}-${range.from}-${range.to}.${format}"`,
                )
                .header('x-as-of', info.asOf)
                .header('x-source', info.source)
                // The schema documents the file as a string; Fastify sends a stream as it is.
                .send(out as unknown as string);
              const rows = exportRows(trx, kind, { range, timeZone, status });
              try {
                await (format === 'csv'
                  ? writeCsv(rows, kind, out)
                  : writeXlsx(rows, kind, out).then(() => out.end()));
              } catch (err) {
                out.destroy(err as Error);
                throw err;
              }
            }).catch((err: unknown) => {
              // Once bytes are on their way the answer cannot become a problem document: cut the stream.
              if (started) request.log.warn({ err }, 'export interrupted');
              else throw err;
            });
          } finally {
            await release();
          }
          return reply;
        },
      );
    }
  }
};

export default exportsRoutes;
