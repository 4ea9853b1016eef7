const SYMBOLS: Record<string, string> = { NGN: '₦', USD: '$', GBP: '£', EUR: '€' };

/**
 * Minor units as a printed amount: 1250000 kobo → "₦12,500.00". Integer arithmetic only (no float
 * division), so large amounts never pick up rounding noise.
 */
export function formatMoney(minor: number, currency = 'NGN'): string {
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  const major = Math.trunc(abs / 100).toLocaleString('en-US');
  const cents = String(abs % 100).padStart(2, '0');
  return `${sign}${SYMBOLS[currency] ?? `${currency} `}${major}.${cents}`;
}
