import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config.js';

/**
 * Signed links that let a guest open their order from an email: HMAC-SHA256 of the order id under a key
 * derived from ENCRYPTION_KEY (a separate purpose string, so this key never equals the encryption key).
 */
const linkKey = (encryptionKey: string) => createHmac('sha256', Buffer.from(encryptionKey, 'hex')).update('agape/order-link/v1').digest();

export function orderLinkToken(config: Pick<Config, 'ENCRYPTION_KEY'>, orderId: string): string {
  return createHmac('sha256', linkKey(config.ENCRYPTION_KEY)).update(orderId.toLowerCase()).digest('base64url');
}

export function verifyOrderLinkToken(config: Pick<Config, 'ENCRYPTION_KEY'>, orderId: string, token: string): boolean {
  const expected = Buffer.from(orderLinkToken(config, orderId));
  const given = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The customer-facing link to an order, for mail data: `${PUBLIC_URL}/orders/<id>?token=<signed>`. */
export function orderLink(config: Pick<Config, 'ENCRYPTION_KEY' | 'PUBLIC_URL'>, orderId: string): string {
  return `${config.PUBLIC_URL.replace(/\/+$/, '')}/orders/${orderId}?token=${orderLinkToken(config, orderId)}`;
}
