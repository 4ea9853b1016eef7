import multipart from '@fastify/multipart';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { DomainError, NotFoundError } from '../../shared/errors.js';
import { assertIdempotencyKey } from '../../shared/idempotency/index.js';
import { privateFiles } from '../../shared/media/files.js';
import { findReturnPhoto, uploadReturnPhoto } from '../../shared/returns/attachments.js';
import { cancelReturn, getReturn, listOrderReturns, requestReturn } from '../../shared/returns/requests.js';
import {
  ApproveReturnBody,
  MAX_RETURN_PHOTO_BYTES,
  ReceiveReturnBody,
  RejectReturnBody,
  Return,
  ReturnAttachment,
  ReturnPage,
  ReturnRequestBody,
  returnStatuses,
} from '../../shared/returns/schemas.js';
import { approveReturn, listReturns, receiveReturn, rejectReturn, retryReturnRefund } from '../../shared/returns/staff.js';
import { StringEnum } from '../../shared/schemas.js';
import { readFileField } from '../multipart-file.js';
import { IdParams, PageQuery, problemResponses } from '../schemas.js';
import { sendPrivateFile, signedUrlRedirect } from '../private-file.js';

const bearer = [{ bearerAuth: [] }];
const tags = ['returns'];

class PhotoTooLargeError extends DomainError {
  constructor() {
    super(413, 'file_too_large', `Photos may be at most ${MAX_RETURN_PHOTO_BYTES / 1024 / 1024} MB`);
  }
}

