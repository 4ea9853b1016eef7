import type { Redis } from 'ioredis';
import { keyOf } from '../redis.js';

/**
 * Access tokens are stateless for 15 minutes; some events must stop them at once:
 *   - disabling a user, changing the role, resetting the password: the user's *token generation* is
 *     raised (`users.token_generation`, in the transaction of the change). Tokens carry the generation
 *     they were issued under (`gen`), read in the same snapshot as the role, so every earlier token stops
 *     and the next one (even within the same millisecond) works: no clock is involved.
 *   - revoking a session (sign-out, a device removed, a leaked refresh token): tokens carry their session
 *     (`sid`); the session is marked revoked.
 * Both are written to Redis for one token lifetime (after that every older token has expired anyway) and
 * published on a channel every API process subscribes to: each keeps what it learnt in a local cache, so a
 * check costs at most one MGET per user and session per second and process, and a revocation reaches every
 * process at once (the message) or within that second (if the message was missed).
 */
const KEY_TTL_SECONDS = 15 * 60 + 60;

/** What a verified access token says that revocation cares about. */
export interface TokenIdentity {
  userId: string;
  /** Absent on tokens without a session (the queue dashboard's cookie, tests' hand-made tokens). */
  sessionId?: string;
  /** The user's token generation when the token was issued (0 when the claim is absent). */
  generation: number;
}

/** A revocation as published to every process. */
export type Revocation = { userId: string; generation: number } | { userId: string; sessionIds: string[] };

export const revocationKeys = (prefix: string) => ({
  generation: (userId: string) => keyOf(prefix, 'auth', 'gen', userId),
  session: (sessionId: string) => keyOf(prefix, 'auth', 'sid', sessionId),
  channel: keyOf(prefix, 'auth', 'revoked'),
});

/** True when this revocation stops this token. */
export function revokes(revocation: Revocation, token: TokenIdentity): boolean {
  if (revocation.userId !== token.userId) return false;
  if ('generation' in revocation) return token.generation < revocation.generation;
  return token.sessionId !== undefined && revocation.sessionIds.includes(token.sessionId);
}

/** A published message, or null when it is not one of ours. */
export function parseRevocation(message: string): Revocation | null {
  try {
    const r = JSON.parse(message) as Record<string, unknown>;
    if (typeof r.userId !== 'string') return null;
    if (typeof r.generation === 'number') return { userId: r.userId, generation: r.generation };
    if (Array.isArray(r.sessionIds) && r.sessionIds.every((s) => typeof s === 'string')) {
      return { userId: r.userId, sessionIds: r.sessionIds };
    }
  } catch {
    // not ours
  }
  return null;
}

// Raise, never lower (two changes racing may arrive in either order), and publish in the same atomic step:
// a subscriber sees the revocation before anything published after it (websocket notices rely on that).
const RAISE_GENERATION = `
local generation = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(ARGV[1]))
redis.call('SET', KEYS[1], generation, 'EX', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return generation`;

/** Stores a revocation for one token lifetime and publishes it to every process. */
async function publishRevocation(redis: Redis, prefix: string, revocation: Revocation): Promise<void> {
  const keys = revocationKeys(prefix);
  const message = JSON.stringify(revocation);
  if ('generation' in revocation) {
    await redis.eval(RAISE_GENERATION, 1, keys.generation(revocation.userId), revocation.generation, KEY_TTL_SECONDS, keys.channel, message);
    return;
  }
  if (revocation.sessionIds.length === 0) return;
  const multi = redis.multi();
  for (const sid of revocation.sessionIds) multi.set(keys.session(sid), '1', 'EX', KEY_TTL_SECONDS);
  multi.publish(keys.channel, message);
  const results = await multi.exec();
  const failed = results?.find(([err]) => err);
  if (!results || failed) throw failed?.[0] ?? new Error('revocation transaction aborted');
}

export interface StoredState {
  generation: number;
  sessionRevoked: boolean;
}

/** What Redis holds for these tokens, in one MGET. */
export async function readRevocationState(redis: Redis, prefix: string, tokens: readonly TokenIdentity[]): Promise<StoredState[]> {
  if (tokens.length === 0) return [];
  const keys = revocationKeys(prefix);
  const values = await redis.mget(tokens.flatMap((t) => [keys.generation(t.userId), keys.session(t.sessionId ?? '-')]));
  return tokens.map((t, i) => ({
    generation: Number(values[2 * i] ?? 0) || 0,
    sessionRevoked: t.sessionId !== undefined && values[2 * i + 1] !== null,
  }));
}

interface Entry<T> {
  value: T;
  at: number;
}

