import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { createCoupon, deleteCoupon, findCoupon, listCoupons, updateCoupon, type CouponRow } from '../../shared/coupons/index.js';
import { NotFoundError } from '../../shared/errors.js';
import { IdParams, Page, PageQuery, problemResponses, Timestamp } from '../schemas.js';
import { Nullable } from '../../shared/schemas.js';
import { CouponKindSchema } from '../../shared/coupons/schemas.js';

const tags = ['coupons'];
const security = [{ bearerAuth: [] }];

const Coupon = Type.Object({
  id: Type.String({ format: 'uuid' }),
  code: Type.String(),
  kind: Type.String(),
  value: Type.Integer(),
  minSubtotal: Nullable(Type.Integer()),
  startsAt: Nullable(Timestamp),
  endsAt: Nullable(Timestamp),
  maxRedemptions: Nullable(Type.Integer()),
  redemptionsCount: Type.Integer(),
  perCustomerLimit: Nullable(Type.Integer()),
  active: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

const fields = {
  code: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{2,39}$', description: '3–40 letters, digits, - or _; case-insensitive' }),
  kind: CouponKindSchema,
  value: Type.Integer({ minimum: 0, maximum: 1_000_000_000, description: 'percent 1–100, fixed in minor units, free_shipping ignored' }),
  minSubtotal: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
  startsAt: Type.Optional(Nullable(Timestamp)),
  endsAt: Type.Optional(Nullable(Timestamp)),
  maxRedemptions: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 100_000_000 }))),
  perCustomerLimit: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 1000 }))),
  active: Type.Optional(Type.Boolean()),
};

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const out = (c: CouponRow) => ({ ...c, startsAt: iso(c.startsAt), endsAt: iso(c.endsAt), createdAt: c.createdAt.toISOString(), updatedAt: c.updatedAt.toISOString() });

/** Staff coupon management (`coupon:write`). */
const couponRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app;
  const config = { permission: 'coupon:write' as const };

  app.get(
    '/coupons',
    {
      config,
      schema: {
        tags,
        operationId: 'listCoupons',
        summary: 'Coupons by code',
        security,
        querystring: Type.Object({ ...PageQuery, q: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })) }, { additionalProperties: false }),
        response: { 200: Page(Coupon), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const page = await listCoupons(db, request.query);
      return { items: page.items.map(out), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/coupons/:id',
    { config, schema: { tags, operationId: 'getCoupon', summary: 'One coupon', security, params: IdParams, response: { 200: Coupon, ...problemResponses(400, 401, 403, 404) } } },
    async (request) => {
      const coupon = await findCoupon(db, request.params.id);
      if (!coupon) throw new NotFoundError('Coupon');
      return out(coupon);
    },
  );

  app.post(
    '/coupons',
    {
      config,
      schema: {
        tags,
        operationId: 'createCoupon',
        summary: 'Create a coupon (409 code_taken)',
        security,
        body: Type.Object({ ...fields, value: Type.Optional(fields.value) }, { additionalProperties: false }),
        response: { 201: Coupon, ...problemResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(out(await createCoupon(db, { ...request.body, value: request.body.value ?? 0 }))),
  );

  app.patch(
    '/coupons/:id',
    {
      config,
      schema: {
        tags,
        operationId: 'updateCoupon',
        summary: 'Change a coupon',
        security,
        params: IdParams,
        body: Type.Object(
          {
            code: Type.Optional(fields.code),
            kind: Type.Optional(fields.kind),
            value: Type.Optional(fields.value),
            minSubtotal: fields.minSubtotal,
            startsAt: fields.startsAt,
            endsAt: fields.endsAt,
            maxRedemptions: fields.maxRedemptions,
            perCustomerLimit: fields.perCustomerLimit,
            active: fields.active,
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Coupon, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => out(await updateCoupon(db, request.params.id, request.body)),
  );

  app.delete(
    '/coupons/:id',
    {
      config,
      schema: {
        tags,
        operationId: 'deleteCoupon',
        summary: 'Delete a coupon (one that was ever redeemed is deactivated instead)',
        security,
        params: IdParams,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      await deleteCoupon(db, request.params.id);
      return reply.code(204).send(null);
    },
  );
};
export default couponRoutes;
