/** HTML that is already safe to insert (built by `html` or passed through `raw`). */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString() {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (value: string | number | boolean | null | undefined) =>
  String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

/** Marks trusted markup as safe. Never pass template data through this. */
export const raw = (markup: string) => new SafeHtml(markup);

/**
 * Tagged template for mail markup: every interpolated value is escaped unless it is SafeHtml (nested
 * `html` fragments); arrays are joined. `html\`<p>Hello ${name}</p>\`` cannot inject markup.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  const piece = (v: unknown): string =>
    v instanceof SafeHtml ? v.value : Array.isArray(v) ? v.map(piece).join('') : v === false || v == null ? '' : escapeHtml(typeof v === 'object' ? JSON.stringify(v) : (v as string | number | boolean));
  return new SafeHtml(strings.reduce((out, s, i) => out + s + (i < values.length ? piece(values[i]) : ''), ''));
}

/** A call-to-action link styled as a button (the URL is escaped like any value). */
export const button = (href: string, label: string) =>
  html`<p style="margin:24px 0"><a href="${href}" style="background:#111;color:#fff;padding:12px 20px;border-radius:6px;text-decoration:none;display:inline-block">${label}</a></p>`;

export const paragraph = (text: string) => html`<p style="margin:0 0 16px">${text}</p>`;
