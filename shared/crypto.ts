import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** 32 random bytes, base64url: refresh tokens, verification and reset tokens. */
export const randomToken = () => randomBytes(32).toString('base64url');

/** What the database keeps of a token: its SHA-256 (the token itself has 256 bits of entropy). */
export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * AES-256-GCM with ENCRYPTION_KEY (64 hex chars). Output: `v1.<iv>.<tag>.<ciphertext>` in base64url, so a
 * future key or cipher can be told apart.
 */
export function encrypt(keyHex: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), body].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

export function decrypt(keyHex: string, sealed: string): string {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('unknown ciphertext format');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(keyHex, 'hex'), Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
}
