import { sql, type Kysely } from 'kysely';

/**
 * Returns and exchanges (CONTRACT part two, "Returns and exchanges").
 *
 * - `returns`: one request of a customer for some units of one order, with its state machine
 *   (requested → approved | rejected; approved → received → completed; requested | approved → cancelled |
 *   expired) and its resolution (refund, store_credit, exchange). Transitions are decided under the row lock
 *   of the order, then of the return (shared/returns).
 * - `return_items`: the units per order line, the customer's reason, the variant an exchange swaps to, and
 *   what receiving found (resellable or damaged; their sum never exceeds the units asked back).
 * - `return_attachments`: the customer's photos (private files, the media rules), bound to one return.
 * - `refunds.return_id` / `return_attempt`: a refund made for a return is keyed by it: one refund per return
 *   and attempt (a failed one is retried as the next attempt), so a resolution can never pay twice.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE returns (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      order_id uuid NOT NULL REFERENCES orders (id),
      user_id uuid NOT NULL REFERENCES users (id),
      status text NOT NULL DEFAULT 'requested'
        CHECK (status IN ('requested', 'approved', 'rejected', 'received', 'completed', 'cancelled', 'expired')),
      resolution text NOT NULL CHECK (resolution IN ('refund', 'store_credit', 'exchange')),
      refund_shipping boolean NOT NULL DEFAULT false,
      currency char(3) NOT NULL,
      refund_estimate bigint NOT NULL CHECK (refund_estimate >= 0),
      shipping_refund bigint NOT NULL DEFAULT 0 CHECK (shipping_refund >= 0),
      refund_status text CHECK (refund_status IN ('pending', 'processing', 'processed', 'failed')),
      refund_id uuid,
      refund_attempts integer NOT NULL DEFAULT 0 CHECK (refund_attempts >= 0),
      refund_failure_reason text,
      credit_entry_id uuid REFERENCES credit_entries (id),
      exchange_order_id uuid UNIQUE REFERENCES orders (id),
      exchange_held boolean NOT NULL DEFAULT false,
      note text,
      expires_at timestamptz,
      approved_by uuid REFERENCES users (id),
      approved_at timestamptz,
      rejected_at timestamptz,
      received_by uuid REFERENCES users (id),
      received_at timestamptz,
      completed_at timestamptz,
      cancelled_at timestamptz,
      expired_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT returns_exchange_held CHECK (NOT exchange_held OR resolution = 'exchange')
    );
    CREATE INDEX returns_order_idx ON returns (order_id, created_at);
    CREATE INDEX returns_status_idx ON returns (status, created_at DESC, id DESC);
    CREATE INDEX returns_expiry_idx ON returns (expires_at) WHERE status = 'approved';

    CREATE TABLE return_items (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      return_id uuid NOT NULL REFERENCES returns (id),
      order_item_id uuid NOT NULL REFERENCES order_items (id),
      quantity integer NOT NULL CHECK (quantity > 0),
      -- Which units of the line these are (0-based): the per-unit refund split gives each unit of a line its own
      -- share, and live returns never hold the same unit, so all returns together refund at most the line.
      units integer[] NOT NULL,
      reason text NOT NULL
        CHECK (reason IN ('wrong_size', 'damaged', 'defective', 'not_as_described', 'wrong_item', 'changed_mind', 'other')),
      note text,
      exchange_variant_id uuid REFERENCES product_variants (id),
      unit_refunds bigint[] NOT NULL,
      resellable_quantity integer NOT NULL DEFAULT 0 CHECK (resellable_quantity >= 0),
      damaged_quantity integer NOT NULL DEFAULT 0 CHECK (damaged_quantity >= 0),
      UNIQUE (return_id, order_item_id),
      CHECK (resellable_quantity + damaged_quantity <= quantity),
      CHECK (cardinality(unit_refunds) = quantity),
      CHECK (cardinality(units) = quantity)
    );
    CREATE INDEX return_items_order_item_idx ON return_items (order_item_id);

    CREATE TABLE return_attachments (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      uploader_id uuid NOT NULL REFERENCES users (id),
      return_id uuid REFERENCES returns (id),
      key text NOT NULL UNIQUE,
      mime text NOT NULL,
      size integer NOT NULL CHECK (size > 0),
      filename text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX return_attachments_return_idx ON return_attachments (return_id);
    CREATE INDEX return_attachments_unattached_idx ON return_attachments (created_at) WHERE return_id IS NULL;

    ALTER TABLE refunds
      ADD COLUMN return_id uuid REFERENCES returns (id),
      ADD COLUMN return_attempt integer,
      ADD CONSTRAINT refunds_return_key UNIQUE (return_id, return_attempt),
      ADD CONSTRAINT refunds_return_attempt CHECK ((return_id IS NULL) = (return_attempt IS NULL));
    ALTER TABLE returns ADD CONSTRAINT returns_refund_fk FOREIGN KEY (refund_id) REFERENCES refunds (id);
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE returns DROP CONSTRAINT returns_refund_fk;
    ALTER TABLE refunds DROP CONSTRAINT refunds_return_attempt, DROP CONSTRAINT refunds_return_key,
      DROP COLUMN return_attempt, DROP COLUMN return_id;
    DROP TABLE return_attachments;
    DROP TABLE return_items;
    DROP TABLE returns;
  `.execute(db);
}
