import { sql, type Kysely } from 'kysely';

/**
 * Reports and the audit log.
 *
 * - `sales_rollup`: the payment ledger summed per 15-minute UTC slot, kept by triggers in the same
 *   transactions that pay, refund or delete, so it can never disagree with the rows it sums. A report over
 *   a year reads ~35,000 slots instead of every payment (a year of 1,000 orders a day grouped from the raw
 *   rows takes over half a second). Slots are UTC and 15 minutes wide because every time zone's day
 *   (Lagos's +1, India's +5:30, Nepal's +5:45) starts on a 15-minute boundary; SHOP_TIMEZONE can
 *   change without rebuilding anything.
 *     - orders, subtotal, discount, shipping, tax: orders on the instant they became paid (`paid_at`).
 *     - gross: successful payments on their `paid_at` (cash basis). For an order paid once this is its
 *       total; an order paid twice keeps the second payment on the books until it is refunded.
 *     - refunded: processed refund parts of successful payments, on their `settled_at`.
 * - `replica_lag_seconds()`: how far this server's data is behind its primary (0 on a primary); the API
 *   asks it on the replica before reading a report there.
 * - `audit_log`: gains the client address; rows can be inserted and read, never changed or removed.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE sales_rollup (
      slot timestamptz NOT NULL,
      currency char(3) NOT NULL,
      orders integer NOT NULL DEFAULT 0,
      subtotal bigint NOT NULL DEFAULT 0,
      discount bigint NOT NULL DEFAULT 0,
      shipping bigint NOT NULL DEFAULT 0,
      tax bigint NOT NULL DEFAULT 0,
      gross bigint NOT NULL DEFAULT 0,
      refunded bigint NOT NULL DEFAULT 0,
      refunds integer NOT NULL DEFAULT 0,
      -- Spreads one slot over 16 rows (by backend): payments and refunds of the same 15 minutes would
      -- otherwise queue on one row lock until each transaction commits. Readers sum the shards.
      shard smallint NOT NULL DEFAULT 0,
      PRIMARY KEY (currency, slot, shard)
    );

    CREATE FUNCTION sales_slot(at timestamptz) RETURNS timestamptz
      LANGUAGE sql IMMUTABLE PARALLEL SAFE
      AS $$ SELECT date_bin('15 minutes', at, timestamptz '2000-01-01 00:00:00+00') $$;

    CREATE FUNCTION sales_rollup_add(at timestamptz, cur char(3), n_orders integer, n_subtotal bigint,
      n_discount bigint, n_shipping bigint, n_tax bigint, n_gross bigint, n_refunded bigint, n_refunds integer)
    RETURNS void LANGUAGE sql AS $$
      INSERT INTO sales_rollup AS r (slot, currency, shard, orders, subtotal, discount, shipping, tax, gross, refunded, refunds)
      VALUES (sales_slot(at), cur, pg_backend_pid() % 16, n_orders, n_subtotal, n_discount, n_shipping, n_tax, n_gross, n_refunded, n_refunds)
      ON CONFLICT (currency, slot, shard) DO UPDATE SET
        orders = r.orders + EXCLUDED.orders, subtotal = r.subtotal + EXCLUDED.subtotal,
        discount = r.discount + EXCLUDED.discount, shipping = r.shipping + EXCLUDED.shipping,
        tax = r.tax + EXCLUDED.tax, gross = r.gross + EXCLUDED.gross,
        refunded = r.refunded + EXCLUDED.refunded, refunds = r.refunds + EXCLUDED.refunds
    $$;

    -- Each trigger takes the old row out (if it counted) and puts the new one in (if it counts): a paid_at
    -- corrected from "now" to Paystack's time moves the order between slots, a deleted order leaves.
    CREATE FUNCTION sales_rollup_orders() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.paid_at IS NOT DISTINCT FROM NEW.paid_at AND OLD.currency = NEW.currency
         AND OLD.subtotal = NEW.subtotal AND OLD.discount = NEW.discount AND OLD.shipping = NEW.shipping
         AND OLD.tax = NEW.tax THEN
        RETURN NULL;
      END IF;
      IF TG_OP <> 'INSERT' AND OLD.paid_at IS NOT NULL THEN
        PERFORM sales_rollup_add(OLD.paid_at, OLD.currency, -1, -OLD.subtotal, -OLD.discount, -OLD.shipping, -OLD.tax, 0, 0, 0);
      END IF;
      IF TG_OP <> 'DELETE' AND NEW.paid_at IS NOT NULL THEN
        PERFORM sales_rollup_add(NEW.paid_at, NEW.currency, 1, NEW.subtotal, NEW.discount, NEW.shipping, NEW.tax, 0, 0, 0);
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER orders_sales_rollup AFTER INSERT OR UPDATE OR DELETE ON orders
      FOR EACH ROW EXECUTE FUNCTION sales_rollup_orders();

    CREATE FUNCTION sales_rollup_payments() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.status = NEW.status AND OLD.paid_at IS NOT DISTINCT FROM NEW.paid_at
         AND OLD.paid_amount IS NOT DISTINCT FROM NEW.paid_amount AND OLD.currency = NEW.currency THEN
        RETURN NULL;
      END IF;
      IF TG_OP <> 'INSERT' AND OLD.status = 'success' AND OLD.paid_at IS NOT NULL THEN
        PERFORM sales_rollup_add(OLD.paid_at, coalesce(OLD.paid_currency, OLD.currency), 0, 0, 0, 0, 0,
          -coalesce(OLD.paid_amount, OLD.amount), 0, 0);
      END IF;
      IF TG_OP <> 'DELETE' AND NEW.status = 'success' AND NEW.paid_at IS NOT NULL THEN
        PERFORM sales_rollup_add(NEW.paid_at, coalesce(NEW.paid_currency, NEW.currency), 0, 0, 0, 0, 0,
          coalesce(NEW.paid_amount, NEW.amount), 0, 0);
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER payments_sales_rollup AFTER INSERT OR UPDATE OR DELETE ON payments
      FOR EACH ROW EXECUTE FUNCTION sales_rollup_payments();

    -- A refund part counts only against a successful payment (the money that came in); a payment's
    -- success is final, so reading it here is enough.
    CREATE FUNCTION sales_rollup_refund_parts() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.status = NEW.status AND OLD.settled_at IS NOT DISTINCT FROM NEW.settled_at
         AND OLD.amount = NEW.amount THEN
        RETURN NULL;
      END IF;
      IF TG_OP <> 'INSERT' AND OLD.status = 'processed' AND OLD.settled_at IS NOT NULL
         AND EXISTS (SELECT 1 FROM payments WHERE id = OLD.payment_id AND status = 'success') THEN
        PERFORM sales_rollup_add(OLD.settled_at, OLD.currency, 0, 0, 0, 0, 0, 0, -OLD.amount, -1);
      END IF;
      IF TG_OP <> 'DELETE' AND NEW.status = 'processed' AND NEW.settled_at IS NOT NULL
         AND EXISTS (SELECT 1 FROM payments WHERE id = NEW.payment_id AND status = 'success') THEN
        PERFORM sales_rollup_add(NEW.settled_at, NEW.currency, 0, 0, 0, 0, 0, 0, NEW.amount, 1);
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER refund_parts_sales_rollup AFTER INSERT OR UPDATE OR DELETE ON refund_parts
      FOR EACH ROW EXECUTE FUNCTION sales_rollup_refund_parts();

    -- What was there before this migration.
    INSERT INTO sales_rollup (slot, currency, orders, subtotal, discount, shipping, tax, gross, refunded, refunds)
    SELECT slot, currency, sum(orders), sum(subtotal), sum(discount), sum(shipping), sum(tax), sum(gross), sum(refunded), sum(refunds)
    FROM (
      SELECT sales_slot(paid_at) AS slot, currency, 1 AS orders, subtotal, discount, shipping, tax,
             0::bigint AS gross, 0::bigint AS refunded, 0 AS refunds
      FROM orders WHERE paid_at IS NOT NULL
      UNION ALL
      SELECT sales_slot(paid_at), coalesce(paid_currency, currency), 0, 0, 0, 0, 0, coalesce(paid_amount, amount), 0, 0
      FROM payments WHERE status = 'success' AND paid_at IS NOT NULL
      UNION ALL
      SELECT sales_slot(rp.settled_at), rp.currency, 0, 0, 0, 0, 0, 0, rp.amount, 1
      FROM refund_parts rp JOIN payments p ON p.id = rp.payment_id AND p.status = 'success'
      WHERE rp.status = 'processed' AND rp.settled_at IS NOT NULL
    ) s
    GROUP BY slot, currency;

    -- Top products and exports read orders by the instant they were paid.
    CREATE INDEX orders_paid_at_idx ON orders (paid_at) WHERE paid_at IS NOT NULL;
    CREATE INDEX refund_parts_settled_idx ON refund_parts (settled_at) WHERE status = 'processed';
    CREATE INDEX inventory_movements_created_idx ON inventory_movements (created_at);

    CREATE FUNCTION replica_lag_seconds() RETURNS double precision LANGUAGE sql STABLE AS $$
      SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN 0
        -- Everything received is replayed: an idle primary sends nothing, which is not lag.
        WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
        ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 'Infinity'::double precision)
      END
    $$;

    ALTER TABLE audit_log ADD COLUMN ip text;
    CREATE INDEX audit_log_created_idx ON audit_log (created_at DESC, id DESC);
    CREATE INDEX audit_log_action_idx ON audit_log (action text_pattern_ops, created_at DESC);

    CREATE FUNCTION audit_log_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'audit_log rows cannot be changed or removed' USING ERRCODE = 'insufficient_privilege';
    END $$;
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
      FOR EACH ROW EXECUTE FUNCTION audit_log_immutable();
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
      FOR EACH STATEMENT EXECUTE FUNCTION audit_log_immutable();
    -- The application's role (whatever it is named in a deployment) gets its rights through PUBLIC or an
    -- explicit grant of SELECT, INSERT only; nobody is granted the rest.
    REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TRIGGER audit_log_no_truncate ON audit_log;
    DROP TRIGGER audit_log_no_update ON audit_log;
    DROP FUNCTION audit_log_immutable();
    DROP INDEX audit_log_action_idx;
    DROP INDEX audit_log_created_idx;
    ALTER TABLE audit_log DROP COLUMN ip;
    DROP FUNCTION replica_lag_seconds();
    DROP INDEX inventory_movements_created_idx;
    DROP INDEX refund_parts_settled_idx;
    DROP INDEX orders_paid_at_idx;
    DROP TRIGGER refund_parts_sales_rollup ON refund_parts;
    DROP TRIGGER payments_sales_rollup ON payments;
    DROP TRIGGER orders_sales_rollup ON orders;
    DROP FUNCTION sales_rollup_refund_parts();
    DROP FUNCTION sales_rollup_payments();
    DROP FUNCTION sales_rollup_orders();
    DROP FUNCTION sales_rollup_add(timestamptz, char(3), integer, bigint, bigint, bigint, bigint, bigint, bigint, integer);
    DROP FUNCTION sales_slot(timestamptz);
    DROP TABLE sales_rollup;
  `.execute(db);
}
