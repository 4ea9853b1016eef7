import fc from 'fast-check';
import t from 'tap';
import { computeTotals, discountOf, mulDivHalfUp, rateToPpm, shippingOf } from '../../shared/pricing/index.js';

t.test('percent discounts round half-up once, on the whole subtotal', async (t) => {
  t.equal(discountOf(1_005, { kind: 'percent', value: 10 }), 101, '100.5 → 101');
  t.equal(discountOf(1_004, { kind: 'percent', value: 10 }), 100, '100.4 → 100');
  t.equal(discountOf(1_015, { kind: 'percent', value: 10 }), 102, '101.5 → 102 (half-up, not banker’s)');
  t.equal(discountOf(999, { kind: 'percent', value: 100 }), 999);
  t.equal(discountOf(0, { kind: 'percent', value: 50 }), 0);
  // Once on the subtotal, not per line: 3 lines of 5 at 10% = 1.5 → 2 (per line would be 0+0+0 or 1+1+1).
  t.equal(computeTotals({ lines: [{ unitPrice: 5, quantity: 1 }, { unitPrice: 5, quantity: 1 }, { unitPrice: 5, quantity: 1 }], coupon: { kind: 'percent', value: 10 }, vatRate: 0 }).discount, 2);
});

t.test('fixed discounts never go below zero; free shipping zeroes shipping only', async (t) => {
  t.equal(discountOf(5_000, { kind: 'fixed', value: 2_000 }), 2_000);
  t.equal(discountOf(1_500, { kind: 'fixed', value: 2_000 }), 1_500, 'capped at the subtotal');
  const totals = computeTotals({ lines: [{ unitPrice: 1_500, quantity: 1 }], coupon: { kind: 'fixed', value: 2_000 }, shipping: { price: 300, freeOver: null }, vatRate: 0.075 });
  t.same(totals, { subtotal: 1_500, discount: 1_500, shipping: 300, tax: 0, total: 300 });
  const free = computeTotals({ lines: [{ unitPrice: 10_000, quantity: 2 }], coupon: { kind: 'free_shipping', value: 0 }, shipping: { price: 2_500, freeOver: null }, vatRate: 0.075 });
  t.same(free, { subtotal: 20_000, discount: 0, shipping: 0, tax: 1_500, total: 21_500 });
});

t.test('shipping is free at or above freeOver (discounted subtotal); none chosen is 0', async (t) => {
  t.equal(shippingOf(50_000, { price: 2_500, freeOver: 50_000 }), 0);
  t.equal(shippingOf(49_999, { price: 2_500, freeOver: 50_000 }), 2_500);
  t.equal(shippingOf(49_999, null), 0);
  // 60 000 − 20% = 48 000 < 50 000: the discount can cost free shipping.
  t.equal(computeTotals({ lines: [{ unitPrice: 60_000, quantity: 1 }], coupon: { kind: 'percent', value: 20 }, shipping: { price: 2_500, freeOver: 50_000 }, vatRate: 0 }).shipping, 2_500);
});

t.test('VAT is its own line on the discounted subtotal, half-up, shipping untaxed', async (t) => {
  const r = computeTotals({ lines: [{ unitPrice: 1_000_000, quantity: 2 }, { unitPrice: 250_050, quantity: 1 }], coupon: { kind: 'percent', value: 10 }, shipping: { price: 250_000, freeOver: null }, vatRate: 0.075 });
  t.same(r, { subtotal: 2_250_050, discount: 225_005, shipping: 250_000, tax: 151_878, total: 2_426_923 });
  t.equal(computeTotals({ lines: [{ unitPrice: 20, quantity: 1 }], vatRate: 0.075 }).tax, 2, '1.5 → 2');
  t.equal(computeTotals({ lines: [{ unitPrice: 6, quantity: 1 }], vatRate: 0.075 }).tax, 0, '0.45 → 0');
  t.equal(rateToPpm(0.075), 75_000n);
  t.equal(mulDivHalfUp(Number.MAX_SAFE_INTEGER, 1n, 1n), Number.MAX_SAFE_INTEGER, 'BigInt arithmetic: no float drift at 2^53');
});

t.test('bad amounts are refused, not silently rounded', async (t) => {
  t.throws(() => computeTotals({ lines: [{ unitPrice: 10.5, quantity: 1 }], vatRate: 0 }), RangeError);
  t.throws(() => computeTotals({ lines: [{ unitPrice: -1, quantity: 1 }], vatRate: 0 }), RangeError);
  t.throws(() => computeTotals({ lines: [{ unitPrice: 1, quantity: 0 }], vatRate: 0 }), RangeError);
  t.throws(() => computeTotals({ lines: [], vatRate: 1.5 }), RangeError);
  t.same(computeTotals({ lines: [], vatRate: 0.075 }), { subtotal: 0, discount: 0, shipping: 0, tax: 0, total: 0 });
});

const line = fc.record({ unitPrice: fc.integer({ min: 0, max: 50_000_000 }), quantity: fc.integer({ min: 1, max: 99 }) });
const coupon = fc.option(
  fc.oneof(
    fc.record({ kind: fc.constant('percent' as const), value: fc.integer({ min: 1, max: 100 }) }),
    fc.record({ kind: fc.constant('fixed' as const), value: fc.integer({ min: 1, max: 100_000_000 }) }),
    fc.record({ kind: fc.constant('free_shipping' as const), value: fc.constant(0) }),
  ),
);
const shipping = fc.option(fc.record({ price: fc.integer({ min: 0, max: 5_000_000 }), freeOver: fc.option(fc.integer({ min: 0, max: 100_000_000 })) }));
const vatRate = fc.integer({ min: 0, max: 250_000 }).map((ppm) => ppm / 1_000_000);

t.test('properties: total = subtotal − discount + shipping + tax; nothing negative or fractional', async (t) => {
  fc.assert(
    fc.property(fc.array(line, { maxLength: 100 }), coupon, shipping, vatRate, (lines, c, s, rate) => {
      const r = computeTotals({ lines, coupon: c, shipping: s, vatRate: rate });
      for (const v of Object.values(r)) if (!Number.isSafeInteger(v) || v < 0) return false;
      if (r.total !== r.subtotal - r.discount + r.shipping + r.tax) return false;
      if (r.discount > r.subtotal) return false;
      if (r.subtotal !== lines.reduce((n, l) => n + l.unitPrice * l.quantity, 0)) return false;
      // Tax is within half a kobo of the exact value.
      const exact = (r.subtotal - r.discount) * rate;
      return Math.abs(r.tax - exact) <= 0.5 + 1e-6 * Math.max(1, exact);
    }),
    { numRuns: 2_000 },
  );
  t.pass('held for 2 000 random carts');
});

t.test('properties: more discount never raises the total before shipping; percent is monotone', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e10 }), fc.integer({ min: 1, max: 99 }), (subtotal, pct) => {
      const a = discountOf(subtotal, { kind: 'percent', value: pct });
      const b = discountOf(subtotal, { kind: 'percent', value: pct + 1 });
      return a <= b && b <= subtotal && Math.abs(a - (subtotal * pct) / 100) <= 0.5;
    }),
    { numRuns: 2_000 },
  );
  t.pass('monotone and within half a kobo');
});
