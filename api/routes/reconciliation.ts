import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { listReconciliationRuns, requestReconciliationRun } from '../../shared/payments/reconciliation-runs.js';
import { ReconciliationRun } from '../../shared/payments/schemas.js';
import { Page, PageQuery, problemResponses, Timestamp, Uuid } from '../schemas.js';

const reconciliation: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/admin/reconciliation/run',
    {
      config: { permission: 'payment:reconcile', rateLimit: { max: 10, timeWindow: '1 minute' } },
      schema: {
        tags: ['payments'],
        operationId: 'adminRunReconciliation',
        summary: 'Start a reconciliation with Paystack (the same job the daily schedule runs)',
        security: [{ bearerAuth: [] }],
        body: Type.Optional(
          Type.Object(
            {
              from: Type.Optional(Timestamp),
              to: Type.Optional(Timestamp),
            },
            { additionalProperties: false, description: 'the window; default the last 48 hours' },
          ),
        ),
        response: { 202: Type.Object({ runId: Uuid }), ...problemResponses(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      const runId = await requestReconciliationRun(app.db, {
        requestedBy: request.auth?.id ?? null,
        from: request.body?.from ? new Date(request.body.from) : undefined,
        to: request.body?.to ? new Date(request.body.to) : undefined,
      });
      return reply.code(202).send({ runId });
    },
  );

  app.get(
    '/admin/reconciliation/runs',
    {
      config: { permission: 'payment:reconcile' },
      schema: {
        tags: ['payments'],
        operationId: 'adminListReconciliationRuns',
        summary: "Reconciliation runs, newest first, with each run's counts and discrepancies",
        security: [{ bearerAuth: [] }],
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: Page(ReconciliationRun), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) =>
      listReconciliationRuns(app.db, { limit: request.query.limit, cursor: request.query.cursor }),
  );
};
export default reconciliation;
