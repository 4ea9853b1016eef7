import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { createShippingMethod, deleteShippingMethod, listShippingMethods, updateShippingMethod } from '../../shared/shipping/index.js';
import { ShippingMethod, ShippingMethodInput } from '../../shared/shipping/schemas.js';
import { IdParams, problemResponses } from '../schemas.js';

const tags = ['shipping'];
const security = [{ bearerAuth: [] }];

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
        body: ShippingMethodInput,
        response: { 201: ShippingMethod, ...problemResponses(400, 401, 403) },
      },
    },
    async (request, reply) => reply.code(201).send(await createShippingMethod(db, request.body, config.CURRENCY, request.auth?.id ?? null)),
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
          { name: Type.Optional(ShippingMethodInput.properties.name), price: Type.Optional(ShippingMethodInput.properties.price), freeOver: ShippingMethodInput.properties.freeOver, etaDays: Type.Optional(ShippingMethodInput.properties.etaDays), active: ShippingMethodInput.properties.active, position: ShippingMethodInput.properties.position },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: ShippingMethod, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => updateShippingMethod(db, request.params.id, request.body, request.auth?.id ?? null),
  );

  app.delete(
    '/shipping-methods/:id',
    {
      config: staff,
      schema: { tags, operationId: 'deleteShippingMethod', summary: 'Delete a shipping method (orders keep its name)', security, params: IdParams, response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) } },
    },
    async (request, reply) => {
      await deleteShippingMethod(db, request.params.id, request.auth?.id ?? null);
      return reply.code(204).send(null);
    },
  );
};
export default shippingRoutes;
