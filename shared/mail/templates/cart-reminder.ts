import { Type } from 'typebox';
import { defineTemplate } from '../define.js';
import { button, html, paragraph } from '../html.js';

/** A signed-in customer's cart left behind (shared/customers/carts.ts); the unsubscribe link needs no sign-in. */
export default defineTemplate({
  schema: Type.Object({
    name: Type.String(),
    itemCount: Type.Integer({ minimum: 1 }),
    cartUrl: Type.String(),
    unsubscribeUrl: Type.String(),
  }),
  subject: (_d, ctx) => `You left something in your cart – ${ctx.shopName}`,
  html: (d) => html`${paragraph(`Hello ${d.name},`)}
${paragraph(`Your cart still holds ${d.itemCount === 1 ? 'one item' : `${d.itemCount} items`}. They are waiting for you.`)}
${button(d.cartUrl, 'Back to my cart')}
${paragraph('Not interested? You can stop these reminders with one click:')}
${button(d.unsubscribeUrl, 'Stop cart reminders')}`,
  text: (d) => `Hello ${d.name},

Your cart still holds ${d.itemCount === 1 ? 'one item' : `${d.itemCount} items`}. They are waiting for you:
${d.cartUrl}

Stop these reminders: ${d.unsubscribeUrl}`,
});
