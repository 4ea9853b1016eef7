import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE shipping_methods (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL,
      price bigint NOT NULL CHECK (price >= 0),
      currency char(3) NOT NULL DEFAULT 'NGN',
      free_over bigint CHECK (free_over >= 0),
      eta_days integer NOT NULL DEFAULT 3 CHECK (eta_days >= 0),
      active boolean NOT NULL DEFAULT true,
      position integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TRIGGER shipping_methods_updated_at BEFORE UPDATE ON shipping_methods FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    CREATE TABLE coupons (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      code citext NOT NULL UNIQUE,
      kind text NOT NULL CHECK (kind IN ('percent', 'fixed', 'free_shipping')),
      value bigint NOT NULL DEFAULT 0 CHECK (value >= 0),
      min_subtotal bigint CHECK (min_subtotal >= 0),
      starts_at timestamptz,
      ends_at timestamptz,
      max_redemptions integer CHECK (max_redemptions >= 0),
      redemptions_count integer NOT NULL DEFAULT 0,
      per_customer_limit integer CHECK (per_customer_limit >= 1),
      active boolean NOT NULL DEFAULT true,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT coupons_redemptions_range CHECK (redemptions_count >= 0 AND (max_redemptions IS NULL OR redemptions_count <= max_redemptions)),
      CONSTRAINT coupons_percent_range CHECK (kind <> 'percent' OR value BETWEEN 1 AND 100)
    );
    CREATE TRIGGER coupons_updated_at BEFORE UPDATE ON coupons FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    CREATE TABLE carts (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      token_hash text UNIQUE,
      user_id uuid UNIQUE REFERENCES users (id) ON DELETE CASCADE,
      coupon_id uuid REFERENCES coupons (id) ON DELETE SET NULL,
      currency char(3) NOT NULL DEFAULT 'NGN',
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TRIGGER carts_updated_at BEFORE UPDATE ON carts FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    CREATE TABLE cart_items (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      cart_id uuid NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
      variant_id uuid NOT NULL REFERENCES product_variants (id) ON DELETE CASCADE,
      quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 99),
      unit_price bigint NOT NULL CHECK (unit_price >= 0),
      currency char(3) NOT NULL DEFAULT 'NGN',
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (cart_id, variant_id)
    );

    CREATE SEQUENCE order_number_seq;
    CREATE TABLE orders (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      number text NOT NULL UNIQUE DEFAULT 'AGP-' || lpad(nextval('order_number_seq')::text, 6, '0'),
      user_id uuid REFERENCES users (id) ON DELETE SET NULL,
      cart_id uuid,
      email citext NOT NULL,
      customer_name text,
      status text NOT NULL DEFAULT 'pending_payment' CHECK (status IN
        ('pending_payment', 'paid', 'processing', 'shipped', 'delivered', 'cancelled', 'partially_refunded', 'refunded')),
      currency char(3) NOT NULL,
      subtotal bigint NOT NULL CHECK (subtotal >= 0),
      discount bigint NOT NULL DEFAULT 0 CHECK (discount >= 0),
      shipping bigint NOT NULL DEFAULT 0 CHECK (shipping >= 0),
      tax bigint NOT NULL DEFAULT 0 CHECK (tax >= 0),
      total bigint NOT NULL CHECK (total >= 0),
      coupon_id uuid REFERENCES coupons (id) ON DELETE SET NULL,
      coupon_code text,
      shipping_method_id uuid REFERENCES shipping_methods (id) ON DELETE SET NULL,
      shipping_method_name text,
      shipping_address jsonb NOT NULL,
      reservation_expires_at timestamptz,
      reservation_released_at timestamptz,
      tracking_number text,
      carrier text,
      paid_at timestamptz,
      cancelled_at timestamptz,
      amount_paid bigint NOT NULL DEFAULT 0,
      amount_refunded bigint NOT NULL DEFAULT 0,
      needs_refund boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT orders_refund_range CHECK (amount_refunded >= 0 AND amount_refunded <= amount_paid)
    );
    CREATE INDEX orders_user_idx ON orders (user_id, created_at DESC, id DESC);
    CREATE INDEX orders_status_idx ON orders (status, created_at DESC, id DESC);
    CREATE INDEX orders_expiry_idx ON orders (reservation_expires_at)
      WHERE status = 'pending_payment' AND reservation_released_at IS NULL;
    CREATE INDEX orders_email_idx ON orders (email);
    CREATE TRIGGER orders_updated_at BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    CREATE TABLE order_items (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
      variant_id uuid REFERENCES product_variants (id) ON DELETE SET NULL,
      product_id uuid,
      title text NOT NULL,
      variant_title text NOT NULL,
      sku text NOT NULL,
      unit_price bigint NOT NULL CHECK (unit_price >= 0),
      quantity integer NOT NULL CHECK (quantity > 0),
      line_total bigint NOT NULL CHECK (line_total >= 0),
      currency char(3) NOT NULL
    );
    CREATE INDEX order_items_order_idx ON order_items (order_id);

    CREATE TABLE order_status_history (
      id bigserial PRIMARY KEY,
      order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
      from_status text,
      to_status text NOT NULL,
      actor_id uuid,
      note text,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX order_status_history_order_idx ON order_status_history (order_id, id);

    CREATE TABLE coupon_redemptions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      coupon_id uuid NOT NULL REFERENCES coupons (id) ON DELETE CASCADE,
      order_id uuid NOT NULL UNIQUE REFERENCES orders (id) ON DELETE CASCADE,
      user_id uuid,
      email citext NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      released_at timestamptz
    );
    CREATE INDEX coupon_redemptions_customer_idx ON coupon_redemptions (coupon_id, email) WHERE released_at IS NULL;
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE coupon_redemptions, order_status_history, order_items, orders, cart_items, carts, coupons, shipping_methods;
    DROP SEQUENCE order_number_seq;
  `.execute(db);
}
