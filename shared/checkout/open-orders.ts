import { sql } from 'kysely';
import type { Trx } from '../db/index.js';
import { DomainError } from '../errors.js';

/**
 * MAX_OPEN_ORDERS_PER_CLIENT: one client address or email holds at most that many unpaid orders, so a
 * script cannot keep the shop's stock reserved one 15-minute window after another.
 *
 * Counting and inserting must be one step, or N parallel checkouts all count N-1 and all pass: each
 * checkout takes a transaction-scoped advisory lock per identity (address, then email: always in that
 * order, and the two key spaces never overlap, so two checkouts cannot wait on each other in a cycle)
 * before it counts, and keeps it until its order is committed. Checkouts of other clients never wait.
 */

/** Who is checking out, as far as the cap is concerned. */
export interface CheckoutClient {
  /** The client address (request.ip, behind TRUST_PROXY). */
  address: string;
  /** RATE_LIMIT_ALLOWLIST: not capped by address (the cap by email still holds). */
  exempt: boolean;
}

export class TooManyOpenOrdersError extends DomainError {
  constructor(max: number, retryAfterSeconds: number) {
    super(429, 'too_many_open_orders', `At most ${max} unpaid orders at once: pay or cancel one first`, {
      headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    });
  }
}

/** Unpaid orders that still hold their reservation (an expired one holds nothing and is about to go). */
const holding = sql<boolean>`status = 'pending_payment' AND reservation_released_at IS NULL AND reservation_expires_at > now()`;

/**
 * Inside checkout's transaction, before the order is written: waits for other checkouts of the same
 * address or email, then refuses with 429 `too_many_open_orders` when the client already holds `max`.
 * Retry-After: when the soonest of its reservations runs out.
 */
export async function claimOpenOrderSlot(trx: Trx, client: CheckoutClient | undefined, email: string, max: number): Promise<void> {
  const address = client && !client.exempt ? client.address : null;
  const normalized = email.trim().toLowerCase();
  if (address !== null) await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`open-orders:address:${address}`}, 0))`.execute(trx);
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`open-orders:email:${normalized}`}, 0))`.execute(trx);

  const open = await trx
    .selectFrom('orders')
    .select([sql<number>`count(*)::int`.as('n'), sql<number | null>`extract(epoch FROM min(reservation_expires_at) - now())::float8`.as('wait')])
    .where(holding)
    .where((eb) =>
      address === null
        ? eb(sql`lower(email)`, '=', normalized)
        : eb.or([eb(sql`lower(email)`, '=', normalized), eb('clientAddress', '=', address)]),
    )
    .executeTakeFirstOrThrow();
  if (open.n >= max) throw new TooManyOpenOrdersError(max, open.wait ?? 60);
}
