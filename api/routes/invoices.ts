import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ConflictError } from '../../shared/errors.js';
import { loadInvoicePdf, OrderNotPaidError } from '../../shared/invoices/service.js';
import { createInvoiceStore } from '../../shared/invoices/storage.js';
import { findAccessibleOrder } from '../../shared/orders/read.js';
import { IdParams, problemResponses } from '../schemas.js';

const PAID_STATES = new Set(['paid', 'processing', 'shipped', 'delivered', 'partially_refunded', 'refunded']);

const invoices: FastifyPluginAsyncTypebox = async (app) => {
  const store = createInvoiceStore(app.config.MEDIA_DIR);

  app.get(
    '/orders/:id/invoice',
    {
      config: { auth: 'optional' },
      schema: {
        tags: ['orders'],
        operationId: 'getOrderInvoice',
        summary: 'The order’s invoice PDF (owner, staff, or the signed link from the order mail)',
        description:
          '200 `application/pdf` once the order is paid and its invoice rendered. 409 `order_not_paid` before payment; ' +
          '409 `invoice_pending` (with Retry-After) for the seconds between payment and rendering. Another ' +
          'customer’s order is 404.',
        security: [{ bearerAuth: [] }, {}],
        params: IdParams,
        querystring: Type.Object({ token: Type.Optional(Type.String({ maxLength: 512 })) }),
        response: {
          200: {
            description: 'The invoice PDF',
            content: { 'application/pdf': { schema: { type: 'string', format: 'binary' } } },
          },
          ...problemResponses(401, 404, 409),
        },
      },
    },
    async (request, reply) => {
      const order = await findAccessibleOrder(app.db, app.config, request.params.id, {
        auth: request.auth,
        cartToken:
          typeof request.headers['x-cart-token'] === 'string' ? request.headers['x-cart-token'] : undefined,
        linkToken: request.query.token,
      });
      const pdf = await loadInvoicePdf(app.db, store, order.id);
      if (!pdf) {
        if (!PAID_STATES.has(order.status)) throw new OrderNotPaidError();
        throw new ConflictError(
          'invoice_pending',
          'The invoice is being prepared; try again in a few seconds',
          {
            headers: { 'retry-after': '5' },
          },
        );
      }
      return (
        reply
          .header('content-type', 'application/pdf')
          .header('content-disposition', `attachment; filename="${pdf.filename}"`)
          .header('cache-control', 'private, no-store')
          .header('x-content-type-options', 'nosniff')
          // The declared 200 schema is binary; the TypeBox provider only knows JSON bodies.
          .send(pdf.content as unknown as string)
      );
    },
  );
};
export default invoices;
