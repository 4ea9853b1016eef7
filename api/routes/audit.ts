import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { getAudit, listAudit } from '../../shared/audit/log.js';
import { resolveRange } from '../../shared/reports/range.js';
import { readSnapshot } from '../../shared/reports/snapshot.js';
import { IdParams, Page, PageQuery, problemResponses, Timestamp, Uuid } from '../schemas.js';
import { RangeQuery, SnapshotFields } from '../../shared/reports/schemas.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(s: T) => Type.Union([s, Type.Null()]);
const AuditEntry = Type.Object({
  id: Uuid,
  at: Timestamp,
  actor: Nullable(
    Type.Object({
      id: Uuid,
      email: Nullable(Type.String()),
      name: Nullable(Type.String()),
      role: Nullable(Type.String()),
    }),
  ),
  action: Type.String({ description: '`<domain>.<verb>`, e.g. `variant.price_changed`, `refund.created`' }),
  targetType: Type.String(),
  targetId: Nullable(Type.String()),
  before: Type.Unknown({ description: 'the changed fields before (never hashes, tokens or secrets)' }),
  after: Type.Unknown({ description: 'the changed fields after' }),
  requestId: Nullable(Type.String()),
  ip: Nullable(Type.String()),
});

const audit: FastifyPluginAsyncTypebox = async (app) => {
  const { SHOP_TIMEZONE: timeZone } = app.config;
  const common = { tags: ['audit'], security: [{ bearerAuth: [] }] };

  app.get(
    '/admin/audit-log',
    {
      config: { permission: 'audit:read' },
      schema: {
        ...common,
        operationId: 'adminListAuditLog',
        summary: 'Who did what: staff mutations, newest first',
        querystring: Type.Object(
          {
            ...PageQuery,
            ...RangeQuery,
            actorId: Type.Optional(Uuid),
            action: Type.Optional(
              Type.String({ minLength: 1, maxLength: 100, description: 'prefix of the action' }),
            ),
            targetType: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
            targetId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ ...Page(AuditEntry).properties, ...SnapshotFields }),
          ...problemResponses(400, 401, 403),
        },
      },
    },
    async (request) => {
      const { from, to, limit, cursor, actorId, action, targetType, targetId } = request.query;
      const range = resolveRange({ from, to }, timeZone);
      const { value, ...snapshot } = await readSnapshot(app.reads, (trx) =>
        listAudit(trx, { range, timeZone, limit, cursor, actorId, action, targetType, targetId }),
      );
      return { ...value, ...snapshot };
    },
  );

  app.get(
    '/admin/audit-log/:id',
    {
      config: { permission: 'audit:read' },
      schema: {
        ...common,
        operationId: 'adminGetAuditEntry',
        summary: 'One audit entry',
        params: IdParams,
        response: { 200: AuditEntry, ...problemResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const { value } = await readSnapshot(app.reads, (trx) => getAudit(trx, request.params.id));
      return value;
    },
  );
};

export default audit;
