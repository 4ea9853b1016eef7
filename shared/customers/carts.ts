import { sql } from 'kysely';
import type { Config } from '../config.js';
import type { Db, DbOrTrx } from '../db/index.js';
import { BadRequestError } from '../errors.js';
import { enqueueMail } from '../mail/enqueue.js';
import { emitNotification } from '../notifications/emit.js';
import { addDays, type DateRange } from '../reports/range.js';
import { checkUnsubscribeToken, unsubscribeUrl } from './links.js';
import type { AbandonedCartsReport } from './schemas.js';

/**
 * Carts left behind (CONTRACT part two): one reminder per cart contents to signed-in customers who allow
 * it, the abandoned-carts report, and the clean-up of stale guest carts.
 */

export const CART_REMINDER_KIND = 'cart.reminder';
/** A checkout this soon after a reminder counts as recovered. */
export const RECOVERY_DAYS = 7;

type ReminderConfig = Pick<Config, 'ABANDONED_CART_HOURS' | 'CART_TTL_DAYS' | 'ENCRYPTION_KEY' | 'PUBLIC_URL'>;

interface Candidate {
  cartId: string;
  userId: string;
  currency: string;
  contentsHash: string;
  value: number;
  items: number;
}

/**
 * Sends the reminders that are due: signed-in customers' carts with items, untouched for
 * ABANDONED_CART_HOURS (and not older than CART_TTL_DAYS: a cart from before the feature shipped is not
 * mailed about months later), whose owner has not turned cart-reminder mail off, and whose contents (the
 * variants and quantities, hashed) were never reminded. Each reminder is one transaction: the
 * `cart_reminders` row, unique per (cart, contents), decides it — a second run or a second worker meets the
 * row and sends nothing — then the mail (with its unsubscribe link) and the in-app/push notification.
 * Checkout empties the cart, so a cart that was checked out is no longer a candidate.
 */
export async function sendCartReminders(db: Db, config: ReminderConfig, batch = 500): Promise<number> {
  const { rows } = await sql<Candidate>`
    WITH carts_due AS (
      SELECT c.id, c.user_id, c.currency FROM carts c
      JOIN users u ON u.id = c.user_id AND u.role = 'customer' AND u.disabled_at IS NULL
      WHERE c.user_id IS NOT NULL
        AND c.updated_at < now() - make_interval(secs => ${config.ABANDONED_CART_HOURS * 3600})
        AND c.updated_at > now() - make_interval(days => ${config.CART_TTL_DAYS})
        AND NOT EXISTS (SELECT 1 FROM notification_preferences np
                        WHERE np.user_id = c.user_id AND np.kind = ${CART_REMINDER_KIND} AND NOT np.email)
    ), contents AS (
      SELECT d.id AS "cartId", d.user_id AS "userId", d.currency,
             md5(string_agg(ci.variant_id::text || ':' || ci.quantity, ',' ORDER BY ci.variant_id)) AS "contentsHash",
             sum(ci.unit_price::bigint * ci.quantity)::bigint AS value, sum(ci.quantity)::int AS items
      FROM carts_due d JOIN cart_items ci ON ci.cart_id = d.id
      GROUP BY d.id, d.user_id, d.currency
    )
    SELECT * FROM contents c
    WHERE NOT EXISTS (SELECT 1 FROM cart_reminders r WHERE r.cart_id = c."cartId" AND r.contents_hash = c."contentsHash")
    LIMIT ${batch}
  `.execute(db);
  let sent = 0;
  for (const c of rows) {
    const done = await db.transaction().execute(async (trx) => {
      const reminder = await trx
        .insertInto('cartReminders')
        .values({ cartId: c.cartId, userId: c.userId, contentsHash: c.contentsHash, cartValue: c.value, currency: c.currency })
        .onConflict((oc) => oc.columns(['cartId', 'contentsHash']).doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!reminder) return false;
      const user = await trx.selectFrom('users').select(['email', 'name']).where('id', '=', c.userId).executeTakeFirstOrThrow();
      await enqueueMail(
        trx,
        config,
        'cart-reminder',
        user.email,
        { name: user.name, itemCount: c.items, cartUrl: `${config.PUBLIC_URL.replace(/\/+$/, '')}/cart` },
        { secret: { unsubscribeUrl: unsubscribeUrl(config, c.userId, CART_REMINDER_KIND) } },
      );
      await emitNotification(trx, {
        key: `cart.reminder:${reminder.id}`,
        kind: CART_REMINDER_KIND,
        userIds: [c.userId],
        title: 'Your cart is waiting',
        body: `You left ${c.items === 1 ? 'one item' : `${c.items} items`} in your cart.`,
        data: { cartId: c.cartId },
      });
      return true;
    });
    if (done) sent++;
  }
  return sent;
}

