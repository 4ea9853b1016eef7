import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config.js';

/**
 * Signed links in customers' mail that work without signing in: the cart reminder's unsubscribe link and
 * the data export's download link. Each MAC is an HMAC-SHA256 under a key derived from ENCRYPTION_KEY with
 * its own purpose string (so neither key equals the encryption key, nor each other).
 */
type KeyConfig = Pick<Config, 'ENCRYPTION_KEY'>;

const keyFor = (config: KeyConfig, purpose: string) =>
  createHmac('sha256', Buffer.from(config.ENCRYPTION_KEY, 'hex')).update(`agape/${purpose}/v1`).digest();
const mac = (config: KeyConfig, purpose: string, message: string) =>
  createHmac('sha256', keyFor(config, purpose)).update(message).digest('base64url');

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const base = (config: Pick<Config, 'PUBLIC_URL'>) => config.PUBLIC_URL.replace(/\/+$/, '');

/** Unsubscribe links never expire: a reminder read a year later must still be able to stop the next one. */
export const unsubscribeToken = (config: KeyConfig, userId: string, kind: string) => mac(config, 'unsubscribe', `${userId.toLowerCase()}.${kind}`);

export const checkUnsubscribeToken = (config: KeyConfig, userId: string, kind: string, token: string) =>
  same(unsubscribeToken(config, userId, kind), token);

export function unsubscribeUrl(config: Pick<Config, 'ENCRYPTION_KEY' | 'PUBLIC_URL'>, userId: string, kind: string): string {
  const q = new URLSearchParams({ user: userId, kind, token: unsubscribeToken(config, userId, kind) });
  return `${base(config)}/api/v1/notifications/unsubscribe?${q.toString()}`;
}

/** A download link for one export, valid until `expires` (unix seconds), which the MAC covers. */
export const exportToken = (config: KeyConfig, exportId: string, expires: number) => mac(config, 'data-export', `${exportId.toLowerCase()}.${expires}`);

export type ExportLinkCheck = 'valid' | 'expired' | 'invalid';

export function checkExportToken(config: KeyConfig, exportId: string, expires: number, token: string, now = new Date()): ExportLinkCheck {
  if (!Number.isSafeInteger(expires) || !same(exportToken(config, exportId, expires), token)) return 'invalid';
  return now.getTime() < expires * 1000 ? 'valid' : 'expired';
}

export function exportUrl(config: Pick<Config, 'ENCRYPTION_KEY' | 'PUBLIC_URL'>, exportId: string, expiresAt: Date): string {
  const expires = Math.floor(expiresAt.getTime() / 1000);
  const q = new URLSearchParams({ expires: String(expires), token: exportToken(config, exportId, expires) });
  return `${base(config)}/api/v1/data-exports/${exportId}?${q.toString()}`;
}
