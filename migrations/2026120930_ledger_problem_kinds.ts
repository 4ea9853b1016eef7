import { sql, type Kysely } from 'kysely';

/**
 * The staff alerts of the reconciliation's ledger checks (shared/payments/ledger-checks.ts) widen the
 * CHECKs of `payment_problem_notices` (2026120800_status_checks): three kinds, one problem. The lists are
 * shared/payments/schemas.ts's `paymentProblemKinds` and `paymentProblems`, in full
 * (test/platform/status-lists.test.ts keeps them equal).
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
];
const KINDS = [...OLD_KINDS, 'order_ledger_mismatch', 'rollup_mismatch', 'paystack_daily_mismatch'];
const OLD_PROBLEMS = ['wrong_payment', 'money_to_return', 'unknown_payment', 'missing_at_paystack', 'unconfirmed', 'refund_stuck'];
const PROBLEMS = [...OLD_PROBLEMS, 'ledger_mismatch'];

const list = (values: readonly string[]) => sql.join(values.map((v) => sql.lit(v)));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function setChecks(db: Kysely<any>, kinds: readonly string[], problems: readonly string[]) {
  await sql`
    ALTER TABLE payment_problem_notices
      DROP CONSTRAINT payment_problem_notices_kind_check, DROP CONSTRAINT payment_problem_notices_problem_check,
      ADD CONSTRAINT payment_problem_notices_kind_check CHECK (kind IN (${list(kinds)})),
      ADD CONSTRAINT payment_problem_notices_problem_check CHECK (problem IN (${list(problems)}))
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await setChecks(db, KINDS, PROBLEMS);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await setChecks(db, OLD_KINDS, OLD_PROBLEMS);
}
