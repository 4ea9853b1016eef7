import { Type } from 'typebox';
import { defineTemplate } from '../define.js';
import { html, paragraph } from '../html.js';

export default defineTemplate({
  schema: Type.Object({ name: Type.String() }),
  subject: () => 'Your password was changed',
  html: (d) => html`${paragraph(`Hello ${d.name},`)}
${paragraph('Your password was just changed and every device was signed out.')}
${paragraph('If this was not you, reset your password at once and contact us.')}`,
  text: (d) => `Hello ${d.name},

Your password was just changed and every device was signed out.
If this was not you, reset your password at once and contact us.`,
});
