import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Set when a verification of this attempt could not reach Paystack, cleared by the next answer: the
    -- payments sweep re-verifies these, and one unanswered for an hour is reported to staff.
    ALTER TABLE payments ADD COLUMN unverified_since timestamptz;
    CREATE INDEX payments_unverified_idx ON payments (unverified_since) WHERE unverified_since IS NOT NULL;

    -- What the sweep scans: refunds not settled yet, webhook events not handled yet.
    CREATE INDEX refunds_open_idx ON refunds (updated_at) WHERE status IN ('pending', 'processing');
    CREATE INDEX webhook_events_unprocessed_idx ON webhook_events (received_at) WHERE processed_at IS NULL;

    -- One staff alert (mail + socket notice) per subject and problem, whatever kind reported it first:
    -- the subject is a payment reference (or a refund id for a refund's own problems), the problem a
    -- class of kinds (amount and currency mismatch are one problem, "wrong amount").
    CREATE TABLE payment_problem_notices (
      subject text NOT NULL,
      problem text NOT NULL,
      kind text NOT NULL,
      order_id uuid REFERENCES orders (id) ON DELETE SET NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (subject, problem)
    );
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE payment_problem_notices;
    DROP INDEX webhook_events_unprocessed_idx;
    DROP INDEX refunds_open_idx;
    ALTER TABLE payments DROP COLUMN unverified_since;
  `.execute(db);
}