/**
 * What one process knows. Both facts only ever grow (a generation rises, a session once revoked stays
 * revoked), so merging is a max / an or: a stale Redis answer arriving after a fresher message cannot undo it.
 * A known revocation is certain at any age; "not revoked" is trusted for `ttlMs`.
 */
export class RevocationCache {
  private readonly generations = new Map<string, Entry<number>>();
  private readonly sessions = new Map<string, Entry<boolean>>();

  constructor(
    readonly ttlMs = 1_000,
    private readonly max = 50_000,
  ) {}

  private put<T>(map: Map<string, Entry<T>>, key: string, entry: Entry<T>) {
    if (map.size >= this.max) {
      // Oldest first (insertion order): forgetting only costs a Redis read.
      let drop = Math.ceil(this.max / 10);
      for (const k of map.keys()) {
        if (drop-- <= 0) break;
        map.delete(k);
      }
    }
    map.delete(key);
    map.set(key, entry);
  }

  /** A revocation published (or made by this process). */
  apply(revocation: Revocation, at = Date.now()): void {
    if ('generation' in revocation) {
      const old = this.generations.get(revocation.userId);
      this.put(this.generations, revocation.userId, { value: Math.max(old?.value ?? 0, revocation.generation), at: Math.max(old?.at ?? 0, at) });
    } else {
      for (const sid of revocation.sessionIds) this.put(this.sessions, sid, { value: true, at });
    }
  }

  /** What Redis answered for a token, asked at `at`. */
  learn(token: TokenIdentity, state: StoredState, at: number): void {
    const old = this.generations.get(token.userId);
    this.put(this.generations, token.userId, { value: Math.max(old?.value ?? 0, state.generation), at: Math.max(old?.at ?? 0, at) });
    if (token.sessionId !== undefined) {
      const was = this.sessions.get(token.sessionId);
      this.put(this.sessions, token.sessionId, { value: (was?.value ?? false) || state.sessionRevoked, at: Math.max(was?.at ?? 0, at) });
    }
  }

  /**
   * true: revoked (certain); false: not revoked as of at most `maxAgeMs` ago; undefined: ask Redis.
   */
  lookup(token: TokenIdentity, maxAgeMs = this.ttlMs, now = Date.now()): boolean | undefined {
    const generation = this.generations.get(token.userId);
    const session = token.sessionId === undefined ? undefined : this.sessions.get(token.sessionId);
    if ((generation && token.generation < generation.value) || session?.value) return true;
    const fresh = (e: Entry<unknown> | undefined) => e !== undefined && now - e.at < maxAgeMs;
    return fresh(generation) && (token.sessionId === undefined || fresh(session)) ? false : undefined;
  }

  /** The subscription dropped: messages may have been missed, so nothing "not revoked" is trusted any more. */
  expireAll(): void {
    for (const e of this.generations.values()) e.at = 0;
    for (const e of this.sessions.values()) e.at = 0;
  }
}

/** Whether a token was revoked: the local cache, else one MGET. Redis being away fails open (the 15-minute expiry bounds it). */
export async function isRevoked(redis: Redis, prefix: string, cache: RevocationCache, token: TokenIdentity): Promise<boolean> {
  const known = cache.lookup(token);
  if (known !== undefined) return known;
  const asked = Date.now();
  try {
    const [state] = await readRevocationState(redis, prefix, [token]);
    cache.learn(token, state, asked);
  } catch {
    return cache.lookup(token, Infinity) === true;
  }
  return cache.lookup(token, Infinity) === true;
}

/** Stops access tokens; domain functions call it after the change committed. */
export interface TokenRevoker {
  /** Every token of the user issued under an earlier generation (disable, role change, password reset). */
  user(userId: string, generation: number): Promise<void>;
  /** The tokens of these sessions (sign-out, a removed device, a leaked refresh token). */
  sessions(userId: string, sessionIds: readonly string[]): Promise<void>;
}

/**
 * The revoker of an API process: its own cache learns at once (this process refuses the tokens from the
 * next request on, even with Redis away), then Redis stores and publishes for the others.
 */
export function createRevoker(redis: Redis, prefix: string, cache: RevocationCache, onError: (err: unknown) => void): TokenRevoker {
  const revoke = async (revocation: Revocation) => {
    cache.apply(revocation);
    try {
      await publishRevocation(redis, prefix, revocation);
    } catch (err) {
      onError(err);
    }
  };
  return {
    user: (userId, generation) => revoke({ userId, generation }),
    sessions: (userId, sessionIds) => (sessionIds.length ? revoke({ userId, sessionIds: [...sessionIds] }) : Promise.resolve()),
  };
}
