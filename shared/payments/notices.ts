import type { Trx } from '../db/index.js';
import { enqueueMail } from '../mail/enqueue.js';
import { enqueue } from '../outbox.js';
import { staffEmails } from './refund-events.js';
import type { PaymentProblem, PaymentProblemKind } from './schemas.js';

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
}

export type { PaymentProblemKind } from './schemas.js';

/**
 * The problem each kind reports. Staff want one mail per payment and problem, not one per code path
 * that noticed it: amount and currency mismatch are both "this payment does not match its order";
 * paid for a cancelled order and paid twice are both "money we must give back". The dedupe key is
 * (subject, problem): the subject is the payment reference, or the refund id for a refund's own problem
 * (two partial refunds of one payment are two refunds to chase).
 */
export const problemOf: Record<PaymentProblemKind, PaymentProblem> = {
  amount_mismatch: 'wrong_payment',
  currency_mismatch: 'wrong_payment',
  paid_but_cancelled: 'money_to_return',
  paid_twice: 'money_to_return',
  unknown_reference: 'unknown_payment',
  ours_paid_theirs_not: 'missing_at_paystack',
  payment_unconfirmed: 'unconfirmed',
  refund_stuck: 'refund_stuck',
  order_ledger_mismatch: 'ledger_mismatch',
  rollup_mismatch: 'ledger_mismatch',
  paystack_daily_mismatch: 'ledger_mismatch',
  credit_ledger_mismatch: 'ledger_mismatch',
};

export interface PaymentProblemData {
  kind: PaymentProblemKind;
  reference: string;
  orderId: string | null;
  orderNumber: string | null;
  expected: { amount: number; currency: string } | null;
  actual: { amount: number; currency: string; status?: string } | null;
  adminUrl: string;
  /** What happened or what was done about it (e.g. "refunded automatically"). */
  detail?: string;
  refundId?: string;
  amount?: number;
  currency?: string;
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
 * customer's own `order.status_changed` notice comes with transitionOrder). The mail's "view your order"
 * is the signed link a guest can open, made by the worker when it sends (`orderLinkOf`).
 */
export async function enqueuePaidJobs(trx: Trx, order: PaidOrder) {
  const data: OrderConfirmationData = {
    orderId: order.id,
    orderNumber: order.number,
    name: order.customerName ?? '',
    total: order.total,
    currency: order.currency,
  };
  await enqueueMail(trx, null, 'order-confirmation', order.email, data, { orderLinkOf: order.id });
  await enqueue(trx, 'invoice.render', { orderId: order.id });
  const notice = { orderId: order.id, number: order.number, from: 'pending_payment', to: 'paid' };
  await enqueue(trx, 'system.notify', { type: 'order.status_changed', staff: true, data: notice });
}

/**
 * Mails every manager/admin and tells staff sockets, once per subject and problem (see problemOf):
 * the claim is a row in `payment_problem_notices`, in the caller's transaction. False when this
 * problem of this payment (or refund) was reported already.
 */
export async function enqueuePaymentProblem(
  trx: Trx,
  problem: Omit<PaymentProblemData, 'adminUrl'>,
  publicUrl: string,
): Promise<boolean> {
  const claimed = await trx
    .insertInto('paymentProblemNotices')
    .values({
      subject: problem.refundId ? `refund:${problem.refundId}` : problem.reference,
      problem: problemOf[problem.kind],
      kind: problem.kind,
      orderId: problem.orderId,
    })
    .onConflict((oc) => oc.columns(['subject', 'problem']).doNothing())
    .returning('subject')
    .executeTakeFirst();
  if (!claimed) return false;
  const data: PaymentProblemData = {
    ...problem,
    adminUrl: `${publicUrl}/admin/orders${problem.orderId ? `/${problem.orderId}` : ''}`,
  };
  for (const to of await staffEmails(trx))
    await enqueueMail(trx, null, 'payment-problem', to, data);
  await enqueue(trx, 'system.notify', { type: 'payment.problem', staff: true, data: { ...data } });
  return true;
}
