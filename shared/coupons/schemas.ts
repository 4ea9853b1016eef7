import { Type, type Static } from 'typebox';
import { Nullable, StringEnum, Timestamp, Uuid } from '../schemas.js';

/** percent: value 1–100; fixed: value in kobo; free_shipping: value ignored. */
export const couponKinds = ['percent', 'fixed', 'free_shipping'] as const;
export type CouponKind = (typeof couponKinds)[number];
export const CouponKindSchema = StringEnum(couponKinds);

/** Why a coupon does not apply (400 invalid_coupon `reason`, and a cart's coupon while it does not apply). */
export const couponRejections = [
  'expired',
  'not_started',
  'minimum_not_met',
  'used_up',
  'not_found',
] as const;
export type CouponRejection = (typeof couponRejections)[number];

/** A coupon as staff manage it. */
export const Coupon = Type.Object({
  id: Uuid,
  code: Type.String(),
  kind: CouponKindSchema,
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

export const CouponInput = Type.Object(
  {
    code: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{2,39}$',
      description: '3–40 letters, digits, - or _; case-insensitive',
    }),
    kind: CouponKindSchema,
    value: Type.Integer({
      minimum: 0,
      maximum: 1_000_000_000,
      description: 'percent 1–100, fixed in minor units, free_shipping ignored',
    }),
    minSubtotal: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
    startsAt: Type.Optional(Nullable(Timestamp)),
    endsAt: Type.Optional(Nullable(Timestamp)),
    maxRedemptions: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 100_000_000 }))),
    perCustomerLimit: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 1000 }))),
    active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export type CouponInput = Static<typeof CouponInput>;
