/**
 * Store credit's ledger (CONTRACT part two, "Store credit"): balances only move with an entry, never
 * below zero, with a gap-free seq; staff grants are idempotent, limited for managers and audited;
 * statements agree with the entries; entries cannot be changed.
 */
import { sql } from 'kysely';
import t, { type Test } from 'tap';
import { ledgerDiscrepancies, postEntry } from '../../shared/credit/ledger.js';
import { createUser } from '../support/fixtures.js';
import { buildTestApp, testEnv, tokenFor } from '../support/harness.js';
import { assertProblem } from '../support/problems.js';

const LIMIT = 5_000_000;

async function setup(t: Test) {
  const { config, db } = await testEnv(t, { CREDIT_MANAGER_LIMIT: String(LIMIT) });
  const app = await buildTestApp(t, config);
  const customer = await createUser(db, { role: 'customer' });
  const as = (role: 'customer' | 'support' | 'manager' | 'admin', id?: string) => ({
    authorization: tokenFor(app, role, id ?? (role === 'customer' ? customer.id : undefined)),
  });
  let key = 0;
  const grant = (
    role: 'support' | 'manager' | 'admin',
    body: object,
    idempotencyKey = `k-${key++}`,
    userId = customer.id,
  ) =>
    app.inject({
      method: 'POST',
      url: `/api/v1/admin/users/${userId}/credit`,
      headers: { ...as(role), 'idempotency-key': idempotencyKey },
      payload: body,
    });
  return { app, db, customer, as, grant };
}

t.test('who may read and move credit', async (t) => {
  const { app, customer, as, grant } = await setup(t);
  t.equal((await app.inject({ url: '/api/v1/me/credit' })).statusCode, 401, 'anonymous: 401');
  const mine = await app.inject({ url: '/api/v1/me/credit', headers: as('customer') });
  t.same(mine.json(), { balance: { amount: 0, currency: 'NGN' } }, 'a customer without an account has 0');

  assertProblem(t, await grant('support', { amount: 100, reason: 'x' }), 403, 'forbidden');
  const read = await app.inject({ url: `/api/v1/admin/users/${customer.id}/credit`, headers: as('support') });
  t.equal(read.statusCode, 200, 'support reads a customer’s credit');
  const asCustomer = await app.inject({
    method: 'POST',
    url: `/api/v1/admin/users/${customer.id}/credit`,
    headers: { ...as('customer'), 'idempotency-key': 'c' },
    payload: { amount: 100, reason: 'self' },
  });
  assertProblem(t, asCustomer, 403, 'forbidden');

  const ok = await grant('manager', { amount: LIMIT, reason: 'goodwill: late delivery' });
  t.equal(ok.statusCode, 201, 'a manager grants up to the limit');
  t.match(ok.json(), {
    seq: 1,
    amount: LIMIT,
    balanceAfter: LIMIT,
    kind: 'grant',
    currency: 'NGN',
    reason: 'goodwill: late delivery',
  });
  assertProblem(t, await grant('manager', { amount: LIMIT + 1, reason: 'too much' }), 403, 'limit_exceeded');
  assertProblem(
    t,
    await grant('manager', { amount: -(LIMIT + 1), reason: 'too much back' }),
    403,
    'limit_exceeded',
  );
  const big = await grant('admin', { amount: LIMIT * 10, reason: 'admin has no limit' });
  t.equal(big.statusCode, 201, 'an admin is not limited');

  assertProblem(t, await grant('admin', { amount: 0, reason: 'nothing' }), 400, 'validation_failed');
  assertProblem(t, await grant('admin', { amount: 1.5, reason: 'half a kobo' }), 400, 'validation_failed');
  assertProblem(
    t,
    await grant('admin', { amount: 5, reason: 'nobody' }, 'k-nobody', '00000000-0000-4000-8000-00000000beef'),
    404,
    'not_found',
  );

  const staffView = await app.inject({
    url: `/api/v1/admin/users/${customer.id}/credit`,
    headers: as('manager'),
  });
  t.match(staffView.json(), { userId: customer.id, balance: { amount: LIMIT * 11 } });
  t.same(
    staffView.json().entries.map((e: { seq: number }) => e.seq),
    [2, 1],
    'latest entries first',
  );
});

