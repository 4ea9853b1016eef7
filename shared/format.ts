/** How amounts and addresses are printed, the same in mails, invoices and alerts. */
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

/** Turns a stored shipping address (free-form JSON) into printable lines. */
export function addressLines(address: unknown): string[] {
  if (!address || typeof address !== 'object') return typeof address === 'string' ? [address] : [];
  const a = address as Record<string, unknown>;
  const keys = ['name', 'line1', 'line2', 'street', 'city', 'state', 'postalCode', 'country', 'phone'];
  const known = keys.map((k) => a[k]).filter((v): v is string => typeof v === 'string' && v.trim() !== '');
  if (known.length) return known;
  return Object.values(a).filter((v): v is string => typeof v === 'string' && v.trim() !== '');
}
