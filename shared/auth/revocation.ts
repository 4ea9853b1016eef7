import type { Redis } from 'ioredis';
import { keyOf } from '../redis.js';

/**
 * Access tokens are stateless for 15 minutes. When a user is disabled, changes role or resets the
 * password, the tokens issued before that moment must stop working at once: we keep "not before" per
 * user in Redis for one token lifetime (after that every older token has expired anyway). Checking it
 * costs at most one GET per user per second and process (see the local cache below).
 */
const TTL_SECONDS = 15 * 60 + 60;

const keyFor = (prefix: string, userId: string) => keyOf(prefix, 'auth', 'nbf', userId);

/**
 * Each process remembers a user's answer for one second: a busy client costs one Redis GET per second
 * instead of one per request, and other replicas see a revocation within that second.
 */
const LOCAL_TTL_MS = 1_000;
const LOCAL_MAX = 50_000;
const local = new Map<string, { nbf: number | null; at: number }>();

/**
 * Tokens of this user issued up to now are refused from here on. `iat` has whole seconds, so the cut is
 * rounded up: a token signed later in the same second is refused too (fail closed; a client signing in
 * again within that second gets a token that works from the next second on).
 */
export async function revokeAccessTokens(redis: Redis, prefix: string, userId: string): Promise<void> {
  const nbf = Math.floor(Date.now() / 1000) + 1;
  await redis.set(keyFor(prefix, userId), String(nbf), 'EX', TTL_SECONDS);
  local.set(keyFor(prefix, userId), { nbf, at: Date.now() });
}

/**
 * True when a token issued at `iat` (seconds) was revoked. Redis being away fails open: the 15-minute
 * expiry still bounds the damage.
 */
export async function isAccessTokenRevoked(redis: Redis, prefix: string, userId: string, iat: number): Promise<boolean> {
  const key = keyFor(prefix, userId);
  const now = Date.now();
  const cached = local.get(key);
  if (cached && now - cached.at < LOCAL_TTL_MS) return cached.nbf !== null && iat < cached.nbf;
  try {
    const value = await redis.get(key);
    const nbf = value === null ? null : Number(value);
    if (local.size >= LOCAL_MAX) local.clear();
    local.set(key, { nbf, at: now });
    return nbf !== null && iat < nbf;
  } catch {
    return false;
  }
}
