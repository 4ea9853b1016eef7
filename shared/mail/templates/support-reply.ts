import { Type } from 'typebox';
import { defineTemplate } from '../define.js';
import { html, paragraph } from '../html.js';

/** An approved support reply to the customer: the body exactly as frozen at submit, line breaks kept. */
export default defineTemplate({
  schema: Type.Object({ name: Type.String(), number: Type.String(), subject: Type.String(), body: Type.String({ minLength: 1 }) }),
  subject: (d, ctx) => `Re: ${d.subject} [${d.number}] – ${ctx.shopName}`,
  html: (d) => html`${paragraph(`Hello ${d.name},`)} ${d.body.split(/\r?\n/).map((line) => paragraph(line))}`,
  text: (d) => `Hello ${d.name},\n\n${d.body}\n\n(${d.number})`,
});
