import { StringEnum } from '../schemas.js';

/** percent: value 1–100; fixed: value in kobo; free_shipping: value ignored. */
export const couponKinds = ['percent', 'fixed', 'free_shipping'] as const;
export type CouponKind = (typeof couponKinds)[number];
export const CouponKindSchema = StringEnum(couponKinds);

/** Why a coupon does not apply (400 invalid_coupon `reason`, and a cart's coupon while it does not apply). */
export const couponRejections = ['expired', 'not_started', 'minimum_not_met', 'used_up', 'not_found'] as const;
export type CouponRejection = (typeof couponRejections)[number];
