import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { abandonedCartsReport, unsubscribe } from '../../shared/customers/carts.js';
import { addNote, customerProfile, listCustomers, setTags } from '../../shared/customers/crm.js';
import { exportForLink, requestDataExport } from '../../shared/customers/data-export.js';
import { eraseAccount } from '../../shared/customers/erasure.js';
import {
  AbandonedCartsReport,
  CustomerList,
  CustomerListQuery,
  CustomerNote,
  CustomerProfile,
  DataExportAccepted,
  EraseBody,
  NoteBody,
  TagsAnswer,
  TagsBody,
  UnsubscribeAnswer,
} from '../../shared/customers/schemas.js';
import { NotFoundError } from '../../shared/errors.js';
import { privateFiles } from '../../shared/media/files.js';
import { resolveRange } from '../../shared/reports/range.js';
import { RangeQuery, SnapshotFields } from '../../shared/reports/schemas.js';
import { readSnapshot } from '../../shared/reports/snapshot.js';
import { IdParams, problemResponses } from '../schemas.js';
import { sendPrivateFile, signedUrlRedirect } from '../private-file.js';

/** Links in mail, opened without signing in: per client address. */
const linkLimit = { max: 30, timeWindow: 60_000 };
/** DELETE /me checks the password: as few guesses as 2FA setup allows. */
const eraseLimit = { max: 10, timeWindow: 15 * 60_000 };

const UnsubscribeQuery = Type.Object(
  { user: Type.String({ format: 'uuid' }), kind: Type.String({ maxLength: 100 }), token: Type.String({ maxLength: 200 }) },
  { additionalProperties: false },
);

/**
 * Customers (CONTRACT part two): the staff's view of a customer, the abandoned-carts report, the
 * customer's data export and erasure, and the two links their mail carries (unsubscribe, download).
 */
const customerRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { SHOP_TIMEZONE: timeZone, CURRENCY: currency } = app.config;
  const staff = { tags: ['customers'], security: [{ bearerAuth: [] }] };
  const files = await privateFiles(app.config);

  app.get(
    '/admin/customers',
    {
      config: { permission: 'customer:read' },
      schema: {
        ...staff,
        operationId: 'adminListCustomers',
        summary: 'Customers by email, name, phone or order number; sorted by recent activity, spent or orders',
        querystring: CustomerListQuery,
        response: { 200: CustomerList, ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => listCustomers(app.db, request.query, currency),
  );

  app.get(
    '/admin/customers/:id',
    {
      config: { permission: 'customer:read' },
      schema: {
        ...staff,
        operationId: 'adminGetCustomer',
        summary: 'A customer with addresses, recent orders, returns, conversations, credit balance and notes',
        params: IdParams,
        response: { 200: CustomerProfile, ...problemResponses(401, 403, 404) },
      },
    },
    async (request) => customerProfile(app.db, request.params.id, currency),
  );

  app.post(
    '/admin/customers/:id/notes',
    {
      config: { permission: 'customer:write' },
      schema: {
        ...staff,
        operationId: 'adminAddCustomerNote',
        summary: 'A staff-only note about the customer (audited)',
        params: IdParams,
        body: NoteBody,
        response: { 201: CustomerNote, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => reply.code(201).send(await addNote(app.db, request.auth!.id, request.params.id, request.body.body)),
  );

  app.put(
    '/admin/customers/:id/tags',
    {
      config: { permission: 'customer:write' },
      schema: {
        ...staff,
        operationId: 'adminSetCustomerTags',
        summary: 'Replace the customer’s tags (lowercase, at most 20; audited)',
        params: IdParams,
        body: TagsBody,
        response: { 200: TagsAnswer, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => setTags(app.db, request.auth!.id, request.params.id, request.body.tags),
  );

  app.get(
    '/admin/reports/abandoned-carts',
    {
      config: { permission: 'report:read' },
      schema: {
        tags: ['reports'],
        security: [{ bearerAuth: [] }],
        operationId: 'adminAbandonedCartsReport',
        summary: 'Carts reminded in a range, those recovered within 7 days and their revenue',
        querystring: Type.Object({ ...RangeQuery }, { additionalProperties: false }),
        response: { 200: Type.Object({ ...AbandonedCartsReport.properties, ...SnapshotFields }), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const range = resolveRange(request.query, timeZone);
      const { value, ...snapshot } = await readSnapshot(app.reads, (trx) => abandonedCartsReport(trx, range, timeZone, currency));
      return { from: range.from, to: range.to, ...value, ...snapshot };
    },
  );

  app.post(
    '/me/data-export',
    {
      config: { auth: 'required' },
      schema: {
        tags: ['auth'],
        security: [{ bearerAuth: [] }],
        operationId: 'requestMyDataExport',
        summary: 'Ask for a copy of your data: a link to a JSON archive is mailed (expires after 24 h); one a day',
        response: { 202: DataExportAccepted, ...problemResponses(401, 404, 429) },
      },
    },
    async (request, reply) => reply.code(202).send(await requestDataExport(app.db, request.auth!.id)),
  );

  app.delete(
    '/me',
    {
      config: { auth: 'required', rateLimit: eraseLimit },
      schema: {
        tags: ['auth'],
        security: [{ bearerAuth: [] }],
        operationId: 'eraseMe',
        summary: 'Erase your account (password required): personal data erased, orders keep their amounts',
        description: '409 open_orders while an order is unpaid, paid but not shipped, or in a return.',
        body: EraseBody,
        response: {
          202: Type.Object({ status: Type.Literal('accepted'), erasedAt: Type.String({ format: 'date-time' }) }),
          ...problemResponses(400, 401, 403, 404, 409, 429),
        },
      },
    },
    async (request, reply) => {
      const { erasedAt } = await eraseAccount(app.db, app.revocation.revoker, request.auth!.id, request.body.password);
      return reply.code(202).send({ status: 'accepted' as const, erasedAt });
    },
  );

  const unsubscribeRoute = {
    config: { rateLimit: linkLimit },
    schema: {
      tags: ['notifications'],
      security: [],
      summary: 'The unsubscribe link of a reminder mail: turns that kind’s mail off, no sign-in needed',
      querystring: UnsubscribeQuery,
      response: { 200: UnsubscribeAnswer, ...problemResponses(400, 429) },
    },
  };
  app.get('/notifications/unsubscribe', { ...unsubscribeRoute, schema: { ...unsubscribeRoute.schema, operationId: 'unsubscribeByLink' } }, async (request) =>
    unsubscribe(app.db, app.config, request.query.user, request.query.kind, request.query.token),
  );
  // RFC 8058 one-click: mail clients POST to the same link.
  app.post('/notifications/unsubscribe', { ...unsubscribeRoute, schema: { ...unsubscribeRoute.schema, operationId: 'unsubscribeOneClick' } }, async (request) =>
    unsubscribe(app.db, app.config, request.query.user, request.query.kind, request.query.token),
  );

  app.get(
    '/data-exports/:id',
    {
      config: { rateLimit: linkLimit },
      schema: {
        tags: ['auth'],
        security: [],
        operationId: 'downloadDataExport',
        summary: 'The signed link of a data export mail: the JSON archive, until the link expires (24 h)',
        params: IdParams,
        querystring: Type.Object(
          { expires: Type.Integer({ minimum: 0 }), token: Type.String({ maxLength: 200 }) },
          { additionalProperties: false },
        ),
        response: {
          200: { description: 'The archive', content: { 'application/json': { schema: { type: 'string', format: 'binary' } } } },
          302: signedUrlRedirect,
          ...problemResponses(400, 404, 410, 429),
        },
      },
    },
    async (request, reply) => {
      const { key } = await exportForLink(app.db, app.config, request.params.id, request.query.expires, request.query.token);
      const archive = { key, mime: 'application/json; charset=utf-8', filename: 'my-data.json' };
      return sendPrivateFile(reply, files, app.config.MEDIA_URL_TTL_SECONDS, archive, () => new NotFoundError('Export'));
    },
  );
};
export default customerRoutes;
