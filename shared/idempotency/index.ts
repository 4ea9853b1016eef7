import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, DbOrTrx } from '../db/index.js';
import { ConflictError, UnprocessableError, ValidationError } from '../errors.js';

/**
 * Idempotency-Key handling (DESIGN rule 4), stored in `idempotency_keys` per (scope, owner, key) with a
 * hash of the request, a state and the first answer, kept 24 h:
 *  - same key + same request after it finished → the stored answer is replayed;
 *  - same key + another request → 422 idempotency_conflict;
 *  - same key while the first is still running → 409 idempotency_in_progress.
 *
 * While running, `expires_at` is a short lease (LEASE_SECONDS): if the process dies mid-request, the key
 * does not stay "in progress" for a day. A use case whose effects commit before its answer is final
 * (checkout: order committed, then the Paystack call) saves a provisional answer in its own transaction
 * (`saveProvisional`); a retry after the lease ran out then finishes from that answer (`recover`) instead
 * of doing the work twice. Without a provisional answer nothing was committed, so the retry runs anew.
 * A request that failed with a 4xx committed nothing either: its key is dropped so the client can fix the
 * request and retry with the same key.
 */

export const LEASE_SECONDS = 60;
export const RETENTION_HOURS = 24;

export interface IdempotentRequest {
  scope: string;
  /** Who the key belongs to: `user:<id>` or `cart-token:<token hash>`; two callers never share keys. */
  owner: string;
  key: string;
  /** Anything that identifies the request (method, path, body): hashed canonically. */
  request: unknown;
}

/** An answer as the key keeps it: the status and the JSON body a replay sends again. */
export interface StoredAnswer<B = unknown, S extends number = number> {
  status: S;
  body: B;
}

export type IdempotentResult<A extends StoredAnswer> = A & { replayed: boolean };

const KEY_RE = /^[\x21-\x7e]{1,255}$/;

export function assertIdempotencyKey(key: string | string[] | undefined): string {
  const value = Array.isArray(key) ? key[0] : key;
  if (!value) {
    throw new ValidationError('This request needs an Idempotency-Key header', [{ path: '/headers/idempotency-key', message: 'is required' }]);
  }
  if (!KEY_RE.test(value)) {
    throw new ValidationError('The Idempotency-Key header is invalid', [
      { path: '/headers/idempotency-key', message: 'must be 1–255 printable ASCII characters' },
    ]);
  }
  return value;
}

/** JSON with sorted keys, so logically equal bodies hash the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export const requestHash = (request: unknown) => createHash('sha256').update(canonical(request)).digest('hex');

type Claim = { kind: 'run'; id: string } | { kind: 'replay'; answer: StoredAnswer } | { kind: 'recover'; id: string; answer: StoredAnswer };

async function claim(db: Db, req: IdempotentRequest, hash: string): Promise<Claim> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const inserted = await sql<{ id: string }>`
      INSERT INTO idempotency_keys (scope, owner, key, request_hash, state, expires_at)
      VALUES (${req.scope}, ${req.owner}, ${req.key}, ${hash}, 'running', now() + make_interval(secs => ${LEASE_SECONDS}))
      ON CONFLICT (scope, owner, key) DO NOTHING RETURNING id`.execute(db);
    if (inserted.rows[0]) return { kind: 'run', id: inserted.rows[0].id };

    const row = await db
      .selectFrom('idempotencyKeys')
      .select(['id', 'requestHash', 'state', 'responseStatus', 'responseBody', sql<boolean>`expires_at < now()`.as('lapsed')])
      .where('scope', '=', req.scope)
      .where('owner', '=', req.owner)
      .where('key', '=', req.key)
      .executeTakeFirst();
    if (!row) continue; // deleted meanwhile: try the insert again
    if (row.state === 'done' && row.lapsed) {
      await db.deleteFrom('idempotencyKeys').where('id', '=', row.id).where('state', '=', 'done').execute();
      continue;
    }
    if (row.requestHash !== hash) {
      throw new UnprocessableError('idempotency_conflict', 'This Idempotency-Key was used with a different request');
    }
    if (row.state === 'done') return { kind: 'replay', answer: { status: row.responseStatus ?? 200, body: row.responseBody } };
    if (!row.lapsed) throw new ConflictError('idempotency_in_progress', 'A request with this Idempotency-Key is still being processed');
    // The first request died while holding the key: take the lease over (one taker wins).
    const taken = await sql<{ id: string }>`
      UPDATE idempotency_keys SET expires_at = now() + make_interval(secs => ${LEASE_SECONDS})
      WHERE id = ${row.id} AND state = 'running' AND expires_at < now() RETURNING id`.execute(db);
    if (!taken.rows[0]) throw new ConflictError('idempotency_in_progress', 'A request with this Idempotency-Key is still being processed');
    if (row.responseStatus !== null) return { kind: 'recover', id: row.id, answer: { status: row.responseStatus, body: row.responseBody } };
    return { kind: 'run', id: row.id };
  }
  throw new ConflictError('idempotency_in_progress', 'A request with this Idempotency-Key is still being processed');
}

/** Inside the use case's own transaction: the answer as of its commit, for recovery after a crash. */
export async function saveProvisional<P extends StoredAnswer>(trx: DbOrTrx, claimId: string, answer: P): Promise<void> {
  await trx
    .updateTable('idempotencyKeys')
    .set({ responseStatus: answer.status, responseBody: JSON.stringify(answer.body) })
    .where('id', '=', claimId)
    .execute();
}

