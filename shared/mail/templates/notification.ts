import { Type } from 'typebox';
import { defineTemplate } from '../define.js';
import { button, html, paragraph } from '../html.js';

/** The mail channel of a notification (shared/notifications/fanout.ts): its title and body. */
export default defineTemplate({
  schema: Type.Object({ name: Type.String(), title: Type.String(), body: Type.String(), url: Type.Optional(Type.String()) }),
  subject: (d, ctx) => `${d.title} – ${ctx.shopName}`,
  html: (d) => html`${paragraph(`Hello ${d.name},`)} ${paragraph(d.body)} ${d.url ? button(d.url, 'Open') : ''}`,
  text: (d) => [`Hello ${d.name},`, d.body, d.url ?? ''].filter(Boolean).join('\n\n'),
});
