import { Type } from 'typebox';
import { defineTemplate } from '../define.js';
import { html, paragraph } from '../html.js';

export default defineTemplate({
  schema: Type.Object({ name: Type.String(), device: Type.String(), ip: Type.String(), at: Type.String() }),
  subject: (_d, ctx) => `New sign-in to your ${ctx.shopName} account`,
  html: (d) => html`${paragraph(`Hello ${d.name},`)}
${paragraph(`Your account was signed in from a new device: ${d.device} (${d.ip}) at ${d.at}.`)}
${paragraph('If this was you, nothing to do. If not, reset your password and sign out the other sessions.')}`,
  text: (d) => `Hello ${d.name},

Your account was signed in from a new device: ${d.device} (${d.ip}) at ${d.at}.
If this was you, nothing to do. If not, reset your password and sign out the other sessions.`,
});
