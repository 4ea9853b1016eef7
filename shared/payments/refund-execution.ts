import { sql } from 'kysely';
import type { Db } from '../db/index.js';
import type { Logger } from '../logger.js';
import { enqueue } from '../outbox.js';
import {
  bindPart,
  lockPart,
  merchantNoteOf,
  ownProviderRefund,
  type ProviderRefund,
  type RefundGateway,
} from './refund-binding.js';
import { settleRefundPart } from './refund-events.js';
import { isFinalRefundStatus } from './refund-states.js';

/** An error the provider will answer the same way however often we ask (bad request, reversed, ...). */
const isFinalProviderError = (err: unknown) =>
  typeof err === 'object' && err !== null && 'retryable' in err && err.retryable === false;

/**
 * Whether a create call that failed may still have made the refund. Only a refused connection (the
 * call never left) and Paystack's own "not now" (429, 503) say it did not; a timeout, a dropped
 * connection or another 5xx leave it open: Paystack may be working on it still.
 */
function createMayHaveLanded(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return true;
  const e = err as { status?: unknown; unsent?: unknown };
  if (e.unsent === true) return false;
  return !(e.status === 429 || e.status === 503);
}

/** The retry of a part whose create may still land at Paystack: not created again yet (the job retries). */
export class RefundCreateUnsettledError extends Error {
  constructor(
    readonly partId: string,
    readonly waitMs: number,
  ) {
    super(
      `refund part ${partId}: an earlier create call got no answer and may still land at Paystack; not created again for ${Math.ceil(waitMs)} ms`,
    );
    this.name = 'RefundCreateUnsettledError';
  }
}

export interface ExecuteRefundOptions {
  /**
   * After a create call with no answer, how long the part is only claimed by our note, never created
   * again (REFUND_RECREATE_AFTER_MS; default a minute).
   */
  recreateAfterMs?: number;
}

export type PartResult = { partId: string } & (
  | { outcome: 'already_settled' }
  | { outcome: 'refused'; reason: string }
  | { outcome: 'error'; error: unknown }
  | { outcome: 'created' | 'claimed' | 'polled'; providerRefundId: number; providerStatus: string }
);

export type ExecuteResult = { outcome: 'unknown_refund' } | { outcome: 'executed'; parts: PartResult[] };

/**
 * The `refund.execute` job: asks Paystack to refund each unsettled part EXACTLY once. Paystack has no
 * idempotency key, so a part's rows are locked for the duration of its calls (a second runner waits,
 * then finds the provider id) and, before creating anything, the transaction's refunds are listed: one
 * carrying our note is ours from an earlier attempt whose answer was lost, and is claimed instead of
 * refunding again. A call with no answer may also land AFTER the retry's list (Paystack still working
 * through it): such a part is marked and, for `recreateAfterMs`, only claimed, never created again. A
 * bound part is only polled. Settling (processed/failed) happens in
 * `settleRefundPart`, which the caller runs after this when a status is final. A part whose calls fail
 * does not stop the others; its error comes back in its result.
 */
export async function executeRefund(
  db: Db,
  gateway: RefundGateway,
  refundId: string,
  opts: ExecuteRefundOptions = {},
): Promise<ExecuteResult> {
  const parts = await db
    .selectFrom('refundParts')
    .select('id')
    .where('refundId', '=', refundId)
    .orderBy('createdAt')
    .orderBy('id')
    .execute();
  if (!parts.length) return { outcome: 'unknown_refund' };
  const results: PartResult[] = [];
  for (const { id } of parts) {
    try {
      results.push({ partId: id, ...(await executePart(db, gateway, refundId, id, opts)) });
    } catch (error) {
      results.push({ partId: id, outcome: 'error', error });
    }
  }
  return { outcome: 'executed', parts: results };
}

type PartOutcome = PartResult extends infer R
  ? R extends { partId: string }
    ? Omit<R, 'partId'>
    : never
  : never;