/**
 * Deletes guest carts untouched for CART_TTL_DAYS, a batch per statement (never one long lock), sparing
 * any cart that is checking out: one whose row a checkout holds (SKIP LOCKED), whose checkout request is
 * still running (its idempotency key), or whose order still waits for payment.
 */
export async function purgeGuestCarts(db: Db, ttlDays: number, batch = 1_000): Promise<number> {
  let total = 0;
  for (;;) {
    const { numAffectedRows } = await sql`
      DELETE FROM carts WHERE id IN (
        SELECT c.id FROM carts c
        WHERE c.user_id IS NULL AND c.updated_at < now() - make_interval(days => ${ttlDays})
          AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.cart_id = c.id AND o.status = 'pending_payment')
          AND NOT EXISTS (SELECT 1 FROM idempotency_keys k
                          WHERE k.scope = 'checkout' AND k.owner = 'cart-token:' || c.token_hash AND k.state = 'running')
        ORDER BY c.updated_at
        LIMIT ${batch}
        FOR UPDATE SKIP LOCKED
      )
    `.execute(db);
    const n = Number(numAffectedRows ?? 0);
    total += n;
    if (n < batch) return total;
  }
}

/**
 * GET /admin/reports/abandoned-carts: reminders sent in the range (shop days), those recovered — the
 * customer placed an order within RECOVERY_DAYS of the reminder and it was paid — and the recovered
 * revenue (those orders' totals). An order is credited to the latest reminder before it only, so two
 * reminders never claim one order.
 */
export async function abandonedCartsReport(
  db: DbOrTrx,
  range: DateRange,
  timeZone: string,
  currency: string,
): Promise<Omit<AbandonedCartsReport, 'from' | 'to'>> {
  const start = sql`(${range.from}::date::timestamp AT TIME ZONE ${timeZone})`;
  const end = sql`(${addDays(range.to, 1)}::date::timestamp AT TIME ZONE ${timeZone})`;
  const { rows } = await sql<{ reminded: number; recovered: number; remindedValue: number; revenue: number }>`
    SELECT count(*)::int AS reminded, count(rec.id)::int AS recovered,
           coalesce(sum(r.cart_value), 0)::bigint AS "remindedValue", coalesce(sum(rec.total), 0)::bigint AS revenue
    FROM cart_reminders r
    LEFT JOIN LATERAL (
      SELECT o.id, o.total FROM orders o
      WHERE o.user_id = r.user_id AND o.created_at >= r.sent_at
        AND o.created_at < r.sent_at + make_interval(days => ${RECOVERY_DAYS})
        AND o.paid_at IS NOT NULL AND o.currency = ${currency}
        AND NOT EXISTS (SELECT 1 FROM cart_reminders later
                        WHERE later.user_id = r.user_id AND later.sent_at > r.sent_at AND later.sent_at <= o.created_at)
      ORDER BY o.created_at, o.id
      LIMIT 1
    ) rec ON true
    WHERE r.sent_at >= ${start} AND r.sent_at < ${end} AND r.currency = ${currency}
  `.execute(db);
  const r = rows[0];
  return {
    reminded: r.reminded,
    recovered: r.recovered,
    recoveryRate: r.reminded ? Math.round((r.recovered / r.reminded) * 10_000) / 10_000 : 0,
    remindedValue: { amount: r.remindedValue, currency },
    revenue: { amount: r.revenue, currency },
  };
}

/**
 * The unsubscribe link (no sign-in): a valid token turns the kind's mail off for that user. Repeating it
 * changes nothing; a wrong token answers 400 `invalid_token` and changes nothing.
 */
export async function unsubscribe(db: Db, config: Pick<Config, 'ENCRYPTION_KEY'>, userId: string, kind: string, token: string) {
  if (kind !== CART_REMINDER_KIND || !checkUnsubscribeToken(config, userId, kind, token)) {
    throw new BadRequestError('invalid_token', 'The unsubscribe link is not valid');
  }
  const user = await db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
  if (!user) throw new BadRequestError('invalid_token', 'The unsubscribe link is not valid');
  await db
    .insertInto('notificationPreferences')
    .values({ userId, kind, email: false })
    .onConflict((oc) => oc.columns(['userId', 'kind']).doUpdateSet({ email: false }))
    .execute();
  return { kind, email: false };
}
