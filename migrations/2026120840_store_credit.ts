import { sql, type Kysely } from 'kysely';

/**
 * Store credit: one NGN account per customer and its append-only ledger (CONTRACT part two, "Store credit").
 * The database holds the invariants, not the application:
 *   - `balance >= 0` (CHECK); the balance moves only with an entry, by `balance = balance + d WHERE
 *     balance + d >= 0`, which also takes the account's row lock, so `seq` (from `last_seq`) is gap-free
 *     and entries of one account are totally ordered;
 *   - each entry's sign matches its kind; `(account_id, seq)` unique; `balance_after >= 0`;
 *   - entries are never updated or deleted (a trigger), so balance = Σ amounts = the last balance_after
 *     holds for ever once it holds at insert (the nightly check re-reads it).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE credit_accounts (
      user_id uuid PRIMARY KEY REFERENCES users (id),
      currency char(3) NOT NULL DEFAULT 'NGN' CHECK (currency = 'NGN'),
      balance bigint NOT NULL DEFAULT 0 CHECK (balance >= 0),
      last_seq bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE credit_entries (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      account_id uuid NOT NULL REFERENCES credit_accounts (user_id),
      seq bigint NOT NULL CHECK (seq > 0),
      amount bigint NOT NULL,
      balance_after bigint NOT NULL CHECK (balance_after >= 0),
      kind text NOT NULL CHECK (kind IN ('refund', 'grant', 'debit', 'spend', 'spend_reversal')),
      order_id uuid REFERENCES orders (id),
      reason text NOT NULL,
      actor_id uuid,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (account_id, seq),
      CONSTRAINT credit_entries_sign CHECK (
        CASE WHEN kind IN ('refund', 'grant', 'spend_reversal') THEN amount > 0 ELSE amount < 0 END
      )
    );
    CREATE INDEX credit_entries_account_created_idx ON credit_entries (account_id, created_at DESC, seq DESC);
    CREATE INDEX credit_entries_order_idx ON credit_entries (order_id) WHERE order_id IS NOT NULL;

    CREATE FUNCTION credit_entries_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'credit entries cannot be changed or removed' USING ERRCODE = 'insufficient_privilege';
    END $$;
    CREATE TRIGGER credit_entries_no_update BEFORE UPDATE OR DELETE ON credit_entries
      FOR EACH ROW EXECUTE FUNCTION credit_entries_immutable();
    CREATE TRIGGER credit_entries_no_truncate BEFORE TRUNCATE ON credit_entries
      FOR EACH STATEMENT EXECUTE FUNCTION credit_entries_immutable();
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE credit_entries;
    DROP FUNCTION credit_entries_immutable();
    DROP TABLE credit_accounts;
  `.execute(db);
}
