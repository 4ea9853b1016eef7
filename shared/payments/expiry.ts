import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import { InsufficientStockError } from '../errors.js';
import { PaystackError, type PaystackClient } from '../integrations/paystack/client.js';
import type { Logger } from '../logger.js';
import { expireOrder } from '../orders/lifecycle.js';
import type { PaymentStatus } from './schemas.js';
import { applyVerification, markUnverified } from './verify.js';

/**
 * Reservation expiry that asks Paystack before it cancels. An unpaid order past its reservation may
 * still have been paid: the customer paid at 14:59 and the webhook is late, or Paystack is down and
 * nothing could be verified. So for every payment attempt the customer could have paid, verify first:
 *  - paid: the payment is applied (the order becomes paid, its reservation sold) instead of cancelled;
 *  - Paystack unreachable, or the payment still in progress at Paystack (`ongoing`, `pending`, ...):
 *    the order is not cancelled yet. It keeps its stock at most PAYMENT_HOLD_MINUTES past its
 *    reservation; after that it is cancelled anyway, so an outage never holds stock for good. A payment
 *    that lands after that is applied to a cancelled order and refunded automatically (verify.ts);
 *  - otherwise (abandoned, failed, unknown to Paystack): cancelled as before.
 * The cancel itself stays `expireOrder`: SKIP LOCKED, and only if still unpaid and expired.
 */

/** Paystack statuses of a payment that has started and may still succeed. */
const IN_PROGRESS = new Set(['ongoing', 'pending', 'processing', 'queued']);
/**
 * Attempts that need no question: applied already, or never reached a customer (initialization failed,
 * so there was no authorization URL to pay through).
 */
const SETTLED_ATTEMPTS: PaymentStatus[] = ['success', 'mismatch', 'init_failed'];

export interface ExpiryDeps {
  /** null: no Paystack to ask (treated as unreachable). */
  paystack: Pick<PaystackClient, 'verifyTransaction'> | null;
  publicUrl: string;
  /** PAYMENT_HOLD_MINUTES: the longest an unconfirmed order keeps its stock past its reservation. */
  holdMinutes: number;
  log?: Pick<Logger, 'warn'>;
}

export interface ExpiryOptions {
  batchSize?: number;
  maxBatches?: number;
  /** Only orders holding these variants (checkout's lazy expiry). */
  variantIds?: readonly string[];
}

export interface ExpiryCounts {
  /** Cancelled, stock and coupon released. */
  expired: number;
  /** Found paid at Paystack and applied. */
  paid: number;
  /** Kept for now: Paystack unreachable or the payment still in progress. */
  held: number;
}

export async function expireUnpaidOrders(
  db: Db,
  deps: ExpiryDeps,
  opts: ExpiryOptions = {},
): Promise<ExpiryCounts> {
  const batchSize = opts.batchSize ?? 100;
  const counts: ExpiryCounts = { expired: 0, paid: 0, held: 0 };
  // After one failed call in a run, the others are not tried: a down Paystack would cost a timeout each.
  let paystackDown = deps.paystack === null;
  let after: { expiresKey: string; id: string } | undefined;

  for (let batch = 0; batch < (opts.maxBatches ?? 50); batch++) {
    let q = db
      .selectFrom('orders as o')
      .select([
        'o.id',
        // As text: a JS Date would cut the microseconds and the keyset below would repeat a row.
        sql<string>`o.reservation_expires_at::text`.as('expiresKey'),
        sql<boolean>`o.reservation_expires_at < now() - make_interval(secs => ${deps.holdMinutes * 60})`.as(
          'pastHold',
        ),
      ])
      .where('o.status', '=', 'pending_payment')
      .where('o.reservationReleasedAt', 'is', null)
      .where('o.reservationExpiresAt', '<', sql<Date>`now()`)
      .orderBy('o.reservationExpiresAt')
      .orderBy('o.id')
      .limit(batchSize);
    // Keyset: orders held in this run stay candidates; the next batch starts after them.
    if (after)
      q = q.where(
        sql<boolean>`(o.reservation_expires_at, o.id) > (${after.expiresKey}::timestamptz, ${after.id}::uuid)`,
      );
    if (opts.variantIds?.length) {
      const variantIds = [...opts.variantIds];
      q = q.where((eb) =>
        eb.exists(
          eb
            .selectFrom('orderItems as oi')
            .select('oi.id')
            .whereRef('oi.orderId', '=', 'o.id')
            .where('oi.variantId', 'in', variantIds),
        ),
      );
    }
    const orders = await q.execute();
    if (!orders.length) break;
    const last = orders[orders.length - 1];
    after = { expiresKey: last.expiresKey, id: last.id };

    const attempts = await db
      .selectFrom('payments')
      .select(['id', 'orderId', 'reference'])
      .where(
        'orderId',
        'in',
        orders.map((o) => o.id),
      )
      .where('status', 'not in', SETTLED_ATTEMPTS)
      .where('provider', '=', 'paystack')
      .orderBy('attempt', 'desc')
      .execute();

    for (const order of orders) {
      let hold = false;
      let paid = false;
      for (const attempt of attempts.filter((a) => a.orderId === order.id)) {
        if (paystackDown || !deps.paystack) {
          await markUnverified(db, attempt.id);
          hold = true;
          continue;
        }
        try {
          const r = await applyVerification(db, attempt.reference, {
            paystack: deps.paystack,
            publicUrl: deps.publicUrl,
            source: 'expiry',
          });
          if (r.orderStatus !== 'pending_payment') {
            paid = true;
            break;
          }
          if (r.providerStatus && IN_PROGRESS.has(r.providerStatus)) hold = true;
        } catch (err) {
          if (!(err instanceof PaystackError)) throw err;
          deps.log?.warn(
            { reference: attempt.reference, err: err.message },
            'expiry could not ask Paystack; order kept for now',
          );
          paystackDown = true;
          hold = true;
        }
      }
      if (paid) counts.paid++;
      else if (hold && !order.pastHold) counts.held++;
      else if (await expireOrder(db, order.id)) counts.expired++;
    }
    if (orders.length < batchSize) break;
  }
  return counts;
}

/**
 * Runs `attempt` (a whole transaction: an add to the cart, a checkout); if it comes up short, releases the
 * expired, unpaid holds on the short variants (each in its own short transaction, exactly what the minute
 * job does, Paystack asked first) and tries once more. "Available" counts a hold until it is released
 * (shared/inventory/availability.ts); this is how a buyer gets stock whose hold the job has not released
 * yet, without counting holds that may still be paid as free. The fast path pays nothing.
 */
export async function retryAfterLazyExpiry<T>(db: Db, deps: ExpiryDeps, attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt();
  } catch (err) {
    if (!(err instanceof InsufficientStockError)) throw err;
    const { expired } = await expireUnpaidOrders(db, deps, {
      variantIds: err.lines.map((l) => l.variantId),
      batchSize: 50,
      maxBatches: 2,
    });
    if (expired === 0) throw err;
    return attempt();
  }
}
