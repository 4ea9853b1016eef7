import t from 'tap';
import type { Db } from '../../shared/db/index.js';
import { applyVerification } from '../../shared/payments/verify.js';
import { createPaidOrder } from '../support/fleet-fixtures.js';
import { createPendingOrder, startPaymentStack } from '../support/payment-fixtures.js';
import type { PaystackEmulator } from '../support/paystack-emulator.js';
import {
  mails,
  orderRow,
  payAgain,
  processAtPaystack,
  refundRequest,
  refundRow,
} from '../support/refund-fixtures.js';

/**
 * Refunds per payment: never more than each payment's own refundable amount, one Paystack refund per
 * payment a refund draws on; a flagged payment (wrong amount or currency, never applied) is refunded
 * in full by staff naming it.
 */

interface PartView {
  paymentReference: string;
  amount: number;
  currency: string;
}

/** Paystack's side of one transaction: what was paid and each refund of it. */
function ledger(emu: PaystackEmulator, reference: string) {
  const tx = emu.transactions.get(reference)!;
  const refunds = [...emu.refunds.values()].filter((r) => r.transactionReference === reference);
  return {
    paid: tx.amount,
    currency: tx.currency,
    refunds,
    processed: refunds.filter((r) => r.status === 'processed').reduce((sum, r) => sum + r.amount, 0),
  };
}

const refundMails = (db: Db) => mails(db, 'refund');

t.test(
  'an order paid twice, refunded in full: one Paystack refund per payment, each within its payment',
  async (t) => {
    const stack = await startPaymentStack(t, { queues: ['payment', 'refund'] });
    const { db, emu } = stack;
    const order = await createPaidOrder(db, stack, { price: 1_000_000, quantity: 1 });
    const second = await payAgain(db, stack, order);
    t.equal(second.outcome, 'paid_twice');
    t.equal((await orderRow(db, order.orderId)).amountPaid, 2_000_000);

    const res = await refundRequest(stack, order.orderId, { reason: 'charged twice: all back' });
    t.equal(res.statusCode, 202, res.body);
    const refund = res.json<{ id: string; amount: number; parts: PartView[] }>();
    t.equal(refund.amount, 2_000_000, 'the default is everything paid');
    t.same(
      refund.parts.map((p) => [p.paymentReference, p.amount, p.currency]),
      [
        [second.reference, 1_000_000, 'NGN'],
        [order.reference, 1_000_000, 'NGN'],
      ],
      'one part per payment, the latest first',
    );

    await processAtPaystack(db, emu, refund.id);
    for (const reference of [order.reference, second.reference]) {
      const l = ledger(emu, reference);
      t.equal(l.refunds.length, 1, `one refund of ${reference}`);
      t.ok(l.refunds[0].amount <= l.paid, 'within that payment');
      t.equal(l.processed, l.paid);
    }
    const o = await orderRow(db, order.orderId);
    t.equal(o.status, 'refunded');
    t.equal(o.amountRefunded, 2_000_000);
    t.equal((await refundRow(db, refund.id)).status, 'processed');
    const sent = await refundMails(db);
    t.equal(sent.length, 1, 'one mail for one refund');
    t.match(sent[0].data, { amount: 2_000_000, fullyRefunded: true });
  },
);

t.test('an order paid twice, refunded in two goes: the second refund spans both payments', async (t) => {
  const stack = await startPaymentStack(t, { queues: ['payment', 'refund'] });
  const { db, emu } = stack;
  const order = await createPaidOrder(db, stack, { price: 1_000_000, quantity: 1 });
  const second = await payAgain(db, stack, order);

  const first = await refundRequest(stack, order.orderId, {
    amount: 300_000,
    reason: 'part of the double charge',
  });
  t.equal(first.statusCode, 202, first.body);
  t.same(
    first.json<{ parts: PartView[] }>().parts.map((p) => [p.paymentReference, p.amount]),
    [[second.reference, 300_000]],
  );
  const rest = await refundRequest(stack, order.orderId, { reason: 'and the rest' });
  t.equal(rest.statusCode, 202, rest.body);
  t.same(
    rest.json<{ parts: PartView[] }>().parts.map((p) => [p.paymentReference, p.amount]),
    [
      [second.reference, 700_000],
      [order.reference, 1_000_000],
    ],
    'what the latest payment has left, then the earlier one',
  );
  const none = await refundRequest(stack, order.orderId, { amount: 1, reason: 'one kobo more' });
  t.equal(none.statusCode, 409);
  t.equal(none.json().code, 'refund_exceeds_paid');

  await processAtPaystack(db, emu, first.json<{ id: string }>().id);
  await processAtPaystack(db, emu, rest.json<{ id: string }>().id);
  for (const reference of [order.reference, second.reference]) {
    const l = ledger(emu, reference);
    t.equal(l.processed, l.paid, `${reference} refunded exactly what it paid`);
  }
  t.equal(emu.transactions.get(second.reference)?.status, 'reversed');
  const o = await orderRow(db, order.orderId);
  t.equal(o.amountRefunded, 2_000_000);
  t.equal(o.status, 'refunded');
});

