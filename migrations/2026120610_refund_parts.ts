import { sql, type Kysely } from 'kysely';

/**
 * Refunds per payment, bound to the provider refund, restocking named units once.
 *
 * - `refund_parts`: a refund request (`refunds`) is paid back through one provider refund per payment
 *   it draws on (an order paid twice is refunded from each payment, each within its own amount). The
 *   part, not the request, is what Paystack knows: its provider refund id is UNIQUE, so a provider
 *   refund settles exactly one row and two jobs can never adopt the same one.
 * - `refund_items`: the order lines (and quantities) a refund names; with `restock` only these go back.
 * - `order_items.restocked_quantity`: units of a line put back on the shelf, by any refund or a staff
 *   cancellation; the CHECK makes "each unit at most once" hold even if the code is wrong.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE refund_parts (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      refund_id uuid NOT NULL REFERENCES refunds (id) ON DELETE CASCADE,
      payment_id uuid NOT NULL REFERENCES payments (id),
      amount bigint NOT NULL CHECK (amount > 0),
      currency char(3) NOT NULL,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'processed', 'failed')),
      provider_refund_id bigint UNIQUE,
      provider_status text,
      failure_reason text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      settled_at timestamptz,
      UNIQUE (refund_id, payment_id)
    );
    CREATE INDEX refund_parts_payment_idx ON refund_parts (payment_id);
    CREATE INDEX refund_parts_unsettled_idx ON refund_parts (refund_id) WHERE status IN ('pending', 'processing');
    CREATE TRIGGER refund_parts_updated_at BEFORE UPDATE ON refund_parts FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    -- Every existing refund was one provider refund of one payment. Two rows that adopted the same provider
    -- refund (the defect this fixes) keep it on the oldest; the other re-binds by its merchant note.
    INSERT INTO refund_parts (refund_id, payment_id, amount, currency, status, provider_refund_id, provider_status,
                              failure_reason, created_at, settled_at)
    SELECT id, payment_id, amount, currency, status,
           CASE WHEN row_number() OVER (PARTITION BY provider_refund_id ORDER BY created_at, id) = 1
                THEN provider_refund_id END,
           provider_status, failure_reason, created_at, settled_at
    FROM refunds;

    ALTER TABLE refunds DROP COLUMN payment_id, DROP COLUMN provider_refund_id, DROP COLUMN provider_status;
    CREATE INDEX refunds_unsettled_idx ON refunds (created_at) WHERE status IN ('pending', 'processing');

    ALTER TABLE order_items
      ADD COLUMN restocked_quantity integer NOT NULL DEFAULT 0,
      ADD CONSTRAINT order_items_restocked_range CHECK (restocked_quantity >= 0 AND restocked_quantity <= quantity),
      ADD CONSTRAINT order_items_order_id_id_key UNIQUE (order_id, id);
    -- Orders restocked before were restocked whole (one restock per order).
    UPDATE order_items oi SET restocked_quantity = oi.quantity
    WHERE EXISTS (SELECT 1 FROM inventory_movements m WHERE m.order_id = oi.order_id AND m.reason = 'restock');

    CREATE TABLE refund_items (
      refund_id uuid NOT NULL REFERENCES refunds (id) ON DELETE CASCADE,
      order_id uuid NOT NULL,
      order_item_id uuid NOT NULL,
      quantity integer NOT NULL CHECK (quantity > 0),
      PRIMARY KEY (refund_id, order_item_id),
      -- A refund can only name lines of its own order.
      FOREIGN KEY (order_id, order_item_id) REFERENCES order_items (order_id, id) ON DELETE CASCADE
    );
    CREATE INDEX refund_items_order_item_idx ON refund_items (order_item_id);
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE refund_items;
    ALTER TABLE order_items DROP CONSTRAINT order_items_order_id_id_key, DROP CONSTRAINT order_items_restocked_range,
      DROP COLUMN restocked_quantity;
    DROP INDEX refunds_unsettled_idx;
    ALTER TABLE refunds ADD COLUMN payment_id uuid REFERENCES payments (id), ADD COLUMN provider_refund_id bigint,
      ADD COLUMN provider_status text;
    UPDATE refunds r SET payment_id = p.payment_id, provider_refund_id = p.provider_refund_id, provider_status = p.provider_status
    FROM (SELECT DISTINCT ON (refund_id) * FROM refund_parts ORDER BY refund_id, created_at) p
    WHERE p.refund_id = r.id;
    DROP TABLE refund_parts;
  `.execute(db);
}
