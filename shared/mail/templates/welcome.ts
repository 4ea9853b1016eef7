import { Type } from 'typebox';
import { defineTemplate } from '../define.js';
import { button, html, paragraph } from '../html.js';

export default defineTemplate({
  schema: Type.Object({ name: Type.String() }),
  subject: (_d, ctx) => `Welcome to ${ctx.shopName}`,
  html: (d, ctx) =>
    html`${paragraph(`Hello ${d.name},`)}
    ${paragraph(`Welcome to ${ctx.shopName}. Your account is ready: save your addresses for a faster checkout, follow your orders and review what you receive.`)}
    ${button(ctx.publicUrl, 'Start shopping')}
    ${paragraph('We also sent you a separate mail to confirm your address.')}`,
  text: (d, ctx) => `Hello ${d.name},

Welcome to ${ctx.shopName}. Your account is ready: save your addresses for a faster checkout, follow your orders and review what you receive.

Start shopping: ${ctx.publicUrl}

We also sent you a separate mail to confirm your address.`,
});
