import { sql, type Kysely } from 'kysely';

/**
 * The nightly store-credit checks (shared/credit/ledger-checks.ts) alert staff like the payment ledger's
 * do: one more kind in `payment_problem_notices`, under the `ledger_mismatch` problem. The list is
 * shared/payments/schemas.ts's `paymentProblemKinds`, in full (test/platform/status-lists.test.ts keeps
 * them equal).
 */
const OLD_KINDS = [
  'amount_mismatch',
  'currency_mismatch',
  'unknown_reference',
  'paid_but_cancelled',
  'ours_paid_theirs_not',
  'paid_twice',
  'payment_unconfirmed',
  'refund_stuck',
  'order_ledger_mismatch',
  'rollup_mismatch',
  'paystack_daily_mismatch',
];
const KINDS = [...OLD_KINDS, 'credit_ledger_mismatch'];

const list = (values: readonly string[]) => sql.join(values.map((v) => sql.lit(v)));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function setKinds(db: Kysely<any>, kinds: readonly string[]) {
  await sql`
    ALTER TABLE payment_problem_notices
      DROP CONSTRAINT payment_problem_notices_kind_check,
      ADD CONSTRAINT payment_problem_notices_kind_check CHECK (kind IN (${list(kinds)}))
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await setKinds(db, KINDS);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DELETE FROM payment_problem_notices WHERE kind = 'credit_ledger_mismatch'`.execute(db);
  await setKinds(db, OLD_KINDS);
}
