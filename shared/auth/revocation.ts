import type { Redis } from 'ioredis';
import { keyOf } from '../redis.js';

/**
 * Access tokens are stateless for 15 minutes. When a user is disabled, changes role or resets the
 * password, the tokens issued before that moment must stop working at once: we keep "not before" per
 * user in Redis for one token lifetime (after that every older token has expired anyway). Checking it
 * costs one GET per authenticated request.
 */
const TTL_SECONDS = 15 * 60 + 60;

const keyFor = (prefix: string, userId: string) => keyOf(prefix, 'auth', 'nbf', userId);

/**
 * Tokens of this user issued up to now are refused from here on. `iat` has whole seconds, so the cut is
 * rounded up: a token signed later in the same second is refused too (fail closed; a client signing in
 * again within that second gets a token that works from the next second on).
 */
export async function revokeAccessTokens(redis: Redis, prefix: string, userId: string): Promise<void> {
  await redis.set(keyFor(prefix, userId), String(Math.floor(Date.now() / 1000) + 1), 'EX', TTL_SECONDS);
}

/**
 * True when a token issued at `iat` (seconds) was revoked. Redis being away fails open: the 15-minute
 * expiry still bounds the damage.
 */
export async function isAccessTokenRevoked(redis: Redis, prefix: string, userId: string, iat: number): Promise<boolean> {
  try {
    const nbf = await redis.get(keyFor(prefix, userId));
    return nbf !== null && iat < Number(nbf);
  } catch {
    return false;
  }
}
