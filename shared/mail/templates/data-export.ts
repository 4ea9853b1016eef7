import { Type } from 'typebox';
import { defineTemplate } from '../define.js';
import { button, html, paragraph } from '../html.js';

/** The customer's data archive is ready (shared/customers/data-export.ts); the link expires in 24 hours. */
export default defineTemplate({
  schema: Type.Object({ name: Type.String(), link: Type.String(), expiresAt: Type.String() }),
  subject: (_d, ctx) => `Your data from ${ctx.shopName} is ready`,
  html: (d) => html`${paragraph(`Hello ${d.name},`)}
${paragraph('The archive of the data we hold about you is ready. The link works until ' + d.expiresAt + ' (24 hours), then the archive is deleted.')}
${button(d.link, 'Download my data')}
${paragraph('If you did not ask for it, change your password: someone may have signed in as you.')}`,
  text: (d) => `Hello ${d.name},

The archive of the data we hold about you is ready. The link works until ${d.expiresAt} (24 hours), then the archive is deleted:
${d.link}

If you did not ask for it, change your password: someone may have signed in as you.`,
});