/** Returns and exchanges (CONTRACT part two): the customer asks and may cancel; staff approve, reject and receive. */
const returnRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const files = await privateFiles(app.config);
  await app.register(multipart, { limits: { fileSize: MAX_RETURN_PHOTO_BYTES, files: 1, fields: 0, parts: 2 }, throwFileSizeLimit: true });

  app.post(
    '/orders/:id/returns',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        security: bearer,
        operationId: 'requestReturn',
        summary: 'Ask to return units of a delivered order (refund, store credit or an exchange)',
        description:
          'Within `RETURN_WINDOW_DAYS` of delivery (409 `return_window_closed`); per line at most the units bought and not ' +
          'already in another live return (409 `return_quantity_exceeded`); a cancelled, unpaid or undelivered order 409 ' +
          '`not_returnable`. An exchange names, per line, another variant of the same product at the same price. ' +
          '`refundEstimate` is what the units paid: price less their share of the discount (largest remainder), plus VAT. ' +
          'An optional `Idempotency-Key` makes a retry answer the first return.',
        params: IdParams,
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String()) }),
        body: ReturnRequestBody,
        response: { 201: Return, ...problemResponses(400, 401, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      const header = request.headers['idempotency-key'];
      const { view, replayed } = await requestReturn(app.db, {
        orderId: request.params.id,
        userId: request.auth!.id,
        body: request.body,
        windowDays: app.config.RETURN_WINDOW_DAYS,
        idempotencyKey: header === undefined ? undefined : assertIdempotencyKey(header),
      });
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(201).send(view);
    },
  );

  app.get(
    '/orders/:id/returns',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        security: bearer,
        operationId: 'listOrderReturns',
        summary: 'The returns of an order (its owner, or staff with `return:read`)',
        params: IdParams,
        response: { 200: Type.Object({ items: Type.Array(Return), nextCursor: Type.Null() }), ...problemResponses(401, 404) },
      },
    },
    async (request) => ({ items: await listOrderReturns(app.db, request.auth!, request.params.id), nextCursor: null }),
  );

  app.get(
    '/returns/:id',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        security: bearer,
        operationId: 'getReturn',
        summary: 'A return (its owner, or staff with `return:read`)',
        params: IdParams,
        response: { 200: Return, ...problemResponses(401, 404) },
      },
    },
    async (request) => getReturn(app.db, request.auth!, request.params.id),
  );

  app.post(
    '/returns/:id/cancel',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        security: bearer,
        operationId: 'cancelReturn',
        summary: 'Take a requested or approved return back (an exchange’s held units are released)',
        params: IdParams,
        response: { 200: Return, ...problemResponses(401, 404, 409) },
      },
    },
    async (request) => cancelReturn(app.db, request.auth!.id, request.params.id),
  );

  app.post(
    '/return-attachments',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        security: bearer,
        operationId: 'uploadReturnPhoto',
        summary: 'Upload a photo for a return (multipart field `file`): JPEG, PNG, WebP, AVIF or GIF, at most 10 MB',
        description: 'Decided by the bytes. Private: served to the uploader and, once a return names it, to staff with `return:read`.',
        consumes: ['multipart/form-data'],
        response: { 201: ReturnAttachment, ...problemResponses(400, 401, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const { bytes, filename } = await readFileField(request, () => new PhotoTooLargeError(), 'photo');
      return reply.code(201).send(await uploadReturnPhoto(app.db, files, request.auth!.id, bytes, filename));
    },
  );

  app.get(
    '/return-attachments/:id',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        security: bearer,
        operationId: 'getReturnPhoto',
        summary: 'A return photo, for its uploader or staff with `return:read` (others: 404)',
        params: IdParams,
        response: {
          200: { description: 'The file', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } },
          302: signedUrlRedirect,
          ...problemResponses(401, 404),
        },
      },
    },
    async (request, reply) => {
      const photo = await findReturnPhoto(app.db, request.auth!, request.params.id);
      return sendPrivateFile(reply, files, app.config.MEDIA_URL_TTL_SECONDS, { key: photo.key, mime: photo.mime }, () => new NotFoundError('Photo'));
    },
  );

  app.get(
    '/admin/returns',
    {
      config: { permission: 'return:read' },
      schema: {
        tags,
        security: bearer,
        operationId: 'adminListReturns',
        summary: 'Returns, newest first, optionally by status',
        querystring: Type.Object({ ...PageQuery, status: Type.Optional(StringEnum(returnStatuses)) }, { additionalProperties: false }),
        response: { 200: ReturnPage, ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => listReturns(app.db, request.query),
  );

  app.post(
    '/admin/returns/:id/approve',
    {
      config: { permission: 'return:manage' },
      schema: {
        tags,
        security: bearer,
        operationId: 'adminApproveReturn',
        summary: 'Approve a requested return; an exchange’s variants are reserved now',
        description:
          '`resolution` may change what the customer asked for; `refundShipping` adds the order’s shipping (once per order). ' +
          'An exchange whose variants are no longer available answers 409 `insufficient_stock` and nothing changes. ' +
          'The customer has `RETURN_SHIP_DAYS` to send the units back; then the return expires. Audited.',
        params: IdParams,
        body: ApproveReturnBody,
        response: { 200: Return, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) =>
      approveReturn(app.db, { returnId: request.params.id, actorId: request.auth!.id, body: request.body ?? {}, shipDays: app.config.RETURN_SHIP_DAYS }),
  );

  app.post(
    '/admin/returns/:id/reject',
    {
      config: { permission: 'return:manage' },
      schema: {
        tags,
        security: bearer,
        operationId: 'adminRejectReturn',
        summary: 'Reject a requested return, with a note the customer sees. Audited.',
        params: IdParams,
        body: RejectReturnBody,
        response: { 200: Return, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => rejectReturn(app.db, { returnId: request.params.id, actorId: request.auth!.id, note: request.body.note }),
  );

  app.post(
    '/admin/returns/:id/receive',
    {
      config: { permission: 'return:manage' },
      schema: {
        tags,
        security: bearer,
        operationId: 'adminReceiveReturn',
        summary: 'Receive an approved return: count every unit resellable or damaged, then resolve it once',
        description:
          'Resellable units go back in stock (each unit once); then a refund keyed by the return (the return completes when ' +
          'Paystack processes it; a refusal leaves it `received` with `refundStatus: failed`), a store-credit entry, or a ' +
          'zero-total exchange order for the held variants. A second receive answers 409 `invalid_transition`. Audited.',
        params: IdParams,
        body: ReceiveReturnBody,
        response: { 200: Return, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => receiveReturn(app.db, { returnId: request.params.id, actorId: request.auth!.id, body: request.body }),
  );

  app.post(
    '/admin/returns/:id/retry-refund',
    {
      config: { permission: 'return:manage' },
      schema: {
        tags,
        security: bearer,
        operationId: 'adminRetryReturnRefund',
        summary: 'Retry the resolution of a received return whose refund failed (the next attempt, keyed by the return). Audited.',
        params: IdParams,
        response: { 200: Return, ...problemResponses(401, 403, 404, 409) },
      },
    },
    async (request) => retryReturnRefund(app.db, { returnId: request.params.id, actorId: request.auth!.id }),
  );
};
export default returnRoutes;
