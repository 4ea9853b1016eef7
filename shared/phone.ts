import { ValidationError } from './errors.js';

/**
 * Phone numbers are stored in E.164 (`+2348031234567`). Besides international forms (`+…`, `00…`),
 * Nigerian numbers are accepted as people write them: `0803 123 4567`, `803 123 4567`, `234 803 …`.
 * Spaces, dots, dashes and brackets are ignored.
 */
export function normalizePhone(raw: string): string | null {
  const compact = raw.trim().replace(/[\s().-]/g, '');
  let digits: string | undefined;
  if (/^\+\d+$/.test(compact)) digits = compact.slice(1);
  else if (/^00\d+$/.test(compact)) digits = compact.slice(2);
  else if (/^0[1-9]\d{7,9}$/.test(compact))
    digits = `234${compact.slice(1)}`; // national form with the trunk 0
  else if (/^234\d{8,10}$/.test(compact)) digits = compact;
  else if (/^[789][01]\d{8}$/.test(compact)) digits = `234${compact}`; // a mobile number without its 0
  if (!digits || !/^[1-9]\d{6,14}$/.test(digits)) return null;
  // Nigeria: 8 (Lagos landlines) to 10 (mobiles) digits after the country code.
  if (digits.startsWith('234') && !/^234[1-9]\d{7,9}$/.test(digits)) return null;
  return `+${digits}`;
}

/** The normalized number, or 400 validation_failed naming the field. */
export function assertPhone(raw: string, path: string): string {
  const phone = normalizePhone(raw);
  if (!phone) {
    throw new ValidationError('The phone number is not valid', [
      {
        path,
        message: 'must be an international number (+234 803 123 4567) or a Nigerian one (0803 123 4567)',
      },
    ]);
  }
  return phone;
}
