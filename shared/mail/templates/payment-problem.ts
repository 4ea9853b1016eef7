import { Type } from 'typebox';
import { formatMoney } from '../../format.js';
import { defineTemplate } from '../define.js';
import { button, html, paragraph } from '../html.js';

const Money = Type.Object({
  amount: Type.Integer(),
  currency: Type.String(),
  status: Type.Optional(Type.String()),
});
const OptionalNullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) =>
  Type.Optional(Type.Union([t, Type.Null()]));

const LABELS: Record<string, string> = {
  amount_mismatch: 'Amount paid differs from the order total',
  currency_mismatch: 'Paid in another currency',
  unknown_reference: 'Payment for a reference we do not know',
  paid_but_cancelled: 'Payment for an order that was already cancelled',
  ours_paid_theirs_not: 'Order paid here but not at Paystack',
  paid_twice: 'Order paid twice',
  refund_failed: 'A refund failed at Paystack',
  payment_unconfirmed: 'A payment Paystack could not confirm for a long while',
  refund_stuck: 'A refund that has not reached Paystack for a long while',
  order_ledger_mismatch: 'An order’s paid and refunded totals differ from its payments and refunds',
  rollup_mismatch: 'The sales reports’ daily totals differ from the payments and refunds they sum',
  paystack_daily_mismatch: 'A day’s payments differ from Paystack’s transaction list',
  credit_ledger_mismatch: 'The store-credit ledger does not add up',
};

const money = (m: { amount: number; currency: string } | null | undefined) =>
  m ? formatMoney(m.amount, m.currency) : '–';

/**
 * To staff (managers and admins) about a payment that needs a person: verify/reconciliation problems
 * (shared/payments/notices.ts) and failed refunds (shared/payments/refund-events.ts).
 */
export default defineTemplate({
  schema: Type.Object({
    kind: Type.String(),
    reference: OptionalNullable(Type.String()),
    orderId: OptionalNullable(Type.String()),
    orderNumber: OptionalNullable(Type.String()),
    expected: OptionalNullable(Money),
    actual: OptionalNullable(Money),
    adminUrl: Type.Optional(Type.String()),
    refundId: Type.Optional(Type.String()),
    amount: Type.Optional(Type.Integer()),
    currency: Type.Optional(Type.String()),
    detail: Type.Optional(Type.String()),
  }),
  subject: (d) =>
    `[Payment problem] ${LABELS[d.kind] ?? d.kind}${d.orderNumber ? ` – order ${d.orderNumber}` : ''}`,
  html: (d) =>
    html`${paragraph(LABELS[d.kind] ?? d.kind)}
    ${paragraph(`Order: ${d.orderNumber ?? 'unknown'}${d.reference ? ` · Paystack reference ${d.reference}` : ''}`)}
    ${d.expected || d.actual ? paragraph(`Expected ${money(d.expected)}; Paystack reports ${money(d.actual)}${d.actual?.status ? ` (${d.actual.status})` : ''}.`) : ''}
    ${d.refundId ? paragraph(`Refund ${d.refundId} of ${money(d.amount !== undefined && d.currency ? { amount: d.amount, currency: d.currency } : null)}.`) : ''}
    ${d.detail ? paragraph(d.detail) : ''} ${d.adminUrl ? button(d.adminUrl, 'Open in admin') : ''}`,
  text: (d) =>
    [
      LABELS[d.kind] ?? d.kind,
      `Order: ${d.orderNumber ?? 'unknown'}${d.reference ? ` · Paystack reference ${d.reference}` : ''}`,
      d.expected || d.actual ? `Expected ${money(d.expected)}; Paystack reports ${money(d.actual)}.` : '',
      d.refundId
        ? `Refund ${d.refundId} of ${money(d.amount !== undefined && d.currency ? { amount: d.amount, currency: d.currency } : null)}.`
        : '',
      d.detail ?? '',
      d.adminUrl ? `Admin: ${d.adminUrl}` : '',
    ]
      .filter(Boolean)
      .join('\n'),
});
