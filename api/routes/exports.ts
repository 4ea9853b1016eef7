import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { TooManyRequestsError } from '../../shared/errors.js';
import { EXPORT_FORMATS as FORMATS, runExport, type ExportFormat as Format } from '../../shared/reports/export-files.js';
import { EXPORT_KINDS } from '../../shared/reports/exports.js';
import { resolveRange } from '../../shared/reports/range.js';
import { problemResponses } from '../schemas.js';
import { RangeQuery } from '../../shared/reports/schemas.js';

/** Exports one user may run at the same time (each holds a database snapshot while it streams). */
const MAX_CONCURRENT_EXPORTS = 2;
/** A slot whose release was lost (a crashed process) frees itself after this. */
const SLOT_TTL_SECONDS = 3_600;

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
            await runExport({ db: app.db, reads: app.reads, log: request.log }, { kind, format, range, timeZone, status, actorId }, (out, info) => {
              void reply
                .header('content-type', FORMATS[format].type)
                .header('content-disposition', `attachment; filename="${kind}-${range.from}-${range.to}.${format}"`)
                .header('x-as-of', info.asOf)
                .header('x-source', info.source)
                // The schema documents the file as a string; Fastify sends a stream as it is.
                .send(out as unknown as string);
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
