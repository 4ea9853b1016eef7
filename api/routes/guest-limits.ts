import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { listOf } from '../../shared/config.js';
import { TooManyRequestsError } from '../../shared/errors.js';

/**
 * Limits of what a stranger can call without signing in on the shopping side (contract: cart, coupon,
 * checkout, verify), per client address; coupon attempts also per cart, so guessing codes from many
 * addresses against one cart, or from one address across many carts, both run out. Generous enough for
 * many shoppers behind one carrier-grade NAT; what stops a script holding the stock is
 * MAX_OPEN_ORDERS_PER_CLIENT (shared/checkout/open-orders.ts), not these.
 */
export const GUEST_LIMITS = {
  cart: { ip: 30, windowMs: 60_000 },
  addItem: { ip: 120, windowMs: 60_000 },
  coupon: { ip: 30, cart: 10, windowMs: 15 * 60_000 },
  checkout: { ip: 20, windowMs: 60_000 },
  /** Each verify costs a Paystack round trip. */
  verify: { ip: 30, windowMs: 60_000 },
} as const;
export type GuestLimitName = keyof typeof GUEST_LIMITS;

/** The per-address part, for `config: { rateLimit: addressLimit('cart') }` (RATE_LIMIT_ALLOWLIST applies). */
export const addressLimit = (name: GuestLimitName) => ({ max: GUEST_LIMITS[name].ip, timeWindow: GUEST_LIMITS[name].windowMs });

/** Whether the client address is in RATE_LIMIT_ALLOWLIST (an IPv4 address also as its IPv6-mapped form). */
export function isAllowlisted(allowlist: string, address: string): boolean {
  const list = listOf(allowlist);
  return list.includes(address) || (address.startsWith('::ffff:') && list.includes(address.slice(7)));
}

const digest = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 22);

/** The cart a request is about: the signed-in user's, or the guest cart its token opens. */
function cartKeyOf(request: FastifyRequest): string | undefined {
  if (request.auth) return `u:${request.auth.id}`;
  const token = request.headers['x-cart-token'];
  return typeof token === 'string' && token ? `t:${digest(token)}` : undefined;
}

/**
 * Coupon attempts per cart, as a preHandler (after auth decided who the caller is): a second counter in
 * the same Redis store. Calls naming no cart go on to answer 404 and are counted by address only.
 */
export function cartCouponLimit(app: FastifyInstance) {
  const limiter = app.createRateLimit({
    max: GUEST_LIMITS.coupon.cart,
    timeWindow: GUEST_LIMITS.coupon.windowMs,
    keyGenerator: (request) => `coupon:cart:${cartKeyOf(request) ?? ''}`,
    allowList: (request) => isAllowlisted(app.config.RATE_LIMIT_ALLOWLIST, request.ip),
  });
  return async (request: FastifyRequest) => {
    if (!cartKeyOf(request)) return;
    const result = await limiter(request);
    if (!result.isAllowed && result.isExceeded) throw new TooManyRequestsError(result.ttlInSeconds);
  };
}
