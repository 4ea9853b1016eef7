/**
 * The one place money totals are computed. Pure and integer-only: every amount is kobo (minor units),
 * every result is a non-negative safe integer. Rounding happens in exactly two documented places:
 *  - a percent coupon: discount = round_half_up(subtotal × percent / 100), once, on the whole subtotal;
 *  - VAT: tax = round_half_up((subtotal − discount) × VAT_RATE), once, on the discounted subtotal.
 * Shipping is not taxed. Free shipping applies above a method's `freeOver` (compared with the discounted
 * subtotal) or with a free_shipping coupon. total = subtotal − discount + shipping + tax.
 */

interface PricedLine {
  unitPrice: number;
  quantity: number;
}

import type { CouponKind } from '../coupons/schemas.js';

export type { CouponKind } from '../coupons/schemas.js';

export interface PricingCoupon {
  kind: CouponKind;
  /** percent: 1–100; fixed: kobo; free_shipping: ignored. */
  value: number;
}

export interface PricingShipping {
  price: number;
  freeOver: number | null;
}

export interface PricingInput {
  lines: readonly PricedLine[];
  /** A coupon that applies (eligibility is decided by shared/coupons); null for none. */
  coupon?: PricingCoupon | null;
  /** The chosen shipping method; null while none is chosen (shipping 0). */
  shipping?: PricingShipping | null;
  /** VAT as a fraction (0.075). Converted once to parts per million so the arithmetic stays integral. */
  vatRate: number;
}

export interface Totals {
  subtotal: number;
  discount: number;
  shipping: number;
  tax: number;
  total: number;
}

const PPM = 1_000_000n;

function assertAmount(name: string, v: number) {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer of minor units, got ${v}`);
}

/** round_half_up(a × num / den) for non-negative integers, exact (BigInt: a × ppm can exceed 2^53). */
export function mulDivHalfUp(a: number, num: bigint, den: bigint): number {
  const n = BigInt(a) * num;
  const result = (n * 2n + den) / (2n * den);
  return Number(result);
}

/** VAT rate (0.075) → parts per million (75000), rounded once; rates are configured with ≤ 6 decimals. */
export const rateToPpm = (rate: number): bigint => {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`VAT rate must be within 0..1, got ${rate}`);
  return BigInt(Math.round(rate * 1_000_000));
};

function lineTotal(line: PricedLine): number {
  assertAmount('unitPrice', line.unitPrice);
  if (!Number.isSafeInteger(line.quantity) || line.quantity < 1) throw new RangeError(`quantity must be a positive integer, got ${line.quantity}`);
  const total = line.unitPrice * line.quantity;
  assertAmount('line total', total);
  return total;
}

function subtotalOf(lines: readonly PricedLine[]): number {
  let sum = 0;
  for (const l of lines) sum += lineTotal(l);
  assertAmount('subtotal', sum);
  return sum;
}

/** Discount of a coupon on a subtotal: percent half-up once, fixed capped at the subtotal, free shipping 0. */
export function discountOf(subtotal: number, coupon: PricingCoupon | null | undefined): number {
  assertAmount('subtotal', subtotal);
  if (!coupon) return 0;
  switch (coupon.kind) {
    case 'percent': {
      if (!Number.isInteger(coupon.value) || coupon.value < 0 || coupon.value > 100) throw new RangeError('percent must be 0..100');
      return mulDivHalfUp(subtotal, BigInt(coupon.value), 100n);
    }
    case 'fixed':
      assertAmount('coupon value', coupon.value);
      return Math.min(coupon.value, subtotal);
    case 'free_shipping':
      return 0;
  }
}

export function shippingOf(discountedSubtotal: number, method: PricingShipping | null | undefined, coupon?: PricingCoupon | null): number {
  if (!method) return 0;
  assertAmount('shipping price', method.price);
  if (coupon?.kind === 'free_shipping') return 0;
  if (method.freeOver !== null && discountedSubtotal >= method.freeOver) return 0;
  return method.price;
}

export function computeTotals(input: PricingInput): Totals {
  const subtotal = subtotalOf(input.lines);
  const discount = discountOf(subtotal, input.coupon);
  const taxable = subtotal - discount;
  const shipping = shippingOf(taxable, input.shipping, input.coupon);
  const tax = mulDivHalfUp(taxable, rateToPpm(input.vatRate), PPM);
  const total = taxable + shipping + tax;
  assertAmount('total', total);
  return { subtotal, discount, shipping, tax, total };
}
