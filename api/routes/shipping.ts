import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { createShippingMethod, deleteShippingMethod, listShippingMethods, updateShippingMethod } from '../../shared/shipping/index.js';
import { IdParams, problemResponses, Uuid } from '../schemas.js';
import { Money, Nullable } from '../../shared/schemas.js';

const tags = ['shipping'];
const security = [{ bearerAuth: [] }];

const ShippingMethod = Type.Object({
  id: Uuid,
  name: Type.String(),
  price: Money,
  currency: Type.String(),
  freeOver: Nullable(Money),
  etaDays: Type.Integer(),
  active: Type.Boolean(),
  position: Type.Integer(),
});

const fields = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  price: Type.Integer({ minimum: 0, maximum: 100_000_000 }),
  freeOver: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
  etaDays: Type.Integer({ minimum: 0, maximum: 90 }),
  active: Type.Optional(Type.Boolean()),
  position: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
};

/** Shipping methods: public list; staff manage them with `shipping:write`. */
const shippingRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, config } = app;
  const staff = { permission: 'shipping:write' as const };

  app.get(
    '/shipping-methods',
    {
      schema: {
        tags,
        operationId: 'listShippingMethods',
        security: [],
        summary: 'Active shipping methods',
        response: { 200: Type.Object({ items: Type.Array(ShippingMethod), nextCursor: Type.Null() }) },
      },
    },
    async () => ({ items: await listShippingMethods(db), nextCursor: null }),
  );

  app.post(
    '/shipping-methods',
    {
      config: staff,
      schema: {
        tags,
        operationId: 'createShippingMethod',
        summary: 'Create a shipping method',
        security,
        body: Type.Object(fields, { additionalProperties: false }),
        response: { 201: ShippingMethod, ...problemResponses(400, 401, 403) },
      },
    },
    async (request, reply) => reply.code(201).send(await createShippingMethod(db, request.body, config.CURRENCY)),
  );

  app.patch(
    '/shipping-methods/:id',
    {
      config: staff,
      schema: {
        tags,
        operationId: 'updateShippingMethod',
        summary: 'Change a shipping method',
        security,
        params: IdParams,
        body: Type.Object(
          { name: Type.Optional(fields.name), price: Type.Optional(fields.price), freeOver: fields.freeOver, etaDays: Type.Optional(fields.etaDays), active: fields.active, position: fields.position },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: ShippingMethod, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => updateShippingMethod(db, request.params.id, request.body),
  );

  app.delete(
    '/shipping-methods/:id',
    {
      config: staff,
      schema: { tags, operationId: 'deleteShippingMethod', summary: 'Delete a shipping method (orders keep its name)', security, params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) } },
    },
    async (request, reply) => {
      await deleteShippingMethod(db, request.params.id);
      return reply.code(204).send(null);
    },
  );
};
export default shippingRoutes;
