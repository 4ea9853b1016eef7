import { createHmac, createSign, type KeyObject } from 'node:crypto';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Hand-made JWTs, for tokens our own signer would refuse to produce. */
export function jwt(header: Record<string, unknown>, payload: Record<string, unknown>, key?: KeyObject | string | Buffer) {
  const head = `${b64(header)}.${b64(payload)}`;
  if (header.alg === 'none') return `${head}.`;
  if (header.alg === 'HS256') return `${head}.${createHmac('sha256', key as string | Buffer).update(head).digest('base64url')}`;
  const signature = createSign('RSA-SHA256').update(head).sign(key as KeyObject | string);
  return `${head}.${signature.toString('base64url')}`;
}
