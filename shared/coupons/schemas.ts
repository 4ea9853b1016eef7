import { StringEnum } from '../schemas.js';

/** percent: value 1–100; fixed: value in kobo; free_shipping: value ignored. */
export const couponKinds = ['percent', 'fixed', 'free_shipping'] as const;
export type CouponKind = (typeof couponKinds)[number];
export const CouponKindSchema = StringEnum(couponKinds);
