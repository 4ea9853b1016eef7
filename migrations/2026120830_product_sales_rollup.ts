import { sql, type Kysely } from 'kysely';

/**
 * `product_sales_rollup`: units and revenue per product per UTC day, kept by triggers in the transactions
 * that pay an order or settle a refund, like `sales_rollup` beside it. The best-sellers report reads a
 * year from here (≤ products × days rows) and only the two partial UTC days at the edges of the shop's
 * range from the order lines: a year of 1,000 orders a day grouped from its 730,000 lines took seconds.
 *   - units, revenue: lines of orders on the instant they became paid (`orders.paid_at`); revenue is the
 *     line total less its share of the order's discount (round(discount × line / subtotal), per line),
 *     before VAT — the same arithmetic the report applies to the edge lines.
 *   - refunded_units: units of processed refunds on the instant they settled (`refunds.settled_at`).
 * An order's lines are written after the order row, so the lines' trigger counts a line whose order is
 * already paid; the orders' trigger counts the lines when the order becomes paid. Deleting an order takes
 * its lines and its settled refunds out before the cascade removes them (a BEFORE trigger: the rows are
 * still there).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE product_sales_rollup (
      day date NOT NULL,
      currency char(3) NOT NULL,
      product_id uuid NOT NULL,
      -- Spreads a hot product's day over 16 rows (by backend), as sales_rollup does: concurrent payments
      -- of the same best seller would otherwise queue on one row lock. Readers sum the shards.
      shard smallint NOT NULL DEFAULT 0,
      title text NOT NULL,
      units bigint NOT NULL DEFAULT 0,
      revenue bigint NOT NULL DEFAULT 0,
      refunded_units bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (currency, day, product_id, shard)
    );

    CREATE FUNCTION product_sales_add(at timestamptz, cur char(3), product uuid, line_title text,
      n_units bigint, n_revenue bigint, n_refunded bigint)
    RETURNS void LANGUAGE sql AS $$
      INSERT INTO product_sales_rollup AS r (day, currency, product_id, shard, title, units, revenue, refunded_units)
      VALUES ((at AT TIME ZONE 'UTC')::date, cur, product, pg_backend_pid() % 16, line_title, n_units, n_revenue, n_refunded)
      ON CONFLICT (currency, day, product_id, shard) DO UPDATE SET
        title = EXCLUDED.title, units = r.units + EXCLUDED.units, revenue = r.revenue + EXCLUDED.revenue,
        refunded_units = r.refunded_units + EXCLUDED.refunded_units
    $$;

    -- An order's lines in or out (sign ±1) with the order's figures as given (OLD or NEW).
    CREATE FUNCTION product_sales_order(order_ref uuid, at timestamptz, cur char(3), discount bigint, subtotal bigint, sign integer)
    RETURNS void LANGUAGE sql AS $$
      SELECT product_sales_add(at, cur, oi.product_id, max(oi.title), sign * sum(oi.quantity)::bigint,
        sign * sum(oi.line_total - CASE WHEN subtotal > 0 THEN round(discount::numeric * oi.line_total / subtotal) ELSE 0 END)::bigint, 0)
      FROM order_items oi WHERE oi.order_id = order_ref AND oi.product_id IS NOT NULL
      GROUP BY oi.product_id
    $$;

    CREATE FUNCTION product_sales_orders() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        IF OLD.paid_at IS NOT NULL THEN
          PERFORM product_sales_order(OLD.id, OLD.paid_at, OLD.currency, OLD.discount, OLD.subtotal, -1);
        END IF;
        -- Its refunds go too, by cascade, in an order of cascades we do not choose: take them out now,
        -- while their lines still exist; the refund triggers skip rows whose order is gone.
        PERFORM product_sales_refund(r.id, r.settled_at, r.currency, -1)
        FROM refunds r WHERE r.order_id = OLD.id AND r.status = 'processed' AND r.settled_at IS NOT NULL;
        RETURN OLD;
      END IF;
      IF OLD.paid_at IS NOT DISTINCT FROM NEW.paid_at AND OLD.currency = NEW.currency
         AND OLD.discount = NEW.discount AND OLD.subtotal = NEW.subtotal THEN
        RETURN NULL;
      END IF;
      IF OLD.paid_at IS NOT NULL THEN
        PERFORM product_sales_order(OLD.id, OLD.paid_at, OLD.currency, OLD.discount, OLD.subtotal, -1);
      END IF;
      IF NEW.paid_at IS NOT NULL THEN
        PERFORM product_sales_order(NEW.id, NEW.paid_at, NEW.currency, NEW.discount, NEW.subtotal, 1);
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER orders_product_sales AFTER UPDATE ON orders
      FOR EACH ROW EXECUTE FUNCTION product_sales_orders();
    CREATE TRIGGER orders_product_sales_delete BEFORE DELETE ON orders
      FOR EACH ROW EXECUTE FUNCTION product_sales_orders();

    -- A line added to, changed on or removed from an order that is already paid. When the order itself is
    -- being deleted its row is gone here and its BEFORE DELETE trigger has already taken the lines out.
    CREATE FUNCTION product_sales_order_items() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE o record;
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.product_id IS NOT DISTINCT FROM NEW.product_id AND OLD.quantity = NEW.quantity
         AND OLD.line_total = NEW.line_total THEN
        RETURN NULL;
      END IF;
      SELECT paid_at, currency, discount, subtotal INTO o FROM orders
      WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.order_id ELSE NEW.order_id END;
      IF NOT FOUND OR o.paid_at IS NULL THEN
        RETURN NULL;
      END IF;
      IF TG_OP <> 'INSERT' AND OLD.product_id IS NOT NULL THEN
        PERFORM product_sales_add(o.paid_at, o.currency, OLD.product_id, OLD.title, -OLD.quantity::bigint,
          -(OLD.line_total - CASE WHEN o.subtotal > 0 THEN round(o.discount::numeric * OLD.line_total / o.subtotal) ELSE 0 END)::bigint, 0);
      END IF;
      IF TG_OP <> 'DELETE' AND NEW.product_id IS NOT NULL THEN
        PERFORM product_sales_add(o.paid_at, o.currency, NEW.product_id, NEW.title, NEW.quantity::bigint,
          (NEW.line_total - CASE WHEN o.subtotal > 0 THEN round(o.discount::numeric * NEW.line_total / o.subtotal) ELSE 0 END)::bigint, 0);
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER order_items_product_sales AFTER INSERT OR UPDATE OR DELETE ON order_items
      FOR EACH ROW EXECUTE FUNCTION product_sales_order_items();

    -- A refund's units in or out (sign ±1).
    CREATE FUNCTION product_sales_refund(refund_ref uuid, at timestamptz, cur char(3), sign integer)
    RETURNS void LANGUAGE sql AS $$
      SELECT product_sales_add(at, cur, oi.product_id, max(oi.title), 0, 0, sign * sum(ri.quantity)::bigint)
      FROM refund_items ri JOIN order_items oi ON oi.id = ri.order_item_id
      WHERE ri.refund_id = refund_ref AND oi.product_id IS NOT NULL
      GROUP BY oi.product_id
    $$;

    CREATE FUNCTION product_sales_refunds() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        IF OLD.status = 'processed' AND OLD.settled_at IS NOT NULL
           AND EXISTS (SELECT 1 FROM orders WHERE id = OLD.order_id) THEN
          PERFORM product_sales_refund(OLD.id, OLD.settled_at, OLD.currency, -1);
        END IF;
        RETURN OLD;
      END IF;
      IF OLD.status = NEW.status AND OLD.settled_at IS NOT DISTINCT FROM NEW.settled_at AND OLD.currency = NEW.currency THEN
        RETURN NULL;
      END IF;
      IF OLD.status = 'processed' AND OLD.settled_at IS NOT NULL THEN
        PERFORM product_sales_refund(OLD.id, OLD.settled_at, OLD.currency, -1);
      END IF;
      IF NEW.status = 'processed' AND NEW.settled_at IS NOT NULL THEN
        PERFORM product_sales_refund(NEW.id, NEW.settled_at, NEW.currency, 1);
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER refunds_product_sales AFTER UPDATE ON refunds
      FOR EACH ROW EXECUTE FUNCTION product_sales_refunds();
    CREATE TRIGGER refunds_product_sales_delete BEFORE DELETE ON refunds
      FOR EACH ROW EXECUTE FUNCTION product_sales_refunds();

    -- Refund lines written after their refund (or a refund created already settled).
    CREATE FUNCTION product_sales_refund_items() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE r record; item record;
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.quantity = NEW.quantity AND OLD.order_item_id = NEW.order_item_id THEN
        RETURN NULL;
      END IF;
      SELECT status, settled_at, currency INTO r FROM refunds
      WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.refund_id ELSE NEW.refund_id END;
      IF NOT FOUND OR r.status <> 'processed' OR r.settled_at IS NULL
         OR NOT EXISTS (SELECT 1 FROM orders WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.order_id ELSE NEW.order_id END) THEN
        RETURN NULL;
      END IF;
      IF TG_OP <> 'INSERT' THEN
        SELECT product_id, title INTO item FROM order_items WHERE id = OLD.order_item_id;
        IF FOUND AND item.product_id IS NOT NULL THEN
          PERFORM product_sales_add(r.settled_at, r.currency, item.product_id, item.title, 0, 0, -OLD.quantity::bigint);
        END IF;
      END IF;
      IF TG_OP <> 'DELETE' THEN
        SELECT product_id, title INTO item FROM order_items WHERE id = NEW.order_item_id;
        IF FOUND AND item.product_id IS NOT NULL THEN
          PERFORM product_sales_add(r.settled_at, r.currency, item.product_id, item.title, 0, 0, NEW.quantity::bigint);
        END IF;
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER refund_items_product_sales AFTER INSERT OR UPDATE OR DELETE ON refund_items
      FOR EACH ROW EXECUTE FUNCTION product_sales_refund_items();

    -- The report reads the refunds settled in the partial days at a range's edges.
    CREATE INDEX refunds_settled_idx ON refunds (settled_at) WHERE status = 'processed';

    -- The rollup from scratch, from the lines (what was there before this migration; the benchmark's bulk load).
    CREATE FUNCTION product_sales_rollup_rebuild() RETURNS void LANGUAGE sql AS $$
      DELETE FROM product_sales_rollup;
    INSERT INTO product_sales_rollup (day, currency, product_id, title, units, revenue, refunded_units)
    SELECT day, currency, product_id, max(title), sum(units), sum(revenue), sum(refunded)
    FROM (
      SELECT (o.paid_at AT TIME ZONE 'UTC')::date AS day, o.currency, oi.product_id, oi.title,
             oi.quantity::bigint AS units,
             (oi.line_total - CASE WHEN o.subtotal > 0 THEN round(o.discount::numeric * oi.line_total / o.subtotal) ELSE 0 END)::bigint AS revenue,
             0::bigint AS refunded
      FROM orders o JOIN order_items oi ON oi.order_id = o.id
      WHERE o.paid_at IS NOT NULL AND oi.product_id IS NOT NULL
      UNION ALL
      SELECT (r.settled_at AT TIME ZONE 'UTC')::date, r.currency, oi.product_id, oi.title, 0, 0, ri.quantity
      FROM refunds r JOIN refund_items ri ON ri.refund_id = r.id JOIN order_items oi ON oi.id = ri.order_item_id
      WHERE r.status = 'processed' AND r.settled_at IS NOT NULL AND oi.product_id IS NOT NULL
    ) s
    GROUP BY day, currency, product_id;
    $$;

    SELECT product_sales_rollup_rebuild();
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP FUNCTION product_sales_rollup_rebuild();
    DROP INDEX refunds_settled_idx;
    DROP TRIGGER refund_items_product_sales ON refund_items;
    DROP FUNCTION product_sales_refund_items();
    DROP TRIGGER refunds_product_sales_delete ON refunds;
    DROP TRIGGER refunds_product_sales ON refunds;
    DROP FUNCTION product_sales_refunds();
    DROP FUNCTION product_sales_refund(uuid, timestamptz, char, integer);
    DROP TRIGGER order_items_product_sales ON order_items;
    DROP FUNCTION product_sales_order_items();
    DROP TRIGGER orders_product_sales_delete ON orders;
    DROP TRIGGER orders_product_sales ON orders;
    DROP FUNCTION product_sales_orders();
    DROP FUNCTION product_sales_order(uuid, timestamptz, char, bigint, bigint, integer);
    DROP FUNCTION product_sales_add(timestamptz, char, uuid, text, bigint, bigint, bigint);
    DROP TABLE product_sales_rollup;
  `.execute(db);
}
