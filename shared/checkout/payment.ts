import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Config } from '../config.js';
import { creditTendered } from '../credit/tender.js';
import type { Db } from '../db/index.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { PaystackError, type PaystackClient } from '../integrations/paystack/client.js';
import { orderLink } from '../orders/links.js';
import type { PaymentStatus } from '../payments/schemas.js';
import type { PaymentStart } from './schemas.js';

export type { PaymentStart } from './schemas.js';

/**
 * Starting a Paystack transaction for an order: one `payments` row per attempt with its own reference,
 * written BEFORE the call, so a crash or timeout leaves a row that
 * verify/reconciliation can find. Initialize never retries on its own (Paystack has no idempotency key):
 * a new attempt (POST /orders/:id/pay) gets a new reference. Never inside a database transaction.
 */

export const PAYSTACK_INIT_TIMEOUT_MS = 8_000;

/**
 * A payment reference: `AGP-` and 128 random bits in hex. Holding a reference is what lets anyone call
 * POST /payments/:reference/verify, so it must not be guessable from the order number or another reference.
 */
export const newPaymentReference = () => `AGP-${randomBytes(16).toString('hex')}`;

/** The Paystack client to use now (the API passes its app.paystack); null when payments are switched off. */
export type PaystackFactory = () => Pick<PaystackClient, 'initializeTransaction' | 'verifyTransaction'> | null;

export interface PaymentDeps {
  db: Db;
  config: Pick<Config, 'PUBLIC_URL' | 'ENCRYPTION_KEY'>;
  paystack: PaystackFactory;
}

const failureMessage = 'We could not start the payment just now; your order is kept. Retry with POST /orders/{id}/pay.';

/** Calls Paystack for an attempt row in `initializing` and records the outcome on the row. */
export interface AttemptFacts {
  id: string;
  reference: string;
  attempt: number;
  amount: number;
  currency: string;
  status: PaymentStatus;
  authorizationUrl: string | null;
  accessCode: string | null;
  orderId: string;
  number: string;
  email: string;
}

/** What a successful initialization writes on its attempt row (only while it is still `initializing`). */
export interface InitializedOutcome {
  paymentId: string;
  set: { status: 'initialized'; authorizationUrl: string; accessCode: string; lastError: null };
}

/**
 * Calls Paystack for an attempt row in `initializing` and records the outcome on the row. `known`: the caller
 * just wrote it. `recordSuccess`: the caller writes a successful outcome itself (checkout: in one statement
 * with its idempotency key's completion); a failure is always written here.
 */
export async function initializeAttempt(
  deps: PaymentDeps,
  paymentId: string,
  known?: AttemptFacts,
  recordSuccess?: (outcome: InitializedOutcome) => void,
): Promise<PaymentStart> {
  const p =
    known ??
    (await deps.db
      .selectFrom('payments as p')
      .innerJoin('orders as o', 'o.id', 'p.orderId')
      .select(['p.id', 'p.reference', 'p.attempt', 'p.amount', 'p.currency', 'p.status', 'p.authorizationUrl', 'p.accessCode', 'o.id as orderId', 'o.number', 'o.email'])
      .where('p.id', '=', paymentId)
      .executeTakeFirstOrThrow());
  if (p.status !== 'initializing') {
    return { reference: p.reference, authorizationUrl: p.authorizationUrl, accessCode: p.accessCode, status: p.status, message: p.authorizationUrl ? null : failureMessage };
  }
  const client = deps.paystack();
  try {
    if (!client) throw new PaystackError('Paystack is not configured (PAYSTACK_SECRET_KEY)', 0, 'not_configured', false);
    const result = await client.initializeTransaction({
      email: p.email,
      amount: p.amount,
      currency: p.currency,
      reference: p.reference,
      callbackUrl: orderLink(deps.config, p.orderId),
      metadata: { orderId: p.orderId, orderNumber: p.number, attempt: p.attempt },
    });
    const outcome: InitializedOutcome = {
      paymentId: p.id,
      set: { status: 'initialized', authorizationUrl: result.authorizationUrl, accessCode: result.accessCode, lastError: null },
    };
    if (recordSuccess) recordSuccess(outcome);
    else await deps.db.updateTable('payments').set(outcome.set).where('id', '=', p.id).where('status', '=', 'initializing').execute();
    return { reference: p.reference, authorizationUrl: result.authorizationUrl, accessCode: result.accessCode, status: 'initialized', message: null };
  } catch (err) {
    const lastError = err instanceof PaystackError ? err.message : 'unexpected error while initializing the payment';
    await deps.db
      .updateTable('payments')
      .set({ status: 'init_failed', lastError: lastError.slice(0, 500) })
      .where('id', '=', p.id)
      .where('status', '=', 'initializing')
      .execute();
    if (!(err instanceof PaystackError) && !(err instanceof RangeError)) throw err;
    return { reference: p.reference, authorizationUrl: null, accessCode: null, status: 'init_failed', message: failureMessage };
  }
}

/** The latest attempt of an order as the customer should see it (used when replaying or recovering). */
export async function latestAttempt(db: Db, orderId: string): Promise<PaymentStart | null> {
  const p = await db
    .selectFrom('payments')
    .select(['reference', 'authorizationUrl', 'accessCode', 'status'])
    .where('orderId', '=', orderId)
    .where('provider', '=', 'paystack')
    .orderBy('attempt', 'desc')
    .executeTakeFirst();
  if (!p) return null;
  return { reference: p.reference, authorizationUrl: p.authorizationUrl, accessCode: p.accessCode, status: p.status, message: p.authorizationUrl ? null : failureMessage };
}

/**
 * POST /orders/:id/pay: a new attempt for an unpaid order whose reservation still holds. Stock is not
 * touched: the order already holds its reservation. The order row lock serializes concurrent retries.
 */
export async function retryPayment(deps: PaymentDeps, orderId: string): Promise<PaymentStart> {
  const paymentId = await deps.db.transaction().execute(async (trx) => {
    const order = await trx
      .selectFrom('orders')
      .select(['id', 'number', 'status', 'total', 'currency', 'reservationReleasedAt', sql<boolean>`reservation_expires_at < now()`.as('expired')])
      .where('id', '=', orderId)
      .forUpdate()
      .executeTakeFirst();
    if (!order) throw new NotFoundError('Order');
    if (order.status !== 'pending_payment' || order.reservationReleasedAt || order.expired) {
      throw new ConflictError('not_payable', order.status === 'pending_payment' ? 'This order’s reservation has expired' : `This order is ${order.status}, not awaiting payment`);
    }
    const last = await trx.selectFrom('payments').select(sql<number>`coalesce(max(attempt), 0)::int`.as('n')).where('orderId', '=', orderId).executeTakeFirstOrThrow();
    const attempt = last.n + 1;
    // A split tender: Paystack is asked only for what the store credit spent at checkout did not cover.
    const { tendered } = await creditTendered(trx, orderId);
    const row = await trx
      .insertInto('payments')
      .values({ orderId, reference: newPaymentReference(), attempt, amount: order.total - tendered, currency: order.currency, status: 'initializing' })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  });
  return initializeAttempt(deps, paymentId);
}
