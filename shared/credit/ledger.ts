import { sql } from 'kysely';
import type { Db, DbOrTrx, Trx } from '../db/index.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import { ConflictError } from '../errors.js';
import { formatMoney } from '../format.js';
import { emitNotification } from '../notifications/emit.js';
import { addDays, type DateRange } from '../reports/range.js';
import type { CreditBalance, CreditEntry, CreditEntryKind, CreditStatement } from './schemas.js';

/** The one currency store credit is kept in (the accounts' CHECK). */
export const CREDIT_CURRENCY = 'NGN';

export class InsufficientCreditError extends ConflictError {
  constructor() {
    super('insufficient_credit', 'The store credit balance is smaller than this amount');
  }
}

export interface EntryRequest {
  userId: string;
  /** Kobo, signed; its sign must match the kind (the ledger's CHECK). */
  amount: number;
  kind: CreditEntryKind;
  reason: string;
  orderId?: string | null;
  actorId?: string | null;
}

type EntryRow = {
  id: string;
  seq: number;
  amount: number;
  balanceAfter: number;
  kind: string;
  orderId: string | null;
  reason: string;
  actorId: string | null;
  createdAt: Date;
};

const view = (r: EntryRow): CreditEntry => ({
  id: r.id,
  seq: r.seq,
  amount: r.amount,
  balanceAfter: r.balanceAfter,
  currency: CREDIT_CURRENCY,
  kind: r.kind as CreditEntryKind,
  orderId: r.orderId,
  reason: r.reason,
  actorId: r.actorId,
  createdAt: r.createdAt.toISOString(),
});

const entryColumns = [
  'id',
  'seq',
  'amount',
  'balanceAfter',
  'kind',
  'orderId',
  'reason',
  'actorId',
  'createdAt',
] as const;

/**
 * The only way a balance moves: in the caller's transaction, the account's balance changes by `amount`
 * only if it stays ≥ 0 (one conditional UPDATE, which also holds the account's row lock until commit, so
 * the next `seq` is gap-free), and the entry is written with the balance it leaves. A debit larger than
 * the balance writes nothing and throws 409 `insufficient_credit`. Every entry tells its customer
 * (`credit.changed`, in the same transaction, keyed by the entry: one notification whatever the retries).
 */
export async function postEntry(trx: Trx, req: EntryRequest): Promise<CreditEntry> {
  await trx
    .insertInto('creditAccounts')
    .values({ userId: req.userId })
    .onConflict((oc) => oc.column('userId').doNothing())
    .execute();
  const moved = await trx
    .updateTable('creditAccounts')
    .set({
      balance: sql`balance + ${req.amount}`,
      lastSeq: sql`last_seq + 1`,
      updatedAt: sql`now()`,
    })
    .where('userId', '=', req.userId)
    .where(sql<boolean>`balance + ${req.amount} >= 0`)
    .returning(['balance', 'lastSeq'])
    .executeTakeFirst();
  if (!moved) throw new InsufficientCreditError();
  const entry = await trx
    .insertInto('creditEntries')
    .values({
      accountId: req.userId,
      seq: moved.lastSeq,
      amount: req.amount,
      balanceAfter: moved.balance,
      kind: req.kind,
      orderId: req.orderId ?? null,
      reason: req.reason,
      actorId: req.actorId ?? null,
    })
    .returning(entryColumns)
    .executeTakeFirstOrThrow();
  await notifyCreditChanged(trx, req.userId, entry);
  return view(entry);
}

const KIND_WORDS: Record<CreditEntryKind, string> = {
  refund: 'a refund',
  grant: 'a grant from the shop',
  debit: 'a correction by the shop',
  spend: 'an order',
  spend_reversal: 'a cancelled order',
};

function notifyCreditChanged(trx: Trx, userId: string, e: EntryRow) {
  const kind = e.kind as CreditEntryKind;
  const moved = formatMoney(Math.abs(e.amount), CREDIT_CURRENCY);
  return emitNotification(trx, {
    key: `credit.changed:${e.id}`,
    kind: 'credit.changed',
    userIds: [userId],
    title: e.amount > 0 ? `${moved} store credit added` : `${moved} store credit used`,
    body: `${e.amount > 0 ? 'Added by' : 'Used for'} ${KIND_WORDS[kind]}: your store credit is now ${formatMoney(e.balanceAfter, CREDIT_CURRENCY)}.`,
    data: {
      entryId: e.id,
      seq: e.seq,
      kind,
      amount: e.amount,
      balanceAfter: e.balanceAfter,
      currency: CREDIT_CURRENCY,
      orderId: e.orderId,
    },
  });
}

export async function creditBalance(db: DbOrTrx, userId: string): Promise<CreditBalance> {
  const row = await db
    .selectFrom('creditAccounts')
    .select('balance')
    .where('userId', '=', userId)
    .executeTakeFirst();
  return { balance: { amount: row?.balance ?? 0, currency: CREDIT_CURRENCY } };
}

const rangeBounds = (range: DateRange, timeZone: string) => ({
  start: sql<Date>`(${range.from}::date::timestamp AT TIME ZONE ${timeZone})`,
  end: sql<Date>`(${addDays(range.to, 1)}::date::timestamp AT TIME ZONE ${timeZone})`,
});

