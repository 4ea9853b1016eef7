import { Type } from 'typebox';
import { defineTemplate } from '../define.js';
import { button, html, paragraph } from '../html.js';

export default defineTemplate({
  schema: Type.Object({ name: Type.String(), link: Type.String() }),
  subject: (_d, ctx) => `Confirm your email for ${ctx.shopName}`,
  html: (d) => html`${paragraph(`Hello ${d.name},`)}
${paragraph('Please confirm your email address. The link works once and expires in 24 hours.')}
${button(d.link, 'Confirm my email')}
${paragraph('If you did not create an account, ignore this mail.')}`,
  text: (d) => `Hello ${d.name},

Please confirm your email address (the link works once and expires in 24 hours):
${d.link}

If you did not create an account, ignore this mail.`,
});
