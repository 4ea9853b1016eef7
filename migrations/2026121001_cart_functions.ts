import { sql, type Kysely } from 'kysely';

/**
 * Add-to-cart in one statement (issue 10): it was 12 (BEGIN, lock, variant, line, line count, stock,
 * write, touch, cart, lines, stock, COMMIT).
 *
 * cart_add_item(p): locks the caller's cart (the signed-in user's, created on first use, or the guest's by
 * token hash), checks the variant is sellable, the line's new quantity (≤ max_quantity), the cart's line
 * count (< max_lines for a new line) and the stock (available = on_hand − reserved, the one rule of
 * shared/inventory/availability.ts), and only then upserts the line and touches the cart. A refusal returns
 * `{error: ...}` before anything is written, so the call needs no transaction of its own around it.
 *
 * cart_state(cart, user): the cart as the API shows it, raw: the cart row, its lines with current prices and
 * availability, its coupon and, for a coupon with a per-customer limit, the redemptions the signed-in
 * customer holds (by user id or email). Totals and the coupon's status are computed in TypeScript
 * (shared/pricing, shared/coupons), as for every other cart answer.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION cart_state(p_cart_id uuid, p_user_id uuid) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $fn$
    DECLARE
      v_cart carts%ROWTYPE;
      v_items jsonb;
      v_coupon coupons%ROWTYPE;
      v_email text;
      v_held int;
    BEGIN
      SELECT * INTO v_cart FROM carts WHERE id = p_cart_id;
      SELECT coalesce(jsonb_agg(jsonb_build_object(
               'id', ci.id, 'variantId', ci.variant_id, 'productId', v.product_id, 'productSlug', pr.slug, 'title', pr.title,
               'variantTitle', v.title, 'sku', v.sku, 'quantity', ci.quantity, 'unitPrice', ci.unit_price, 'price', v.price,
               'status', pr.status, 'currency', ci.currency, 'available', greatest(coalesce(i.on_hand - i.reserved, 0), 0))
             ORDER BY ci.created_at, ci.id), '[]')
        INTO v_items
        FROM cart_items ci
        JOIN product_variants v ON v.id = ci.variant_id
        JOIN products pr ON pr.id = v.product_id
        LEFT JOIN inventory i ON i.variant_id = ci.variant_id
       WHERE ci.cart_id = p_cart_id;
      IF v_cart.coupon_id IS NOT NULL THEN
        SELECT * INTO v_coupon FROM coupons WHERE id = v_cart.coupon_id;
        IF v_coupon.per_customer_limit IS NOT NULL AND p_user_id IS NOT NULL THEN
          SELECT email INTO v_email FROM users WHERE id = p_user_id;
          SELECT count(*)::int INTO v_held FROM coupon_redemptions
           WHERE coupon_id = v_coupon.id AND released_at IS NULL AND (user_id = p_user_id OR email = v_email::citext);
        END IF;
      END IF;
      RETURN jsonb_build_object(
        'cart', jsonb_build_object('id', v_cart.id, 'userId', v_cart.user_id, 'couponId', v_cart.coupon_id, 'currency', v_cart.currency,
                                   'createdAt', v_cart.created_at, 'updatedAt', v_cart.updated_at),
        'items', v_items,
        'coupon', CASE WHEN v_coupon.id IS NULL THEN NULL ELSE jsonb_build_object('id', v_coupon.id, 'code', v_coupon.code,
                    'kind', v_coupon.kind, 'value', v_coupon.value, 'minSubtotal', v_coupon.min_subtotal, 'startsAt', v_coupon.starts_at,
                    'endsAt', v_coupon.ends_at, 'maxRedemptions', v_coupon.max_redemptions, 'redemptionsCount', v_coupon.redemptions_count,
                    'perCustomerLimit', v_coupon.per_customer_limit, 'active', v_coupon.active, 'createdAt', v_coupon.created_at,
                    'updatedAt', v_coupon.updated_at) END,
        'redemptions', v_held);
    END $fn$;

    CREATE FUNCTION cart_add_item(p jsonb) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $fn$
    DECLARE
      v_user uuid := (p->>'user_id')::uuid;
      v_variant_id uuid := (p->>'variant_id')::uuid;
      v_cart carts%ROWTYPE;
      v_sku text;
      v_price bigint;
      v_status text;
      v_existing int;
      v_next int;
      v_lines int;
      v_available int;
    BEGIN
      IF v_user IS NOT NULL THEN
        INSERT INTO carts (user_id, currency) VALUES (v_user, (p->>'currency')::char(3)) ON CONFLICT (user_id) DO NOTHING;
        SELECT * INTO v_cart FROM carts WHERE user_id = v_user FOR UPDATE;
      ELSE
        SELECT * INTO v_cart FROM carts WHERE token_hash = p->>'token_hash' AND user_id IS NULL FOR UPDATE;
      END IF;
      IF v_cart.id IS NULL THEN RETURN jsonb_build_object('error', 'cart_not_found'); END IF;

      SELECT v.sku, v.price, pr.status INTO v_sku, v_price, v_status
        FROM product_variants v JOIN products pr ON pr.id = v.product_id WHERE v.id = v_variant_id;
      IF NOT FOUND OR v_status <> 'active' THEN RETURN jsonb_build_object('error', 'variant_not_found'); END IF;
      SELECT quantity INTO v_existing FROM cart_items WHERE cart_id = v_cart.id AND variant_id = v_variant_id;
      v_next := coalesce(v_existing, 0) + (p->>'quantity')::int;
      IF v_next > (p->>'max_quantity')::int THEN RETURN jsonb_build_object('error', 'quantity', 'quantity', v_next); END IF;
      IF v_existing IS NULL THEN
        SELECT count(*)::int INTO v_lines FROM cart_items WHERE cart_id = v_cart.id;
        IF v_lines >= (p->>'max_lines')::int THEN RETURN jsonb_build_object('error', 'cart_full'); END IF;
      END IF;
      SELECT greatest(on_hand - reserved, 0) INTO v_available FROM inventory WHERE variant_id = v_variant_id;
      IF v_next > coalesce(v_available, 0) THEN
        RETURN jsonb_build_object('error', 'insufficient_stock', 'sku', v_sku, 'requested', v_next, 'available', coalesce(v_available, 0));
      END IF;

      -- The snapshot price is refreshed: the customer sees it now.
      INSERT INTO cart_items (cart_id, variant_id, quantity, unit_price, currency)
      VALUES (v_cart.id, v_variant_id, v_next, v_price, v_cart.currency)
      ON CONFLICT (cart_id, variant_id) DO UPDATE SET quantity = EXCLUDED.quantity, unit_price = EXCLUDED.unit_price;
      UPDATE carts SET updated_at = now() WHERE id = v_cart.id;
      RETURN cart_state(v_cart.id, v_user);
    END $fn$;
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION cart_add_item(jsonb); DROP FUNCTION cart_state(uuid, uuid);`.execute(db);
}
