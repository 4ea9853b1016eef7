/**
 * The mail templates. Adding one takes two steps:
 *
 *   1. `shared/mail/templates/<name>.ts`:
 *        export default defineTemplate({
 *          schema: Type.Object({ name: Type.String(), orderNumber: Type.String() }),   // the data it needs
 *          subject: (d, ctx) => `Order ${d.orderNumber} at ${ctx.shopName}`,
 *          html: (d) => html`${paragraph(`Hello ${d.name},`)} ${button(link, 'View order')}`, // values escaped
 *          text: (d) => `Hello ${d.name}, ...`,
 *        });
 *   2. one line below: `'order-confirmation': orderConfirmation,`
 *
 * Then, inside the transaction that causes the mail (never after it, never sending directly):
 *
 *   await enqueueMail(trx, config, 'order-confirmation', user.email, { name, orderNumber });
 *   // secrets (links carrying tokens) go in `secret`: sealed with ENCRYPTION_KEY in the outbox and job data
 *   await enqueueMail(trx, config, 'reset-password', email, { name }, { secret: { link } });
 *   // link to an order: the worker puts the signed, expiring link in `orderUrl` when it sends
 *   await enqueueMail(trx, null, 'order-shipped', email, data, { orderLinkOf: orderId });
 *   // attach the invoice PDF of an order (resolved in the worker, see shared/mail/attachments.ts)
 *   await enqueueMail(trx, config, 'receipt', email, data, { attachInvoiceOf: orderId });
 *
 * The worker (worker/processors/email.ts) checks the data against the schema, renders HTML and text inside
 * the layout (shop name, PUBLIC_URL), and sends once per job via SMTP_URL, Resend, or the log in development.
 */
import type { MailTemplate } from './define.js';
import cartReminder from './templates/cart-reminder.js';
import dataExport from './templates/data-export.js';
import lowStock from './templates/low-stock.js';
import newSignIn from './templates/new-sign-in.js';
import notification from './templates/notification.js';
import orderConfirmation from './templates/order-confirmation.js';
import orderShipped from './templates/order-shipped.js';
import passwordChanged from './templates/password-changed.js';
import paymentProblem from './templates/payment-problem.js';
import paymentReceipt from './templates/payment-receipt.js';
import refund from './templates/refund.js';
import resetPassword from './templates/reset-password.js';
import supportReply from './templates/support-reply.js';
import twoFactorEnabled from './templates/two-factor-enabled.js';
import verifyEmail from './templates/verify-email.js';
import welcome from './templates/welcome.js';

export const templates = {
  'verify-email': verifyEmail,
  welcome,
  'reset-password': resetPassword,
  'password-changed': passwordChanged,
  'two-factor-enabled': twoFactorEnabled,
  'new-sign-in': newSignIn,
  'order-confirmation': orderConfirmation,
  'payment-receipt': paymentReceipt,
  'order-shipped': orderShipped,
  refund,
  'payment-problem': paymentProblem,
  'low-stock': lowStock,
  'support-reply': supportReply,
  notification,
  'cart-reminder': cartReminder,
  'data-export': dataExport,
} satisfies Record<string, MailTemplate>;

export type TemplateName = keyof typeof templates;
