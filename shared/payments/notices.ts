import type { Trx } from '../db/index.js';
import { enqueue } from '../outbox.js';
import { staffEmails } from './refund-events.js';

/**
 * The jobs a payment outcome causes, written inside the same transaction as the outcome. The mail data
 * shapes below are what the `order-confirmation` and `payment-problem` templates receive.
 */

export interface OrderConfirmationData {
  orderId: string;
  orderNumber: string;
  name: string;
  total: number;
  currency: string;
  orderUrl: string;
}

export type PaymentProblemKind =
  | 'amount_mismatch'
  | 'currency_mismatch'
  | 'unknown_reference'
  | 'paid_but_cancelled'
  | 'ours_paid_theirs_not'
  | 'paid_twice';

export interface PaymentProblemData {
  kind: PaymentProblemKind;
  reference: string;
  orderId: string | null;
  orderNumber: string | null;
  expected: { amount: number; currency: string } | null;
  actual: { amount: number; currency: string; status?: string } | null;
  adminUrl: string;
}

interface PaidOrder {
  id: string;
  number: string;
  userId: string | null;
  email: string;
  customerName: string | null;
  total: number;
  currency: string;
}

/**
 * Confirmation mail, invoice, and the staff websocket notice for an order that became paid (the
 * customer's own `order.status_changed` notice comes with transitionOrder).
 */
export async function enqueuePaidJobs(trx: Trx, order: PaidOrder, publicUrl: string) {
  const data: OrderConfirmationData = {
    orderId: order.id,
    orderNumber: order.number,
    name: order.customerName ?? '',
    total: order.total,
    currency: order.currency,
    orderUrl: `${publicUrl}/orders/${order.id}`,
  };
  await enqueue(trx, 'email.send', { template: 'order-confirmation', to: order.email, data: { ...data } });
  await enqueue(trx, 'invoice.render', { orderId: order.id });
  const notice = { orderId: order.id, number: order.number, from: 'pending_payment', to: 'paid' };
  await enqueue(trx, 'system.notify', { type: 'order.status_changed', staff: true, data: notice });
}

/** Mails every manager/admin and tells staff sockets; once per problem (callers dedupe). */
export async function enqueuePaymentProblem(
  trx: Trx,
  problem: Omit<PaymentProblemData, 'adminUrl'>,
  publicUrl: string,
) {
  const data: PaymentProblemData = {
    ...problem,
    adminUrl: `${publicUrl}/admin/orders${problem.orderId ? `/${problem.orderId}` : ''}`,
  };
  for (const to of await staffEmails(trx))
    await enqueue(trx, 'email.send', { template: 'payment-problem', to, data: { ...data } });
  await enqueue(trx, 'system.notify', { type: 'payment.problem', staff: true, data: { ...data } });
}
