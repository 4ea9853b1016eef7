import { DomainError } from '../errors.js';

/**
 * MAX_OPEN_ORDERS_PER_CLIENT: one client address or email holds at most that many unpaid orders, so a
 * script cannot keep the shop's stock reserved one 15-minute window after another.
 *
 * Counting and inserting must be one step, or N parallel checkouts all count N-1 and all pass: each
 * checkout (checkout_open, migrations/2026121000_checkout_functions.ts) takes a transaction-scoped advisory
 * lock per identity (address, then email: always in that
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
