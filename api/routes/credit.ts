import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Readable } from 'node:stream';
import { Type } from 'typebox';
import { accountCredit, grantCredit } from '../../shared/credit/grants.js';
import {
  STATEMENT_CSV_COLUMNS,
  creditBalance,
  creditStatementSnapshot,
  listEntries,
  statementLines,
} from '../../shared/credit/ledger.js';
import {
  AccountCreditSchema,
  CreditBalanceSchema,
  CreditEntryListSchema,
  CreditEntrySchema,
  CreditGrantBodySchema,
  CreditStatementSchema,
} from '../../shared/credit/schemas.js';
import { assertIdempotencyKey } from '../../shared/idempotency/index.js';
import { resolveRange } from '../../shared/reports/range.js';
import { IdParams, PageQuery, problemResponses } from '../schemas.js';
import { RangeQuery } from '../../shared/reports/schemas.js';

/** Store credit (CONTRACT part two): the customer's balance, entries and statement; staff grants. */
const creditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { SHOP_TIMEZONE: timeZone } = app.config;
  const customer = { tags: ['credit'], security: [{ bearerAuth: [] }] };

  app.get(
    '/me/credit',
    {
      config: { auth: 'required' },
      schema: {
        ...customer,
        operationId: 'getMyCredit',
        summary: 'Your store credit balance',
        response: { 200: CreditBalanceSchema, ...problemResponses(401) },
      },
    },
    async (request) => creditBalance(app.db, request.auth!.id),
  );

  app.get(
    '/me/credit/entries',
    {
      config: { auth: 'required' },
      schema: {
        ...customer,
        operationId: 'listMyCreditEntries',
        summary: 'Your store credit entries in a range, newest first',
        querystring: Type.Object({ ...PageQuery, ...RangeQuery }, { additionalProperties: false }),
        response: { 200: CreditEntryListSchema, ...problemResponses(400, 401) },
      },
    },
    async (request) => {
      const { from, to, limit, cursor } = request.query;
      const range = resolveRange({ from, to }, timeZone);
      return listEntries(app.db, request.auth!.id, { range, timeZone, limit, cursor });
    },
  );

  app.get(
    '/me/credit/statement',
    {
      config: { auth: 'required' },
      schema: {
        ...customer,
        operationId: 'getMyCreditStatement',
        summary: 'Your store credit statement: opening, credits, debits, closing (JSON or streamed CSV)',
        querystring: Type.Object(
          {
            ...RangeQuery,
            format: Type.Union([Type.Literal('json'), Type.Literal('csv')], { default: 'json' }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Union([
            CreditStatementSchema,
            Type.String({ description: 'CSV (text/csv), one line per entry, money in *_kobo' }),
          ]),
          ...problemResponses(400, 401),
        },
      },
    },
    async (request, reply) => {
      const { from, to, format } = request.query;
      const range = resolveRange({ from, to }, timeZone);
      const userId = request.auth!.id;
      if (format === 'json') return creditStatementSnapshot(app.db, userId, range, timeZone);
      // Loaded on first use: only statement downloads write CSV.
      const { stringify } = await import('csv-stringify');
      const csv = Readable.from(statementLines(app.db, userId, range, timeZone)).pipe(
        stringify({ header: true, columns: [...STATEMENT_CSV_COLUMNS] }),
      );
      return (
        reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="credit-${range.from}-${range.to}.csv"`)
          // The schema documents the file as a string; Fastify sends a stream as it is.
          .send(csv as unknown as string)
      );
    },
  );

  app.get(
    '/admin/users/:id/credit',
    {
      config: { permission: 'credit:read' },
      schema: {
        tags: ['credit'],
        security: [{ bearerAuth: [] }],
        operationId: 'adminGetUserCredit',
        summary: 'A customer’s store credit: balance and latest entries',
        params: IdParams,
        response: { 200: AccountCreditSchema, ...problemResponses(401, 403, 404) },
      },
    },
    async (request) => accountCredit(app.db, request.params.id, timeZone),
  );

  app.post(
    '/admin/users/:id/credit',
    {
      config: { permission: 'credit:grant' },
      schema: {
        tags: ['credit'],
        security: [{ bearerAuth: [] }],
        operationId: 'adminGrantUserCredit',
        summary: 'Grant (amount > 0) or take back (amount < 0) store credit',
        description:
          'Needs an `Idempotency-Key` (a replay answers the first entry and moves nothing). A debit larger than ' +
          'the balance: 409 `insufficient_credit`. A manager moving more than `CREDIT_MANAGER_LIMIT` kobo (either ' +
          'sign): 403 `limit_exceeded`; admins are not limited. Audited.',
        params: IdParams,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String()) }),
        body: CreditGrantBodySchema,
        response: { 201: CreditEntrySchema, ...problemResponses(400, 401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const { entry, replayed } = await grantCredit(app.db, {
        userId: request.params.id,
        body: request.body,
        actor: { id: request.auth!.id, role: request.auth!.role },
        idempotencyKey: assertIdempotencyKey(request.headers['idempotency-key']),
        managerLimit: app.config.CREDIT_MANAGER_LIMIT,
      });
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(201).send(entry);
    },
  );
};
export default creditRoutes;
