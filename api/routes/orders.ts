import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { can } from '../../shared/auth/permissions.js';
import { retryPayment } from '../../shared/checkout/index.js';
import { ForbiddenError, NotFoundError } from '../../shared/errors.js';
import { findAccessibleOrder, isOwner, listOrders, orderView, type OrderCaller } from '../../shared/orders/index.js';
import { Order, OrderStatusSchema, OrderSummary, staffOrderStatuses } from '../../shared/orders/schemas.js';
import { requestOrderCancel, setOrderStatusByStaff } from '../../shared/payments/order-status.js';
import { StringEnum } from '../../shared/schemas.js';
import { IdParams, Page, PageQuery, problemResponses } from '../schemas.js';
import { CartTokenHeaders } from '../../shared/cart/schemas.js';
import { PaymentStart } from '../../shared/checkout/schemas.js';

const tags = ['orders'];
const optional: { [k: string]: string[] }[] = [{}, { bearerAuth: [] }];
const bearer = [{ bearerAuth: [] }];

const AccessQuery = Type.Object(
  { token: Type.Optional(Type.String({ minLength: 10, maxLength: 200, description: 'signed link token from the order email' })) },
  { additionalProperties: false },
);

function orderCaller(request: FastifyRequest<{ Querystring: { token?: string } }>): OrderCaller {
  const cartToken = request.headers['x-cart-token'];
  return { auth: request.auth, cartToken: typeof cartToken === 'string' ? cartToken : undefined, linkToken: request.query.token };
}

/**
 * Customers see their own orders (guests through the cart token that placed the order or the signed link
 * of their mail); another customer's order is 404. Staff read any (`order:read:any`) and change status
 * (`order:write`).
 */
const orderRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, config } = app;
  const paymentDeps = { db, config, paystack: () => app.paystack };

  app.get(
    '/orders',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        operationId: 'listOrders',
        summary: 'My orders, newest first',
        security: bearer,
        querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
        response: { 200: Page(OrderSummary), ...problemResponses(400, 401) },
      },
    },
    async (request) => listOrders(db, { userId: request.auth!.id, limit: request.query.limit, cursor: request.query.cursor }),
  );

  app.get(
    '/orders/:id',
    {
      config: { auth: 'optional' },
      schema: {
        tags,
        operationId: 'getOrder',
        summary: 'An order with items, totals, history, payments, refunds and invoice',
        security: optional,
        params: IdParams,
        querystring: AccessQuery,
        headers: CartTokenHeaders,
        response: { 200: Order, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => {
      const order = await findAccessibleOrder(db, config, request.params.id, orderCaller(request));
      return orderView(db, order.id);
    },
  );

  app.post(
    '/orders/:id/cancel',
    {
      config: { auth: 'optional' },
      schema: {
        tags,
        operationId: 'cancelOrder',
        summary: 'Cancel: the customer while unpaid, staff (order:write) also once paid; releases stock and coupon',
        security: optional,
        params: IdParams,
        querystring: AccessQuery,
        headers: CartTokenHeaders,
        response: { 200: Order, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const caller = orderCaller(request);
      const order = await findAccessibleOrder(db, config, request.params.id, caller);
      const staff = caller.auth !== null && can(caller.auth.role, 'order:write');
      const owner = isOwner(order, caller);
      if (!staff && !owner) throw new ForbiddenError('Only staff with order:write can cancel other customers’ orders');
      // The customer may cancel only while unpaid, decided under the order lock (409 invalid_transition
      // once paid); only staff cancel paid orders, with a refund.
      await requestOrderCancel(db, order.id, {
        actorId: caller.auth?.id ?? null,
        note: staff && !owner ? 'cancelled by staff' : 'cancelled by customer',
        unpaidOnly: !staff,
        byStaff: staff && !owner,
      });
      return orderView(db, order.id);
    },
  );

  app.post(
    '/orders/:id/pay',
    {
      config: { auth: 'optional' },
      schema: {
        tags,
        operationId: 'payOrder',
        summary: 'Start a new payment attempt for an unpaid order (never reserves stock again)',
        security: optional,
        params: IdParams,
        querystring: AccessQuery,
        headers: CartTokenHeaders,
        response: { 200: PaymentStart, ...problemResponses(400, 401, 404, 409) },
      },
    },
    async (request) => {
      const caller = orderCaller(request);
      const order = await findAccessibleOrder(db, config, request.params.id, caller);
      // Staff may read any order but paying is the customer's act.
      if (!isOwner(order, caller)) throw new NotFoundError('Order');
      return retryPayment(paymentDeps, order.id);
    },
  );

  app.get(
    '/admin/orders',
    {
      config: { permission: 'order:read:any' },
      schema: {
        tags,
        operationId: 'adminListOrders',
        summary: 'All orders, filtered by status and by q (number, email or name)',
        security: bearer,
        querystring: Type.Object(
          {
            ...PageQuery,
            status: Type.Optional(OrderStatusSchema),
            q: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Page(OrderSummary), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => listOrders(db, request.query),
  );

  app.patch(
    '/admin/orders/:id/status',
    {
      config: { permission: 'order:write' },
      schema: {
        tags,
        operationId: 'adminUpdateOrderStatus',
        summary: 'Move an order along (processing, shipped with tracking, delivered, cancelled); paid and refunds come from payments',
        security: bearer,
        params: IdParams,
        body: Type.Object(
          {
            status: StringEnum(staffOrderStatuses),
            trackingNumber: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            carrier: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            note: Type.Optional(Type.String({ maxLength: 500 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Order, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      await setOrderStatusByStaff(db, request.params.id, request.body, request.auth!.id);
      return orderView(db, request.params.id);
    },
  );
};
export default orderRoutes;
