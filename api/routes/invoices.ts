import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { invoiceForDownload, invoiceNotReady } from '../../shared/invoices/service.js';
import { privateFiles } from '../../shared/media/files.js';
import { findAccessibleOrder } from '../../shared/orders/read.js';
import { IdParams, problemResponses } from '../schemas.js';
import { sendPrivateFile } from '../private-file.js';

const invoices: FastifyPluginAsyncTypebox = async (app) => {
  const files = await privateFiles(app.config);

  app.get(
    '/orders/:id/invoice',
    {
      config: { auth: 'optional' },
      schema: {
        tags: ['orders'],
        operationId: 'getOrderInvoice',
        summary: 'The order’s invoice PDF (owner, staff, or the signed link from the order mail)',
        description:
          '200 `application/pdf` once the order is paid and its invoice rendered, or a 302 to a signed URL on the ' +
          'media host that expires after MEDIA_URL_TTL_SECONDS. 409 `order_not_paid` before payment; ' +
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
          302: {
            description: 'The invoice is on the media host: `Location` is a signed URL that expires in minutes',
            headers: { location: { type: 'string' } },
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
      const invoice = await invoiceForDownload(app.db, order);
      const pdf = { key: invoice.key, mime: 'application/pdf', filename: invoice.filename };
      return sendPrivateFile(reply, files, app.config.MEDIA_URL_TTL_SECONDS, pdf, () => invoiceNotReady(order.status));
    },
  );
};
export default invoices;
