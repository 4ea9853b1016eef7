import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config.js';

/**
 * Signed links that let a guest open their order from an email. The token is `<issued>.<mac>`: the issue
 * time (unix seconds, base 36) and an HMAC-SHA256 of the order id and that time, under a key derived from
 * ENCRYPTION_KEY (its own purpose string, so this key never equals the encryption key). A link works for
 * ORDER_LINK_TTL_DAYS after it was issued, as configured when it is opened: shortening the setting
 * retires old links at once.
 *
 * This module is the one place links to an order are built: mails get theirs in the worker at send time
 * (enqueueMail's `orderLinkOf`), so no token sits in the outbox, Redis or the queue dashboard.
 */
export type OrderLinkConfig = Pick<Config, 'ENCRYPTION_KEY' | 'ORDER_LINK_TTL_DAYS'>;

const linkKey = (encryptionKey: string) => createHmac('sha256', Buffer.from(encryptionKey, 'hex')).update('agape/order-link/v2').digest();
const macOf = (config: Pick<Config, 'ENCRYPTION_KEY'>, orderId: string, issued: string) =>
  createHmac('sha256', linkKey(config.ENCRYPTION_KEY)).update(`${orderId.toLowerCase()}.${issued}`).digest('base64url');
const TOKEN = /^([0-9a-z]{1,11})\.([A-Za-z0-9_-]{43})$/;

/** `now`: the issue time (tests issue links in the past). */
export function orderLinkToken(config: Pick<Config, 'ENCRYPTION_KEY'>, orderId: string, now: Date = new Date()): string {
  const issued = Math.floor(now.getTime() / 1000).toString(36);
  return `${issued}.${macOf(config, orderId, issued)}`;
}

/** `expired`: a genuine link past its life (worth telling its holder); `invalid`: anything else. */
export type OrderLinkCheck = 'valid' | 'expired' | 'invalid';

export function checkOrderLinkToken(config: OrderLinkConfig, orderId: string, token: string, now: Date = new Date()): OrderLinkCheck {
  const m = TOKEN.exec(token);
  if (!m) return 'invalid';
  const [, issued, mac] = m as unknown as [string, string, string];
  const expected = Buffer.from(macOf(config, orderId, issued));
  const given = Buffer.from(mac);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
  const issuedMs = parseInt(issued, 36) * 1000;
  return now.getTime() - issuedMs < config.ORDER_LINK_TTL_DAYS * 86_400_000 ? 'valid' : 'expired';
}

/** The customer-facing link to an order: `${PUBLIC_URL}/orders/<id>?token=<signed>`. */
export function orderLink(config: Pick<Config, 'ENCRYPTION_KEY' | 'PUBLIC_URL'>, orderId: string, now?: Date): string {
  return `${config.PUBLIC_URL.replace(/\/+$/, '')}/orders/${orderId}?token=${orderLinkToken(config, orderId, now)}`;
}
