import { sql, type Kysely } from 'kysely';

/**
 * Store credit as a tender (CONTRACT part two, "Store credit": checkout and refunds extended).
 *
 * - The credit spent at checkout is a `payments` row of its own, `provider = 'store_credit'`, written with
 *   its `spend` entry (`credit_entry_id`) in the checkout transaction, so the order's payments list both
 *   tenders, refunds draw on it like on any payment (refund_parts.payment_id stays NOT NULL), and
 *   "Σ refunds ≤ paid" counts the credit-paid part. It is `success` once spent and `reversed` when the
 *   unpaid order is cancelled (with its one `spend_reversal`).
 * - One `spend` and at most one `spend_reversal` per order: unique indexes, so a cancel or expiry run
 *   twice cannot give the credit back twice whatever the code does.
 * - `refunds.destination`: `original` (Paystack, then credit for the credit-paid part) or `store_credit`
 *   (settles at once as a `refund` entry); a part paid out as credit names its entry.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE payments
      DROP CONSTRAINT payments_provider_check,
      ADD CONSTRAINT payments_provider_check CHECK (provider IN ('paystack', 'store_credit')),
      DROP CONSTRAINT payments_status_check,
      ADD CONSTRAINT payments_status_check CHECK (status IN
        ('initializing', 'initialized', 'init_failed', 'success', 'failed', 'abandoned', 'mismatch', 'reversed')),
      ADD COLUMN credit_entry_id uuid UNIQUE REFERENCES credit_entries (id),
      ADD CONSTRAINT payments_credit_entry CHECK ((provider = 'store_credit') = (credit_entry_id IS NOT NULL)),
      ADD CONSTRAINT payments_reversed_is_credit CHECK (status <> 'reversed' OR provider = 'store_credit');

    CREATE UNIQUE INDEX credit_entries_one_spend_idx ON credit_entries (order_id) WHERE kind = 'spend';
    CREATE UNIQUE INDEX credit_entries_one_reversal_idx ON credit_entries (order_id) WHERE kind = 'spend_reversal';

    ALTER TABLE refunds
      ADD COLUMN destination text NOT NULL DEFAULT 'original' CHECK (destination IN ('original', 'store_credit'));
    ALTER TABLE refund_parts ADD COLUMN credit_entry_id uuid UNIQUE REFERENCES credit_entries (id);

    ALTER TABLE reconciliation_runs ADD COLUMN credit_discrepancies jsonb NOT NULL DEFAULT '[]';
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE reconciliation_runs DROP COLUMN credit_discrepancies;
    ALTER TABLE refund_parts DROP COLUMN credit_entry_id;
    ALTER TABLE refunds DROP COLUMN destination;
    DROP INDEX credit_entries_one_reversal_idx;
    DROP INDEX credit_entries_one_spend_idx;
    DELETE FROM payments WHERE provider = 'store_credit';
    ALTER TABLE payments
      DROP CONSTRAINT payments_reversed_is_credit,
      DROP CONSTRAINT payments_credit_entry,
      DROP COLUMN credit_entry_id,
      DROP CONSTRAINT payments_status_check,
      ADD CONSTRAINT payments_status_check CHECK (status IN
        ('initializing', 'initialized', 'init_failed', 'success', 'failed', 'abandoned', 'mismatch')),
      DROP CONSTRAINT payments_provider_check,
      ADD CONSTRAINT payments_provider_check CHECK (provider IN ('paystack'));
  `.execute(db);
}
