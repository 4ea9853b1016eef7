import { Type } from 'typebox';
import { defineTemplate } from '../define.js';
import { html, paragraph } from '../html.js';

export default defineTemplate({
  schema: Type.Object({ name: Type.String() }),
  subject: () => 'Two-factor authentication is on',
  html: (d) => html`${paragraph(`Hello ${d.name},`)}
${paragraph('Two-factor authentication is now on for your account. Keep your recovery codes somewhere safe.')}
${paragraph('If this was not you, reset your password at once and contact us.')}`,
  text: (d) => `Hello ${d.name},

Two-factor authentication is now on for your account. Keep your recovery codes somewhere safe.
If this was not you, reset your password at once and contact us.`,
});
