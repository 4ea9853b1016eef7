import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { createCoupon, deleteCoupon, findCoupon, listCoupons, updateCoupon, type CouponRow } from '../../shared/coupons/index.js';
import { NotFoundError } from '../../shared/errors.js';
import { IdParams, Page, PageQuery, problemResponses } from '../schemas.js';
import { Coupon, CouponInput } from '../../shared/coupons/schemas.js';

const tags = ['coupons'];
const security = [{ bearerAuth: [] }];

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
        body: Type.Object({ ...CouponInput.properties, value: Type.Optional(CouponInput.properties.value) }, { additionalProperties: false }),
        response: { 201: Coupon, ...problemResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(out(await createCoupon(db, { ...request.body, value: request.body.value ?? 0 }, request.auth?.id ?? null))),
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
            code: Type.Optional(CouponInput.properties.code),
            kind: Type.Optional(CouponInput.properties.kind),
            value: Type.Optional(CouponInput.properties.value),
            minSubtotal: CouponInput.properties.minSubtotal,
            startsAt: CouponInput.properties.startsAt,
            endsAt: CouponInput.properties.endsAt,
            maxRedemptions: CouponInput.properties.maxRedemptions,
            perCustomerLimit: CouponInput.properties.perCustomerLimit,
            active: CouponInput.properties.active,
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: Coupon, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => out(await updateCoupon(db, request.params.id, request.body, request.auth?.id ?? null)),
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
      await deleteCoupon(db, request.params.id, request.auth?.id ?? null);
      return reply.code(204).send(null);
    },
  );
};
export default couponRoutes;