t.test('a debit never takes the balance below zero; replays move nothing; grants are audited', async (t) => {
  const { app, db, customer, as, grant } = await setup(t);
  t.equal((await grant('manager', { amount: 10_000, reason: 'apology' }, 'same')).statusCode, 201);
  const replay = await grant('manager', { amount: 10_000, reason: 'apology' }, 'same');
  t.equal(replay.statusCode, 201, 'the replay answers the first entry');
  t.equal(replay.headers['idempotent-replayed'], 'true');
  assertProblem(
    t,
    await grant('manager', { amount: 20_000, reason: 'apology' }, 'same'),
    422,
    'idempotency_conflict',
  );

  assertProblem(
    t,
    await grant('manager', { amount: -10_001, reason: 'too much back' }),
    409,
    'insufficient_credit',
  );
  const debit = await grant('manager', { amount: -4_000, reason: 'granted by mistake' });
  t.match(debit.json(), { seq: 2, amount: -4_000, balanceAfter: 6_000, kind: 'debit' });
  const balance = await app.inject({ url: '/api/v1/me/credit', headers: as('customer') });
  t.same(
    balance.json().balance,
    { amount: 6_000, currency: 'NGN' },
    'moved once per key, and not by the refused debit',
  );

  const audit = await db
    .selectFrom('auditLog')
    .select(['action', 'targetId', 'after'])
    .where('action', 'like', 'credit.%')
    .orderBy('createdAt')
    .execute();
  t.same(
    audit.map((a) => [a.action, a.targetId]),
    [
      ['credit.granted', customer.id],
      ['credit.debited', customer.id],
    ],
    'one audit row per grant or debit that happened, none for the refused or the replayed',
  );
  await t.rejects(
    sql`UPDATE credit_entries SET amount = 1`.execute(db),
    /cannot be changed/,
    'entries cannot be updated',
  );
  await t.rejects(sql`DELETE FROM credit_entries`.execute(db), /cannot be changed/, 'nor deleted');
  await t.rejects(
    sql`UPDATE credit_accounts SET balance = -1`.execute(db),
    /check/i,
    'a balance cannot go below zero',
  );
});

t.test(
  '60 grants, debits and spends at once on one balance: never negative, seq gap-free, balance = Σ entries',
  async (t) => {
    const { db, customer } = await setup(t);
    await db
      .transaction()
      .execute((trx) =>
        postEntry(trx, { userId: customer.id, amount: 50_000, kind: 'grant', reason: 'opening' }),
      );
    const moves = Array.from({ length: 60 }, (_, i) =>
      i % 3 === 0
        ? { amount: 7_000, kind: 'grant' as const }
        : i % 3 === 1
          ? { amount: -9_000, kind: 'spend' as const }
          : { amount: -6_000, kind: 'debit' as const },
    );
    const results = await Promise.allSettled(
      moves.map((m) =>
        db.transaction().execute((trx) => postEntry(trx, { userId: customer.id, ...m, reason: 'race' })),
      ),
    );
    const refused = results.filter((r) => r.status === 'rejected');
    t.ok(
      refused.every((r) => r.reason?.code === 'insufficient_credit'),
      'the only refusals are insufficient_credit',
    );
    const entries = await db
      .selectFrom('creditEntries')
      .select(['seq', 'amount', 'balanceAfter'])
      .where('accountId', '=', customer.id)
      .orderBy('seq')
      .execute();
    t.same(
      entries.map((e) => e.seq),
      entries.map((_, i) => i + 1),
      'seq is 1..n without a gap',
    );
    t.equal(entries.length, 1 + 60 - refused.length, 'one entry per move that was made');
    let running = 0;
    for (const e of entries) {
      running += e.amount;
      if (e.balanceAfter !== running || running < 0)
        t.fail(`entry ${e.seq}: balanceAfter ${e.balanceAfter}, running ${running}`);
    }
    const account = await db
      .selectFrom('creditAccounts')
      .selectAll()
      .where('userId', '=', customer.id)
      .executeTakeFirstOrThrow();
    t.equal(account.balance, running, 'balance = Σ amounts = the last balanceAfter');
    t.same(await ledgerDiscrepancies(db), [], 'the nightly check finds nothing');
    t.ok(
      refused.length > 0 && refused.length < 40,
      `some debits were refused (${refused.length}), most moves went through`,
    );
  },
);