/** The key's row once its answer is final: replayed from now on, kept RETENTION_HOURS. */
export const completion = (answer: StoredAnswer) => ({
  state: 'done' as const,
  responseStatus: answer.status,
  responseBody: JSON.stringify(answer.body),
  expiresAt: sql<Date>`created_at + make_interval(hours => ${RETENTION_HOURS})`,
});

export async function completeKey(db: DbOrTrx, claimId: string, answer: StoredAnswer): Promise<void> {
  await db.updateTable('idempotencyKeys').set(completion(answer)).where('id', '=', claimId).execute();
}

/**
 * `A`: the answer the use case gives; `P`: the provisional answer its transaction saves (saveProvisional).
 * Without `recover` the provisional answer is final, so then P is A.
 */
export interface IdempotentHandlers<A extends StoredAnswer, P extends StoredAnswer = A> {
  /** Does the work; may call saveProvisional(trx, claimId, ...) inside its transaction. */
  run(claimId: string): Promise<A>;
  /** Finishes a request whose process died after its transaction committed (from the provisional answer). */
  recover?(provisional: P): Promise<A>;
  /**
   * Completes the key after `run` instead of the default `completeKey`: a use case whose last write can
   * go in the same statement (checkout: the Paystack outcome) saves a round trip.
   */
  complete?(claimId: string, answer: A): Promise<void>;
}

/**
 * Runs the use case once per (scope, owner, key) and answers a repeat with the first answer. The stored
 * answers of a scope are only ever written by its own use case, so a replayed row is read back as `A`
 * (and a provisional one as `P`) here, once, instead of being cast by every caller.
 */
export async function withIdempotency<A extends StoredAnswer, P extends StoredAnswer = A>(
  db: Db,
  req: IdempotentRequest,
  handlers: IdempotentHandlers<A, P>,
): Promise<IdempotentResult<A>> {
  const hash = requestHash(req.request);
  const claimed = await claim(db, req, hash);
  if (claimed.kind === 'replay') return { ...(claimed.answer as A), replayed: true };
  if (claimed.kind === 'recover') {
    const answer = handlers.recover ? await handlers.recover(claimed.answer as P) : (claimed.answer as A);
    await completeKey(db, claimed.id, answer);
    return { ...answer, replayed: true };
  }
  let answer: A;
  try {
    answer = await handlers.run(claimed.id);
  } catch (err) {
    // Only forget the key if nothing was committed (no provisional answer). With a committed effect the key
    // stays running; its lease runs out and a retry recovers.
    await db
      .deleteFrom('idempotencyKeys')
      .where('id', '=', claimed.id)
      .where('responseStatus', 'is', null)
      .execute()
      .catch(() => undefined);
    throw err;
  }
  await (handlers.complete ? handlers.complete(claimed.id, answer) : completeKey(db, claimed.id, answer));
  return { ...answer, replayed: false };
}

/** Housekeeping (the expiry job): finished keys past 24 h, and abandoned ones past a day. */
export async function purgeIdempotencyKeys(db: Db): Promise<number> {
  const res = await db
    .deleteFrom('idempotencyKeys')
    .where((eb) =>
      eb.or([
        eb.and([eb('state', '=', 'done'), eb('expiresAt', '<', sql<Date>`now()`)]),
        eb('createdAt', '<', sql<Date>`now() - make_interval(hours => ${RETENTION_HOURS * 2})`),
      ]),
    )
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}
