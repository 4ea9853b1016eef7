import fc from 'fast-check';
import t from 'tap';
import { largestRemainder, unitShares } from '../../shared/returns/split.js';

/** The per-unit refund split: every unit's discount share by largest remainder, plus its VAT share. */

t.test('discount shares sum to the discount, are never negative and never exceed their unit', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ unitPrice: fc.integer({ min: 0, max: 50_000_000 }), quantity: fc.integer({ min: 1, max: 5 })}), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 0, max: 400_000_000 }),
      fc.integer({ min: 0, max: 40_000_000 }),
      (raw, discountAsked, taxAsked) => {
        const lines = raw.map((l, i) => ({ id: `line-${i}`, ...l }));
        const subtotal = lines.reduce((s, l) => s + l.unitPrice * l.quantity, 0);
        const discount = Math.min(discountAsked, subtotal);
        const tax = subtotal - discount > 0 ? taxAsked : 0;
        const shares = unitShares({ discount, tax }, lines);
        const units = [...shares.values()].flat();
        const sum = (f: (u: (typeof units)[number]) => number) => units.reduce((s, u) => s + f(u), 0);
        return (
          units.length === lines.reduce((s, l) => s + l.quantity, 0) &&
          sum((u) => u.discount) === discount &&
          sum((u) => u.tax) === tax &&
          units.every((u) => u.discount >= 0 && u.discount <= u.price && u.tax >= 0 && u.paid >= 0 && u.paid === u.price - u.discount + u.tax) &&
          sum((u) => u.paid) === subtotal - discount + tax
        );
      },
    ),
    { numRuns: 2_000, seed: 13 },
  );
  t.pass('2000 orders');
});

t.test('largest remainder: the floors, then the largest remainders, ties to the earlier unit', async (t) => {
  t.same(largestRemainder(100, [1, 1, 1]), [34, 33, 33]);
  t.same(largestRemainder(10, [3, 3, 4]), [3, 3, 4]);
  t.same(largestRemainder(5, [0, 0]), [0, 0], 'nothing to weigh: nothing taken');
  t.same(largestRemainder(1, [2, 5, 5]), [0, 1, 0]);
  // Big enough that price × discount leaves the safe integers.
  const big = largestRemainder(999_999_999_999, [900_000_000_001, 99_999_999_998]);
  t.equal(big[0] + big[1], 999_999_999_999);
});

t.test('an order with a discount, VAT and shipping: its units refund exactly total − shipping', async (t) => {
  const shares = unitShares({ discount: 250_000, tax: 168_750 }, [
    { id: 'a', unitPrice: 1_000_000, quantity: 2 },
    { id: 'b', unitPrice: 500_000, quantity: 1 },
  ]);
  t.same(
    shares.get('a')!.map((u) => u.paid),
    [967_500, 967_500],
  );
  t.same(
    shares.get('b')!.map((u) => u.paid),
    [483_750],
  );
  // Three units of ₦10 with a ₦10 discount: 3.33 each, the odd kobo to the first.
  const odd = unitShares({ discount: 1000, tax: 0 }, [{ id: 'x', unitPrice: 1000, quantity: 3 }]);
  t.same(
    odd.get('x')!.map((u) => u.discount),
    [334, 333, 333],
  );
});