t.test('statement: opening, credits, debits, closing; entries by range and cursor; CSV', async (t) => {
  const { app, db, customer, as } = await setup(t);
  const post = (amount: number, kind: 'grant' | 'debit' | 'refund', at: string) =>
    db.transaction().execute(async (trx) => {
      const e = await postEntry(trx, { userId: customer.id, amount, kind, reason: `${kind} on ${at}` });
      // Only the test moves time: created_at as if the entry had been written then.
      await sql`ALTER TABLE credit_entries DISABLE TRIGGER credit_entries_no_update`.execute(trx);
      await sql`UPDATE credit_entries SET created_at = ${at} WHERE id = ${e.id}`.execute(trx);
      await sql`ALTER TABLE credit_entries ENABLE TRIGGER credit_entries_no_update`.execute(trx);
    });
  await post(10_000, 'grant', '2026-03-01T10:00:00Z');
  await post(-3_000, 'debit', '2026-03-01T22:59:00Z'); // 23:59 in Lagos: still 1 March
  await post(5_000, 'refund', '2026-03-01T23:30:00Z'); // 00:30 on 2 March in Lagos
  await post(-2_000, 'debit', '2026-03-05T12:00:00Z');
  await post(1_000, 'grant', '2026-03-09T12:00:00Z');

  const st = await app.inject({
    url: '/api/v1/me/credit/statement?from=2026-03-02&to=2026-03-05',
    headers: as('customer'),
  });
  t.equal(st.statusCode, 200);
  t.match(st.json(), {
    from: '2026-03-02',
    to: '2026-03-05',
    currency: 'NGN',
    opening: 7_000,
    credits: 5_000,
    debits: 2_000,
    closing: 10_000,
  });
  t.same(
    st.json().entries.map((e: { seq: number }) => e.seq),
    [3, 4],
    'the range’s entries, oldest first, by Lagos days',
  );

  const csv = await app.inject({
    url: '/api/v1/me/credit/statement?from=2026-03-01&to=2026-03-31&format=csv',
    headers: as('customer'),
  });
  t.match(csv.headers['content-type'], /^text\/csv/);
  const lines = csv.body.trim().split('\n');
  t.equal(lines[0], 'seq,created_at,kind,amount_kobo,balance_after_kobo,currency,order_id,reason');
  t.equal(lines.length, 6, 'a header and five entries');
  t.match(lines[2], /^2,2026-03-01T22:59:00.000Z,debit,-3000,7000,NGN,,debit on/);

  const page1 = await app.inject({
    url: '/api/v1/me/credit/entries?from=2026-03-01&to=2026-03-31&limit=2',
    headers: as('customer'),
  });
  t.same(
    page1.json().items.map((e: { seq: number }) => e.seq),
    [5, 4],
    'newest first',
  );
  const page2 = await app.inject({
    url: `/api/v1/me/credit/entries?from=2026-03-01&to=2026-03-31&limit=2&cursor=${page1.json().nextCursor}`,
    headers: as('customer'),
  });
  t.same(
    page2.json().items.map((e: { seq: number }) => e.seq),
    [3, 2],
  );
  assertProblem(
    t,
    await app.inject({ url: '/api/v1/me/credit/entries?cursor=bm90LWEtY3Vyc29y', headers: as('customer') }),
    400,
    'invalid_cursor',
  );
  assertProblem(
    t,
    await app.inject({
      url: '/api/v1/me/credit/statement?from=2024-01-01&to=2026-03-01',
      headers: as('customer'),
    }),
    400,
    'range_too_large',
  );
  const other = await createUser(db, { role: 'customer' });
  const theirs = await app.inject({
    url: '/api/v1/me/credit/statement?from=2026-03-01&to=2026-03-31',
    headers: as('customer', other.id),
  });
  t.match(
    theirs.json(),
    { opening: 0, credits: 0, debits: 0, closing: 0, entries: [] },
    'another customer sees only their own',
  );
});