t.test(
  'a payment of the wrong amount or currency (flagged, never applied) is refunded in full by staff',
  async (t) => {
    const stack = await startPaymentStack(t, { queues: ['payment', 'refund'] });
    const { db, emu } = stack;

    // Short-paid: ₦1,000 less than the order's total.
    const short = await createPendingOrder(db, { paystack: stack.paystack });
    await emu.pay(short.reference, { amount: short.total - 100_000, webhook: false });
    const verified = await applyVerification(db, short.reference, {
      paystack: stack.paystack,
      publicUrl: stack.config.PUBLIC_URL,
    });
    t.equal(verified.outcome, 'mismatch');

    const unnamed = await refundRequest(stack, short.orderId, { reason: 'short payment' });
    t.equal(unnamed.statusCode, 409, 'the order itself holds nothing');
    t.match(unnamed.json(), {
      code: 'order_not_refundable',
      flaggedPayments: [{ reference: short.reference, refundable: short.total - 100_000, currency: 'NGN' }],
    });
    const restock = await refundRequest(stack, short.orderId, {
      reason: 'short payment',
      paymentReference: short.reference,
      restock: true,
    });
    t.equal(restock.statusCode, 400, 'a payment never applied bought nothing to restock');
    const unknown = await refundRequest(stack, short.orderId, {
      reason: 'x',
      paymentReference: 'NOT-OURS-1',
    });
    t.equal(unknown.statusCode, 400);
    t.equal(unknown.json().code, 'unknown_payment');

    const res = await refundRequest(stack, short.orderId, {
      reason: 'short payment',
      paymentReference: short.reference,
    });
    t.equal(res.statusCode, 202, res.body);
    t.match(res.json(), {
      amount: short.total - 100_000,
      currency: 'NGN',
      parts: [{ paymentReference: short.reference, amount: short.total - 100_000 }],
    });
    await processAtPaystack(db, emu, res.json<{ id: string }>().id);
    t.equal(ledger(emu, short.reference).processed, short.total - 100_000, 'everything paid went back');
    let o = await orderRow(db, short.orderId);
    t.equal(o.status, 'pending_payment', 'the order is as it was');
    t.equal(o.amountPaid, 0);
    t.equal(o.amountRefunded, 0, 'never in the order’s books');
    const again = await refundRequest(stack, short.orderId, {
      reason: 'again',
      paymentReference: short.reference,
    });
    t.equal(again.statusCode, 409);
    t.equal(again.json().code, 'refund_exceeds_paid');

    // Paid in dollars for a naira order: refunded in dollars.
    const usd = await createPendingOrder(db, { paystack: stack.paystack });
    await emu.pay(usd.reference, { currency: 'USD', webhook: false });
    t.equal(
      (
        await applyVerification(db, usd.reference, {
          paystack: stack.paystack,
          publicUrl: stack.config.PUBLIC_URL,
        })
      ).outcome,
      'mismatch',
    );
    const dollars = await refundRequest(stack, usd.orderId, {
      reason: 'wrong currency',
      paymentReference: usd.reference,
    });
    t.equal(dollars.statusCode, 202, dollars.body);
    t.match(dollars.json(), { amount: usd.total, currency: 'USD', parts: [{ currency: 'USD' }] });
    await processAtPaystack(db, emu, dollars.json<{ id: string }>().id);
    const l = ledger(emu, usd.reference);
    t.equal(l.refunds[0].currency, 'USD');
    t.equal(l.processed, usd.total);
    o = await orderRow(db, usd.orderId);
    t.equal(o.amountRefunded, 0);
    t.equal(o.currency, 'NGN');
    t.same(
      (await refundMails(db)).map((m) => [m.to, m.data.amount, m.data.currency]),
      [
        [short.email, short.total - 100_000, 'NGN'],
        [usd.email, usd.total, 'USD'],
      ],
      'each customer is told what came back, in the currency paid',
    );
  },
);
