import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- One row per payment attempt; the reference is deterministic per attempt (order number + attempt).
    CREATE TABLE payments (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
      reference text NOT NULL UNIQUE,
      attempt integer NOT NULL DEFAULT 1,
      provider text NOT NULL DEFAULT 'paystack',
      status text NOT NULL DEFAULT 'initializing' CHECK (status IN
        ('initializing', 'initialized', 'init_failed', 'success', 'failed', 'abandoned', 'mismatch')),
      amount bigint NOT NULL CHECK (amount >= 0),
      currency char(3) NOT NULL,
      authorization_url text,
      access_code text,
      provider_transaction_id bigint,
      paid_amount bigint,
      paid_currency char(3),
      paid_at timestamptz,
      last_error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (order_id, attempt)
    );
    CREATE INDEX payments_order_idx ON payments (order_id);
    CREATE TRIGGER payments_updated_at BEFORE UPDATE ON payments FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    -- Inbox: provider events deduplicated by their identity before anything else happens.
    CREATE TABLE webhook_events (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      provider text NOT NULL DEFAULT 'paystack',
      event_key text NOT NULL,
      event text NOT NULL,
      payload jsonb NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now(),
      processed_at timestamptz,
      result text,
      UNIQUE (provider, event_key)
    );

    CREATE TABLE refunds (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
      payment_id uuid NOT NULL REFERENCES payments (id),
      amount bigint NOT NULL CHECK (amount > 0),
      currency char(3) NOT NULL,
      reason text NOT NULL,
      restock boolean NOT NULL DEFAULT false,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'processed', 'failed')),
      provider_refund_id bigint,
      provider_status text,
      failure_reason text,
      created_by uuid,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      settled_at timestamptz
    );
    CREATE INDEX refunds_order_idx ON refunds (order_id);
    CREATE TRIGGER refunds_updated_at BEFORE UPDATE ON refunds FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    CREATE TABLE payment_discrepancies (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      kind text NOT NULL CHECK (kind IN
        ('amount_mismatch', 'currency_mismatch', 'unknown_reference', 'paid_but_cancelled', 'ours_paid_theirs_not')),
      order_id uuid REFERENCES orders (id) ON DELETE SET NULL,
      reference text,
      expected jsonb,
      actual jsonb,
      run_id uuid,
      created_at timestamptz NOT NULL DEFAULT now(),
      resolved_at timestamptz
    );
    CREATE UNIQUE INDEX payment_discrepancies_once_idx ON payment_discrepancies (kind, reference) WHERE resolved_at IS NULL;

    -- Gap-free invoice numbers: one counter row per year, incremented under its row lock.
    CREATE TABLE invoice_counters (
      year integer PRIMARY KEY,
      last_value integer NOT NULL DEFAULT 0
    );
    CREATE TABLE invoices (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      order_id uuid NOT NULL UNIQUE REFERENCES orders (id) ON DELETE CASCADE,
      number text NOT NULL UNIQUE,
      year integer NOT NULL,
      sequence integer NOT NULL,
      storage_key text,
      url text,
      rendered_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (year, sequence)
    );

    CREATE TABLE reconciliation_runs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      trigger text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
      status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
      window_from timestamptz NOT NULL,
      window_to timestamptz NOT NULL,
      counts jsonb NOT NULL DEFAULT '{}',
      discrepancies jsonb NOT NULL DEFAULT '[]',
      error text,
      requested_by uuid,
      started_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz
    );
    CREATE INDEX reconciliation_runs_started_idx ON reconciliation_runs (started_at DESC);
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE reconciliation_runs, invoices, invoice_counters, payment_discrepancies, refunds, webhook_events, payments;
  `.execute(db);
}
