import { Type } from 'typebox';
import { defineTemplate } from '../define.js';
import { button, html, paragraph } from '../html.js';

export default defineTemplate({
  schema: Type.Object({ name: Type.String(), link: Type.String() }),
  subject: () => 'Reset your password',
  html: (d) => html`${paragraph(`Hello ${d.name},`)}
${paragraph('Someone asked to reset your password. The link works once and expires in one hour.')}
${button(d.link, 'Choose a new password')}
${paragraph('If it was not you, ignore this mail: your password stays as it is.')}`,
  text: (d) => `Hello ${d.name},

Someone asked to reset your password. The link works once and expires in one hour:
${d.link}

If it was not you, ignore this mail: your password stays as it is.`,
});