async function executePart(
  db: Db,
  gateway: RefundGateway,
  refundId: string,
  partId: string,
  opts: ExecuteRefundOptions,
): Promise<PartOutcome> {
  const recreateAfterMs = opts.recreateAfterMs ?? 60_000;
  return db.transaction().execute(async (trx): Promise<PartOutcome> => {
    const part = await lockPart(trx, refundId, partId);
    if (!part || isFinalRefundStatus(part.status)) return { outcome: 'already_settled' };

    const bind = async (
      provider: ProviderRefund,
      outcome: 'created' | 'claimed' | 'polled',
    ): Promise<PartOutcome> => {
      await bindPart(trx, refundId, part.id, provider);
      return { outcome, providerRefundId: provider.id, providerStatus: provider.status };
    };

    if (part.providerRefundId !== null) {
      const provider = await gateway.fetchRefund(part.providerRefundId);
      // Bound means Paystack made it: never create another because one read came back empty.
      if (!provider)
        throw new Error(`Paystack does not know refund ${part.providerRefundId} (part ${part.id})`);
      return bind(provider, 'polled');
    }

    const transaction = part.providerTransactionId ?? part.reference;
    const own = ownProviderRefund(await gateway.listRefunds({ transaction }), refundId);
    if (own) return bind(own, 'claimed');
    // An earlier call may still land: the list not showing it yet proves nothing until it has had time.
    if (part.uncertainForMs !== null && part.uncertainForMs < recreateAfterMs) {
      throw new RefundCreateUnsettledError(part.id, recreateAfterMs - part.uncertainForMs);
    }

    try {
      const created = await gateway.createRefund({
        transaction,
        amount: part.amount,
        currency: part.currency,
        merchantNote: merchantNoteOf(refundId),
      });
      return await bind(created, 'created');
    } catch (err) {
      if (isFinalProviderError(err)) {
        return { outcome: 'refused', reason: err instanceof Error ? err.message : String(err) };
      }
      // Timeouts, 5xx, 429: the job retries (and lists first). When the call may have made the refund,
      // that is recorded (committed with this transaction, so the error is returned, not thrown).
      if (!createMayHaveLanded(err)) throw err;
      await trx
        .updateTable('refundParts')
        .set({ createUncertainSince: sql<Date>`clock_timestamp()` })
        .where('id', '=', part.id)
        .execute();
      return { outcome: 'error', error: err };
    }
  });
}

/** Polls stop after this many checks (with doubling waits from REFUND_POLL_MS, capped at 6 h: days). */
export const REFUND_MAX_POLLS = 24;
const MAX_POLL_DELAY_MS = 6 * 3600_000;

export interface RefundJobOptions {
  recreateAfterMs: number;
  /** The first status poll's delay (REFUND_POLL_MS); each next one doubles. */
  pollMs: number;
  log: Logger;
}

/**
 * One run of the `refund.execute` job: executes the refund's parts at Paystack, settles those whose
 * status is final, and, while any is still open, schedules the next status poll. Throws (the job retries,
 * listing first, so nothing is refunded twice) when a part's Paystack call failed.
 */
export async function runRefundJob(
  db: Db,
  gateway: RefundGateway,
  refundId: string,
  poll: number,
  opts: RefundJobOptions,
) {
  const { log } = opts;
  const result = await executeRefund(db, gateway, refundId, { recreateAfterMs: opts.recreateAfterMs });
  if (result.outcome === 'unknown_refund') return result;
  let open = false;
  let failure: Error | undefined;
  for (const part of result.parts) {
    const { partId } = part;
    if (part.outcome === 'error') {
      failure ??= part.error instanceof Error ? part.error : new Error(`refund part ${partId} failed`);
      continue;
    }
    log.info({ refundId, ...part }, 'refund part executed');
    if (part.outcome === 'already_settled') continue;
    if (part.outcome === 'refused') {
      await db
        .transaction()
        .execute((trx) => settleRefundPart(trx, partId, 'failed', { failureReason: part.reason }));
      continue;
    }
    const status = part.providerStatus;
    if (status === 'processed' || status === 'failed') {
      await db
        .transaction()
        .execute((trx) => settleRefundPart(trx, partId, status, { providerStatus: status }));
    } else open = true;
  }
  if (failure) throw failure;
  // Not final yet: the webhook usually settles it; a delayed poll makes sure a missed one cannot
  // leave the refund hanging.
  if (open) {
    if (poll < REFUND_MAX_POLLS) {
      const delayMs = Math.min(opts.pollMs * 2 ** poll, MAX_POLL_DELAY_MS);
      await db
        .transaction()
        .execute((trx) => enqueue(trx, 'refund.execute', { refundId, poll: poll + 1 }, { delayMs }));
    } else {
      log.warn({ refundId }, 'refund still not settled after the last poll; left for staff');
    }
  }
  return {
    outcome: result.outcome,
    parts: result.parts.map(({ partId, outcome }) => ({ partId, outcome })),
  };
}
