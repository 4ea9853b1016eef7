import { sql, type Kysely } from 'kysely';

/**
 * Customers (CONTRACT part two, "Customers, carts left behind, personal data").
 *
 * - `customer_profiles`: one row per user, what the staff's customer list sorts and filters by, kept by
 *   triggers in the transactions that place, pay and refund, so a list of 100,000 customers sorted by what
 *   they spent reads one index instead of summing 1,000,000 orders:
 *     - orders_count: the customer's orders that became paid (`orders.paid_at`), as the sales report counts;
 *     - paid: successful payments of their orders (coalesce(paid_amount, amount)) — the same rows and the
 *       same rule as `sales_rollup.gross`; refunded: processed refund parts of successful payments, as
 *       `sales_rollup.refunded`; total_spent = paid − refunded (cash basis, to the kobo);
 *     - last_order_at: the newest order placed (any state); active_at: that or the sign-up, whichever is
 *       later (the "recent" sort);
 *     - tags: staff labels (lowercase, at most 20).
 *   Figures move by deltas (as `sales_rollup` does), so two payments of one customer committing at once
 *   both count whatever their snapshots. What cannot be a delta (an order moving to another user, an order
 *   deleted) recomputes that customer from the rows: `customer_profile_refresh(uuid)`;
 *   `customer_profiles_rebuild()` recomputes everyone (the backfill below, bulk loads).
 * - `customer_notes`: staff notes about a customer (never shown to the customer).
 * - `cart_reminders`: one row per reminder mail, unique per (cart, contents): the same contents are never
 *   reminded twice; recovery is read from the customer's orders (placed within 7 days of `sent_at`).
 * - `data_exports`: a customer's export requests (one per day), the private file's key and its expiry.
 * - Indexes the customer search needs (phone by trigram, orders by number are already unique) and the guest
 *   cart clean-up (`carts` without a user by `updated_at`).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE customer_profiles (
      user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
      orders_count integer NOT NULL DEFAULT 0,
      paid bigint NOT NULL DEFAULT 0,
      refunded bigint NOT NULL DEFAULT 0,
      total_spent bigint GENERATED ALWAYS AS (paid - refunded) STORED,
      last_order_at timestamptz,
      active_at timestamptz NOT NULL,
      tags text[] NOT NULL DEFAULT '{}',
      CONSTRAINT customer_profiles_tags_limit CHECK (cardinality(tags) <= 20)
    );
    CREATE INDEX customer_profiles_spent_idx ON customer_profiles (total_spent DESC, user_id DESC);
    CREATE INDEX customer_profiles_orders_idx ON customer_profiles (orders_count DESC, user_id DESC);
    CREATE INDEX customer_profiles_active_idx ON customer_profiles (active_at DESC, user_id DESC);
    CREATE INDEX customer_profiles_tags_idx ON customer_profiles USING gin (tags);
    CREATE INDEX users_phone_search_idx ON users USING gin (phone gin_trgm_ops) WHERE phone IS NOT NULL;

    CREATE FUNCTION customer_profile_add(uid uuid, n_orders integer, n_paid bigint, n_refunded bigint, placed timestamptz)
    RETURNS void LANGUAGE sql AS $$
      UPDATE customer_profiles SET
        orders_count = orders_count + n_orders,
        paid = paid + n_paid,
        refunded = refunded + n_refunded,
        last_order_at = CASE WHEN placed IS NULL THEN last_order_at ELSE greatest(last_order_at, placed) END,
        active_at = CASE WHEN placed IS NULL THEN active_at ELSE greatest(active_at, placed) END
      WHERE user_id = uid
    $$;

    -- One customer recomputed from the rows (orders moved between users, deleted orders, checks).
    CREATE FUNCTION customer_profile_refresh(uid uuid) RETURNS void LANGUAGE sql AS $$
      UPDATE customer_profiles cp SET
        orders_count = (SELECT count(*) FROM orders o WHERE o.user_id = uid AND o.paid_at IS NOT NULL),
        paid = (SELECT coalesce(sum(coalesce(p.paid_amount, p.amount)), 0) FROM payments p JOIN orders o ON o.id = p.order_id
                WHERE o.user_id = uid AND p.status = 'success' AND p.paid_at IS NOT NULL),
        refunded = (SELECT coalesce(sum(rp.amount), 0) FROM refund_parts rp
                    JOIN payments p ON p.id = rp.payment_id AND p.status = 'success'
                    JOIN orders o ON o.id = p.order_id
                    WHERE o.user_id = uid AND rp.status = 'processed' AND rp.settled_at IS NOT NULL),
        last_order_at = (SELECT max(o.created_at) FROM orders o WHERE o.user_id = uid),
        active_at = greatest(u.created_at, (SELECT max(o.created_at) FROM orders o WHERE o.user_id = uid))
      FROM users u WHERE u.id = uid AND cp.user_id = uid
    $$;

    -- Everyone, set-based (the backfill; bulk loads that ran with triggers off).
    CREATE FUNCTION customer_profiles_rebuild() RETURNS void LANGUAGE sql AS $$
      INSERT INTO customer_profiles (user_id, active_at) SELECT id, created_at FROM users
      ON CONFLICT (user_id) DO NOTHING;
      WITH o AS (
        SELECT user_id, count(*) FILTER (WHERE paid_at IS NOT NULL) AS orders_count, max(created_at) AS last_order_at
        FROM orders WHERE user_id IS NOT NULL GROUP BY user_id
      ), p AS (
        SELECT o.user_id, sum(coalesce(p.paid_amount, p.amount)) AS paid
        FROM payments p JOIN orders o ON o.id = p.order_id
        WHERE o.user_id IS NOT NULL AND p.status = 'success' AND p.paid_at IS NOT NULL GROUP BY o.user_id
      ), r AS (
        SELECT o.user_id, sum(rp.amount) AS refunded
        FROM refund_parts rp JOIN payments p ON p.id = rp.payment_id AND p.status = 'success'
        JOIN orders o ON o.id = p.order_id
        WHERE o.user_id IS NOT NULL AND rp.status = 'processed' AND rp.settled_at IS NOT NULL GROUP BY o.user_id
      )
      UPDATE customer_profiles cp SET
        orders_count = coalesce(o.orders_count, 0), paid = coalesce(p.paid, 0), refunded = coalesce(r.refunded, 0),
        last_order_at = o.last_order_at, active_at = greatest(u.created_at, o.last_order_at)
      FROM users u LEFT JOIN o ON o.user_id = u.id LEFT JOIN p ON p.user_id = u.id LEFT JOIN r ON r.user_id = u.id
      WHERE cp.user_id = u.id;
    $$;

    CREATE FUNCTION customer_profiles_users() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO customer_profiles (user_id, active_at) VALUES (NEW.id, NEW.created_at) ON CONFLICT (user_id) DO NOTHING;
      RETURN NULL;
    END $$;
    CREATE TRIGGER users_customer_profile AFTER INSERT ON users
      FOR EACH ROW EXECUTE FUNCTION customer_profiles_users();

    CREATE FUNCTION customer_profiles_orders() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        IF NEW.user_id IS NOT NULL THEN
          PERFORM customer_profile_add(NEW.user_id, CASE WHEN NEW.paid_at IS NOT NULL THEN 1 ELSE 0 END, 0, 0, NEW.created_at);
        END IF;
        RETURN NULL;
      END IF;
      IF TG_OP = 'DELETE' THEN
        IF OLD.user_id IS NOT NULL THEN
          PERFORM customer_profile_refresh(OLD.user_id);
        END IF;
        RETURN NULL;
      END IF;
      IF OLD.user_id IS DISTINCT FROM NEW.user_id THEN
        IF OLD.user_id IS NOT NULL THEN PERFORM customer_profile_refresh(OLD.user_id); END IF;
        IF NEW.user_id IS NOT NULL THEN PERFORM customer_profile_refresh(NEW.user_id); END IF;
        RETURN NULL;
      END IF;
      IF NEW.user_id IS NOT NULL AND (OLD.paid_at IS NULL) <> (NEW.paid_at IS NULL) THEN
        PERFORM customer_profile_add(NEW.user_id, CASE WHEN NEW.paid_at IS NOT NULL THEN 1 ELSE -1 END, 0, 0, NULL);
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER orders_customer_profile AFTER INSERT OR UPDATE OR DELETE ON orders
      FOR EACH ROW EXECUTE FUNCTION customer_profiles_orders();

    -- The same rows and rule as sales_rollup_payments (gross): a successful payment with its paid_at.
    CREATE FUNCTION customer_profiles_payments() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE uid uuid;
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.status = NEW.status AND OLD.paid_at IS NOT DISTINCT FROM NEW.paid_at
         AND OLD.paid_amount IS NOT DISTINCT FROM NEW.paid_amount AND OLD.amount = NEW.amount AND OLD.order_id = NEW.order_id THEN
        RETURN NULL;
      END IF;
      IF TG_OP <> 'INSERT' AND OLD.status = 'success' AND OLD.paid_at IS NOT NULL THEN
        SELECT user_id INTO uid FROM orders WHERE id = OLD.order_id;
        IF uid IS NOT NULL THEN
          PERFORM customer_profile_add(uid, 0, -coalesce(OLD.paid_amount, OLD.amount), 0, NULL);
        END IF;
      END IF;
      IF TG_OP <> 'DELETE' AND NEW.status = 'success' AND NEW.paid_at IS NOT NULL THEN
        SELECT user_id INTO uid FROM orders WHERE id = NEW.order_id;
        IF uid IS NOT NULL THEN
          PERFORM customer_profile_add(uid, 0, coalesce(NEW.paid_amount, NEW.amount), 0, NULL);
        END IF;
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER payments_customer_profile AFTER INSERT OR UPDATE OR DELETE ON payments
      FOR EACH ROW EXECUTE FUNCTION customer_profiles_payments();

    -- The same rows and rule as sales_rollup_refund_parts (refunded).
    CREATE FUNCTION customer_profiles_refund_parts() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE uid uuid;
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.status = NEW.status AND OLD.settled_at IS NOT DISTINCT FROM NEW.settled_at
         AND OLD.amount = NEW.amount THEN
        RETURN NULL;
      END IF;
      IF TG_OP <> 'INSERT' AND OLD.status = 'processed' AND OLD.settled_at IS NOT NULL THEN
        SELECT o.user_id INTO uid FROM payments p JOIN orders o ON o.id = p.order_id
        WHERE p.id = OLD.payment_id AND p.status = 'success';
        IF uid IS NOT NULL THEN
          PERFORM customer_profile_add(uid, 0, 0, -OLD.amount, NULL);
        END IF;
      END IF;
      IF TG_OP <> 'DELETE' AND NEW.status = 'processed' AND NEW.settled_at IS NOT NULL THEN
        SELECT o.user_id INTO uid FROM payments p JOIN orders o ON o.id = p.order_id
        WHERE p.id = NEW.payment_id AND p.status = 'success';
        IF uid IS NOT NULL THEN
          PERFORM customer_profile_add(uid, 0, 0, NEW.amount, NULL);
        END IF;
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER refund_parts_customer_profile AFTER INSERT OR UPDATE OR DELETE ON refund_parts
      FOR EACH ROW EXECUTE FUNCTION customer_profiles_refund_parts();

    SELECT customer_profiles_rebuild();

    CREATE TABLE customer_notes (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      customer_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      author_id uuid REFERENCES users (id) ON DELETE SET NULL,
      body text NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX customer_notes_customer_idx ON customer_notes (customer_id, created_at DESC, id DESC);

    CREATE TABLE cart_reminders (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      cart_id uuid NOT NULL,
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      contents_hash text NOT NULL,
      -- What the cart held when reminded (kobo, the lines' snapshot prices): the report's "value left".
      cart_value bigint NOT NULL DEFAULT 0,
      currency char(3) NOT NULL DEFAULT 'NGN',
      sent_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (cart_id, contents_hash)
    );
    CREATE INDEX cart_reminders_sent_idx ON cart_reminders (sent_at);
    CREATE INDEX cart_reminders_user_idx ON cart_reminders (user_id, sent_at DESC);

    CREATE INDEX carts_guest_updated_idx ON carts (updated_at) WHERE user_id IS NULL;
    CREATE INDEX carts_user_updated_idx ON carts (updated_at) WHERE user_id IS NOT NULL;

    CREATE TABLE data_exports (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      requested_at timestamptz NOT NULL DEFAULT now(),
      ready_at timestamptz,
      expires_at timestamptz,
      deleted_at timestamptz,
      storage_key text,
      bytes integer
    );
    CREATE INDEX data_exports_user_idx ON data_exports (user_id, requested_at DESC);
    CREATE INDEX data_exports_expiry_idx ON data_exports (expires_at) WHERE deleted_at IS NULL AND storage_key IS NOT NULL;
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE data_exports;
    DROP INDEX carts_user_updated_idx;
    DROP INDEX carts_guest_updated_idx;
    DROP TABLE cart_reminders;
    DROP TABLE customer_notes;
    DROP TRIGGER refund_parts_customer_profile ON refund_parts;
    DROP TRIGGER payments_customer_profile ON payments;
    DROP TRIGGER orders_customer_profile ON orders;
    DROP TRIGGER users_customer_profile ON users;
    DROP FUNCTION customer_profiles_refund_parts();
    DROP FUNCTION customer_profiles_payments();
    DROP FUNCTION customer_profiles_orders();
    DROP FUNCTION customer_profiles_users();
    DROP FUNCTION customer_profiles_rebuild();
    DROP FUNCTION customer_profile_refresh(uuid);
    DROP FUNCTION customer_profile_add(uuid, integer, bigint, bigint, timestamptz);
    DROP INDEX users_phone_search_idx;
    DROP TABLE customer_profiles;
  `.execute(db);
}
