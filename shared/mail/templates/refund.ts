import { Type } from 'typebox';
import { formatMoney } from '../../format.js';
import { defineTemplate } from '../define.js';
import { html, paragraph } from '../html.js';

/** To the customer when Paystack has processed a refund (shared/payments/refund-events.ts). */
export default defineTemplate({
  schema: Type.Object({
    name: Type.String(),
    orderId: Type.String(),
    orderNumber: Type.String(),
    amount: Type.Integer(),
    currency: Type.String(),
    reason: Type.String(),
    fullyRefunded: Type.Boolean(),
    /** The part of `amount` paid back as store credit (spendable at once), if any. */
    storeCredit: Type.Optional(Type.Integer()),
  }),
  subject: (d, ctx) =>
    `Refund of ${formatMoney(d.amount, d.currency)} for order ${d.orderNumber} – ${ctx.shopName}`,
  html: (d) =>
    html`${paragraph(`Hello ${d.name || 'there'},`)}
    ${paragraph(`We have refunded ${formatMoney(d.amount, d.currency)} for order ${d.orderNumber}${d.fullyRefunded ? ' (the whole order)' : ''}.`)}
    ${paragraph(`Reason: ${d.reason}`)}
    ${d.storeCredit ? paragraph(`${formatMoney(d.storeCredit, d.currency)} of it is store credit on your account, to spend at once.`) : ''}
    ${d.storeCredit === d.amount ? '' : paragraph('Depending on your bank, it can take a few working days to show on your statement.')}`,
  text: (d) => `Hello ${d.name || 'there'},

We have refunded ${formatMoney(d.amount, d.currency)} for order ${d.orderNumber}${d.fullyRefunded ? ' (the whole order)' : ''}.
Reason: ${d.reason}
${d.storeCredit ? `${formatMoney(d.storeCredit, d.currency)} of it is store credit on your account, to spend at once.\n` : ''}${d.storeCredit === d.amount ? '' : '\nDepending on your bank, it can take a few working days to show on your statement.'}`,
});
