/**
 * What each unit of an order paid: its price, less its share of the order's discount, plus its share of the
 * order's VAT. Shares are by largest remainder (Hamilton): proportional to the unit's weight, floored, and
 * the kobo the floors leave go to the largest remainders (ties: the earlier unit). So the discount shares sum
 * to the discount exactly, none is negative or above its unit's price, and the VAT shares sum to the VAT:
 * the units of an order together paid exactly `total − shipping`, and returns never refund more than that.
 * In BigInt: price × discount overflows 2^53 for big orders.
 */

/** Splits `total` (≥ 0) over `weights` (≥ 0) by largest remainder. All-zero weights take nothing. */
export function largestRemainder(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((s, w) => s + BigInt(w), 0n);
  if (sum === 0n || total <= 0) return weights.map(() => 0);
  const t = BigInt(total);
  const base = weights.map((w) => (t * BigInt(w)) / sum);
  const rems = weights.map((w, i) => ({ i, rem: (t * BigInt(w)) % sum }));
  let left = t - base.reduce((s, b) => s + b, 0n);
  rems.sort((a, b) => (a.rem === b.rem ? a.i - b.i : a.rem > b.rem ? -1 : 1));
  for (const { i } of rems) {
    if (left <= 0n) break;
    base[i] += 1n;
    left -= 1n;
  }
  return base.map(Number);
}

export interface PricedLine {
  id: string;
  unitPrice: number;
  quantity: number;
}

export interface UnitShares {
  price: number;
  discount: number;
  tax: number;
  /** What the unit paid: price − discount + tax. */
  paid: number;
}

/**
 * Every unit of every line of an order, in the lines' given order (callers pass them sorted by id, so the
 * split is the same on every read), with what it paid. The discount is capped at the subtotal.
 */
export function unitShares(order: { discount: number; tax: number }, lines: readonly PricedLine[]): Map<string, UnitShares[]> {
  const units = lines.flatMap((l) => Array.from({ length: l.quantity }, () => ({ line: l.id, price: l.unitPrice })));
  const subtotal = units.reduce((s, u) => s + u.price, 0);
  const discounts = largestRemainder(Math.min(Math.max(order.discount, 0), subtotal), units.map((u) => u.price));
  const nets = units.map((u, i) => u.price - discounts[i]);
  const taxes = largestRemainder(Math.max(order.tax, 0), nets);
  const out = new Map<string, UnitShares[]>(lines.map((l) => [l.id, []]));
  units.forEach((u, i) => out.get(u.line)!.push({ price: u.price, discount: discounts[i], tax: taxes[i], paid: nets[i] + taxes[i] }));
  return out;
}