/** An account's entries in a range, newest first; keyset-paginated on seq (the account's own order). */
export async function listEntries(
  db: DbOrTrx,
  userId: string,
  opts: { range?: DateRange; timeZone: string; limit: number; cursor?: string },
): Promise<{ items: CreditEntry[]; nextCursor: string | null }> {
  let q = db.selectFrom('creditEntries').select(entryColumns).where('accountId', '=', userId);
  if (opts.range) {
    const { start, end } = rangeBounds(opts.range, opts.timeZone);
    q = q.where('createdAt', '>=', start).where('createdAt', '<', end);
  }
  if (opts.cursor) {
    const [seq] = decodeCursor(opts.cursor, ['bigint'] as const);
    q = q.where('seq', '<', Number(seq));
  }
  const rows = await q
    .orderBy('seq', 'desc')
    .limit(opts.limit + 1)
    .execute();
  const page = rows.slice(0, opts.limit);
  const last = page.at(-1);
  return {
    items: page.map(view),
    nextCursor: rows.length > opts.limit && last ? encodeCursor([String(last.seq)]) : null,
  };
}

/**
 * A statement of a range, read in one snapshot by the caller: the opening balance is the balance the last
 * entry before the range left (0 without one), closing = opening + credits − debits, which is also the
 * last balance_after in the range (the ledger's invariant; the nightly check proves it for every account).
 */
export async function creditStatement(
  db: DbOrTrx,
  userId: string,
  range: DateRange,
  timeZone: string,
): Promise<CreditStatement> {
  const { start, end } = rangeBounds(range, timeZone);
  const before = await db
    .selectFrom('creditEntries')
    .select('balanceAfter')
    .where('accountId', '=', userId)
    .where('createdAt', '<', start)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  const rows = await db
    .selectFrom('creditEntries')
    .select(entryColumns)
    .where('accountId', '=', userId)
    .where('createdAt', '>=', start)
    .where('createdAt', '<', end)
    .orderBy('seq', 'asc')
    .execute();
  const opening = before?.balanceAfter ?? 0;
  const credits = rows.reduce((sum, r) => sum + (r.amount > 0 ? r.amount : 0), 0);
  const debits = rows.reduce((sum, r) => sum + (r.amount < 0 ? -r.amount : 0), 0);
  return {
    from: range.from,
    to: range.to,
    currency: CREDIT_CURRENCY,
    opening,
    credits,
    debits,
    closing: opening + credits - debits,
    entries: rows.map(view),
  };
}

/** The statement in one REPEATABLE READ snapshot, so the opening balance and the range's entries agree. */
export function creditStatementSnapshot(
  db: Db,
  userId: string,
  range: DateRange,
  timeZone: string,
): Promise<CreditStatement> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute((trx) => creditStatement(trx, userId, range, timeZone));
}

/** Columns of the CSV statement; money in integer kobo (`*_kobo`). */
export const STATEMENT_CSV_COLUMNS = [
  'seq',
  'created_at',
  'kind',
  'amount_kobo',
  'balance_after_kobo',
  'currency',
  'order_id',
  'reason',
] as const;

/** The statement's lines for CSV, in pages of 500 so a long history streams in bounded memory. */
export async function* statementLines(
  db: DbOrTrx,
  userId: string,
  range: DateRange,
  timeZone: string,
): AsyncGenerator<(string | number)[]> {
  const { start, end } = rangeBounds(range, timeZone);
  let after = 0;
  for (;;) {
    const rows = await db
      .selectFrom('creditEntries')
      .select(entryColumns)
      .where('accountId', '=', userId)
      .where('createdAt', '>=', start)
      .where('createdAt', '<', end)
      .where('seq', '>', after)
      .orderBy('seq', 'asc')
      .limit(500)
      .execute();
    for (const r of rows) {
      yield [
        r.seq,
        r.createdAt.toISOString(),
        r.kind,
        r.amount,
        r.balanceAfter,
        CREDIT_CURRENCY,
        r.orderId ?? '',
        r.reason,
      ];
    }
    if (rows.length < 500) return;
    after = rows[rows.length - 1].seq;
  }
}

/** Nightly check (CONTRACT: "all checked nightly"): accounts whose balance is not Σ entries or the last balance_after, or whose seq has a gap. */
export async function ledgerDiscrepancies(db: DbOrTrx): Promise<
  {
    userId: string;
    balance: number;
    sum: number;
    lastBalanceAfter: number | null;
    entries: number;
    lastSeq: number;
  }[]
> {
  const { rows } = await sql<{
    userId: string;
    balance: number;
    sum: number;
    lastBalanceAfter: number | null;
    entries: number;
    lastSeq: number;
  }>`
    SELECT a.user_id AS "userId", a.balance, coalesce(e.sum, 0)::bigint AS sum, e.last_balance_after AS "lastBalanceAfter",
           coalesce(e.entries, 0)::bigint AS entries, a.last_seq AS "lastSeq"
    FROM credit_accounts a
    LEFT JOIN LATERAL (
      SELECT sum(amount) AS sum, count(*) AS entries, max(seq) AS max_seq,
             (SELECT balance_after FROM credit_entries WHERE account_id = a.user_id ORDER BY seq DESC LIMIT 1) AS last_balance_after
      FROM credit_entries WHERE account_id = a.user_id
    ) e ON true
    WHERE a.balance <> coalesce(e.sum, 0)
       OR a.balance <> coalesce(e.last_balance_after, 0)
       OR a.last_seq <> coalesce(e.entries, 0)
       OR a.last_seq <> coalesce(e.max_seq, 0)
  `.execute(db);
  return rows;
}
