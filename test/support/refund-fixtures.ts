import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../shared/db/index.js';
import { createPaystackClient } from '../../shared/integrations/paystack/client.js';
import { merchantNoteOf } from '../../shared/payments/refund-binding.js';
import { applyVerification } from '../../shared/payments/verify.js';
import { tokenFor } from './harness.js';
import { providerIdsOf, until, type startPaymentStack } from './payment-fixtures.js';
import type { PaystackEmulator } from './paystack-emulator.js';

type Stack = Awaited<ReturnType<typeof startPaymentStack>>;

/** The refund id of an accepted (202) refund request. */
export const idOf = async (res: Promise<{ json: <T>() => T; statusCode: number }>) => {
  const r = await res;
  if (r.statusCode !== 202) throw new Error(`refund not accepted: ${r.statusCode}`);
  return r.json<{ id: string }>().id;
};

/** The worker's Paystack client, but giving up after 300 ms: a create answer slower than this is a timeout. */
export const impatient = (stack: Pick<Stack, 'secretKey' | 'emu'>) =>
  createPaystackClient({
    secretKey: stack.secretKey,
    baseUrl: stack.emu.url,
    timeoutMs: 300,
    retryBaseMs: 5,
  });

/** POST /admin/orders/:id/refunds as a manager, with a fresh Idempotency-Key unless one is given. */
export function refundRequest(
  stack: Pick<Stack, 'app'>,
  orderId: string,
  body: Record<string, unknown>,
  key: string = randomUUID(),
) {
  return stack.app.inject({
    method: 'POST',
    url: `/api/v1/admin/orders/${orderId}/refunds`,
    headers: { authorization: tokenFor(stack.app, 'manager'), 'idempotency-key': key },
    payload: body,
  });
}

export const refundRow = (db: Db, id: string) =>
  db.selectFrom('refunds').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
export const orderRow = (db: Db, id: string) =>
  db.selectFrom('orders').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
export const onHand = async (db: Db, variantId: string) =>
  (
    await db
      .selectFrom('inventory')
      .select('onHand')
      .where('variantId', '=', variantId)
      .executeTakeFirstOrThrow()
  ).onHand;
export const mails = (db: Db, template: string) =>
  db
    .selectFrom('outbox')
    .select('payload')
    .where('name', '=', 'email.send')
    .where(sql<string>`payload->>'template'`, '=', template)
    .execute()
    .then((rows) => rows.map((r) => r.payload as { to: string; data: Record<string, unknown> }));

/** The provider refund our refund `refundId` made on Paystack (found by the note we put on it). */
export const providerRefundOf = (emu: PaystackEmulator, refundId: string, transactionReference?: string) =>
  [...emu.refunds.values()].find(
    (p) =>
      p.merchantNote === merchantNoteOf(refundId) &&
      (transactionReference === undefined || p.transactionReference === transactionReference),
  );

/** Waits until every part of the refund is bound at Paystack, then processes them there (webhooks sent). */
export async function processAtPaystack(db: Db, emu: PaystackEmulator, refundId: string) {
  const parts = await db.selectFrom('refundParts').select('id').where('refundId', '=', refundId).execute();
  const ids = await until(async () => {
    const bound = await providerIdsOf(db, refundId);
    return bound.length === parts.length && bound;
  });
  for (const id of ids) await emu.settleRefund(id, 'processed');
  await until(async () => (await refundRow(db, refundId)).status === 'processed');
  return ids;
}

/**
 * The same order paid a second time (another attempt, paid at Paystack and verified): the verify path
 * records it as `paid_twice`, adds it to the order's amount_paid and flags the order for a refund.
 */
export async function payAgain(
  db: Db,
  stack: Pick<Stack, 'emu' | 'paystack' | 'config'>,
  order: { orderId: string; number: string; total: number; currency: string; email: string },
  pay: { amount?: number; currency?: string } = {},
) {
  const reference = `${order.number}-2`;
  await stack.paystack.initializeTransaction({
    email: order.email,
    amount: order.total,
    currency: order.currency,
    reference,
  });
  await db
    .insertInto('payments')
    .values({
      orderId: order.orderId,
      reference,
      attempt: 2,
      amount: order.total,
      currency: order.currency,
      status: 'initialized',
    })
    .execute();
  await stack.emu.pay(reference, { webhook: false, ...pay });
  const result = await applyVerification(db, reference, {
    paystack: stack.paystack,
    publicUrl: stack.config.PUBLIC_URL,
    source: 'verify',
  });
  return { reference, outcome: result.outcome };
}
