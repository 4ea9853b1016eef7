import type { MailContext } from './define.js';
import { html, type SafeHtml } from './html.js';

/** The frame every mail shares: shop name at the top, a link home at the bottom. */
export function layoutHtml(subject: string, body: SafeHtml, ctx: MailContext): string {
  return html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${subject}</title></head>
<body style="margin:0;background:#f6f6f6;font-family:Helvetica,Arial,sans-serif;color:#222">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0"><tr><td align="center" style="padding:24px">
<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="background:#fff;border-radius:8px;padding:32px">
<tr><td><h1 style="font-size:20px;margin:0 0 24px">${ctx.shopName}</h1>
${body}
<p style="margin:32px 0 0;font-size:12px;color:#888"><a href="${ctx.publicUrl}" style="color:#888">${ctx.shopName}</a></p>
</td></tr></table></td></tr></table>
</body>
</html>`.value;
}

export function layoutText(body: string, ctx: MailContext): string {
  return `${ctx.shopName}\n\n${body.trim()}\n\n--\n${ctx.shopName} · ${ctx.publicUrl}\n`;
}
