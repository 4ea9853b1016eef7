/**
 * Reviews are plain text: markup is removed when a review or reply is written, so no client ever
 * receives a tag it could render, whatever it does with the string. Removing (not escaping) keeps the
 * stored text what a reader sees; a lone `<` that cannot start a tag ("5 < 6", "<3") stays.
 */
const TAG = /<[a-zA-Z/!?][^<>]*>/g;
// Whatever could still open a tag once the complete ones are gone ("<img src=x onerror=..." cut short).
const TAG_OPENER = /<(?=[a-zA-Z/!?])/g;
// C0/C1 controls except tab and newline, zero-width and bidi overrides (text that hides or reorders itself).
const INVISIBLE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2066-\u2069\uFEFF]/g;

export function plainText(input: string | null | undefined): string | null {
  if (input === null || input === undefined) return null;
  let text = input.normalize('NFC').replace(/\r\n?/g, '\n');
  // Until nothing changes: "<scr<b>ipt>" must not become "<script>" after one pass.
  for (let previous = ''; previous !== text;) {
    previous = text;
    text = text.replace(TAG, '');
  }
  text = text
    .replace(TAG_OPENER, '')
    .replace(INVISIBLE, '')
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return text === '' ? null : text;
}

/** "Ada Obi" → "Ada O.": enough to be a person, not enough to find them. */
export function displayName(name: string | null | undefined): string {
  const parts = (name ?? '').trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return 'Customer';
  const first = plainText(parts[0]) ?? 'Customer';
  const last = parts.length > 1 ? plainText(parts.at(-1)) : null;
  return last ? `${first} ${[...last][0].toUpperCase()}.` : first;
}
