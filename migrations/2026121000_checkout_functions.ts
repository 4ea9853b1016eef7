import { sql, type Kysely } from 'kysely';

/**
 * Checkout in two round trips inside its transaction (issue 10): the API used to send 16 + N statements
 * (each a socket write and a Kysely compile) for what the database can do in two function calls.
 *
 * checkout_open(p): locks the caller's cart (the signed-in user's, created on first use, or the guest's by
 * token hash), reads its lines, the user's email, the shipping method and the cart's coupon, and, once
 * the cart is known to be placeable, takes the open-order advisory locks (address, then email: the order of
 * shared/checkout/open-orders.ts) and counts the client's open orders. PL/pgSQL, so the count after the
 * locks runs on a fresh snapshot and sees every order committed by the checkout it waited for.
 *
 * checkout_place(p): the writes, in the order and with the rules the TypeScript had: one conditional
 * reserve per line in variant-id order (`on_hand - reserved >= q`, re-checked on the locked row, never
 * oversells), the reserve movements, the coupon's conditional redemption (cap, window, minimum) and then the
 * per-customer count under the coupon's row lock, the order, items, redemption, history, and, unless the
 * caller finishes the tail itself (store credit), the Paystack attempt, the outbox rows with their NOTIFY,
 * the emptied cart and the idempotency key's provisional answer. A short line or a refused coupon returns
 * what the caller needs for the problem answer; the caller then throws and the transaction rolls back.
 * Pricing stays in TypeScript (shared/pricing: the one place totals are computed).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION checkout_open(p jsonb) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $fn$
    DECLARE
      v_user uuid := (p->>'user_id')::uuid;
      v_cart carts%ROWTYPE;
      v_lines jsonb;
      v_user_email text;
      v_email text;
      v_open jsonb;
      v_method jsonb;
      v_coupon jsonb;
    BEGIN
      IF v_user IS NOT NULL THEN
        INSERT INTO carts (user_id, currency) VALUES (v_user, (p->>'currency')::char(3)) ON CONFLICT (user_id) DO NOTHING;
        SELECT * INTO v_cart FROM carts WHERE user_id = v_user FOR UPDATE;
        SELECT email INTO v_user_email FROM users WHERE id = v_user;
        IF NOT FOUND THEN v_user := NULL; END IF;
      ELSE
        SELECT * INTO v_cart FROM carts WHERE token_hash = p->>'token_hash' AND user_id IS NULL FOR UPDATE;
      END IF;
      IF v_cart.id IS NULL THEN RETURN jsonb_build_object('cart', NULL); END IF;

      SELECT coalesce(jsonb_agg(jsonb_build_object(
               'id', ci.id, 'variantId', ci.variant_id, 'productId', v.product_id, 'productSlug', pr.slug, 'title', pr.title,
               'variantTitle', v.title, 'sku', v.sku, 'quantity', ci.quantity, 'unitPrice', ci.unit_price, 'price', v.price,
               'purchasable', pr.status = 'active', 'currency', ci.currency)
             ORDER BY ci.created_at, ci.id), '[]')
        INTO v_lines
        FROM cart_items ci JOIN product_variants v ON v.id = ci.variant_id JOIN products pr ON pr.id = v.product_id
       WHERE ci.cart_id = v_cart.id;

      v_email := coalesce(p->>'email', v_user_email);
      -- The caller refuses an empty cart, a gone line or a missing email before it looks at anything else.
      IF jsonb_array_length(v_lines) > 0 AND NOT jsonb_path_exists(v_lines, '$[*] ? (@.purchasable == false)') AND coalesce(v_email, '') <> '' THEN
        IF p->>'client_address' IS NOT NULL THEN
          PERFORM pg_advisory_xact_lock(hashtextextended('open-orders:address:' || (p->>'client_address'), 0));
        END IF;
        PERFORM pg_advisory_xact_lock(hashtextextended('open-orders:email:' || lower(btrim(v_email)), 0));
        SELECT jsonb_build_object('n', count(*)::int, 'wait', extract(epoch FROM min(reservation_expires_at) - now())::float8)
          INTO v_open
          FROM orders
         WHERE status = 'pending_payment' AND reservation_released_at IS NULL AND reservation_expires_at > now()
           AND (lower(email) = lower(btrim(v_email)) OR (p->>'client_address' IS NOT NULL AND client_address = p->>'client_address'));
        SELECT jsonb_build_object('id', id, 'name', name, 'price', price, 'freeOver', free_over) INTO v_method
          FROM shipping_methods WHERE id = (p->>'shipping_method_id')::uuid AND active;
        IF v_cart.coupon_id IS NOT NULL THEN
          SELECT jsonb_build_object('id', id, 'code', code, 'kind', kind, 'value', value, 'minSubtotal', min_subtotal,
                   'startsAt', starts_at, 'endsAt', ends_at, 'maxRedemptions', max_redemptions, 'redemptionsCount', redemptions_count,
                   'perCustomerLimit', per_customer_limit, 'active', active, 'createdAt', created_at, 'updatedAt', updated_at)
            INTO v_coupon FROM coupons WHERE id = v_cart.coupon_id;
        END IF;
      END IF;

      RETURN jsonb_build_object(
        'cart', jsonb_build_object('id', v_cart.id, 'couponId', v_cart.coupon_id, 'currency', v_cart.currency),
        'lines', v_lines, 'userId', v_user, 'userEmail', v_user_email, 'open', v_open, 'method', v_method, 'coupon', v_coupon);
    END $fn$;

    CREATE FUNCTION checkout_place(p jsonb) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $fn$
    DECLARE
      v_order_id uuid := (p->>'order_id')::uuid;
      v_line jsonb;
      v_row jsonb;
      v_changed jsonb := '[]';
      v_short jsonb := '[]';
      v_coupon jsonb := nullif(p->'coupon', 'null'::jsonb);
      v_limit int;
      v_held int;
      v_order orders%ROWTYPE;
      v_items jsonb;
      v_history jsonb;
      v_payment jsonb;
      v_outbox jsonb;
    BEGIN
      -- Lines come sorted by variant id: inventory rows are locked in that order everywhere.
      FOR v_line IN SELECT value FROM jsonb_array_elements(p->'lines') LOOP
        UPDATE inventory SET reserved = reserved + (v_line->>'quantity')::int, updated_at = now()
         WHERE variant_id = (v_line->>'variantId')::uuid AND on_hand - reserved >= (v_line->>'quantity')::int
        RETURNING jsonb_build_object('variantId', variant_id, 'onHand', on_hand, 'reserved', reserved,
                                     'lowStockThreshold', low_stock_threshold, 'lowStockAlerted', low_stock_alerted) INTO v_row;
        IF v_row IS NULL THEN
          v_short := v_short || jsonb_build_object('variantId', v_line->>'variantId', 'sku', v_line->>'sku',
            'requested', (v_line->>'quantity')::int,
            'available', coalesce((SELECT greatest(on_hand - reserved, 0) FROM inventory WHERE variant_id = (v_line->>'variantId')::uuid), 0));
        ELSE
          v_changed := v_changed || v_row;
        END IF;
      END LOOP;
      IF jsonb_array_length(v_short) > 0 THEN RETURN jsonb_build_object('shortfalls', v_short); END IF;
      INSERT INTO inventory_movements (variant_id, delta_on_hand, delta_reserved, reason, order_id)
      SELECT (l->>'variantId')::uuid, 0, (l->>'quantity')::int, 'reserve', v_order_id FROM jsonb_array_elements(p->'lines') l;

      IF v_coupon IS NOT NULL THEN
        -- Checks the cap, the window and the minimum, and takes the row lock: concurrent redemptions queue here.
        UPDATE coupons SET redemptions_count = redemptions_count + 1
         WHERE id = (v_coupon->>'id')::uuid AND active
           AND (max_redemptions IS NULL OR redemptions_count < max_redemptions)
           AND (starts_at IS NULL OR starts_at <= now()) AND (ends_at IS NULL OR ends_at > now())
           AND (min_subtotal IS NULL OR min_subtotal <= (v_coupon->>'subtotal')::bigint)
        RETURNING per_customer_limit INTO v_limit;
        IF NOT FOUND THEN
          RETURN jsonb_build_object('couponRefused', coalesce((SELECT jsonb_build_object('id', id, 'code', code, 'kind', kind, 'value', value,
                   'minSubtotal', min_subtotal, 'startsAt', starts_at, 'endsAt', ends_at, 'maxRedemptions', max_redemptions,
                   'redemptionsCount', redemptions_count, 'perCustomerLimit', per_customer_limit, 'active', active,
                   'createdAt', created_at, 'updatedAt', updated_at) FROM coupons WHERE id = (v_coupon->>'id')::uuid), 'null'::jsonb));
        END IF;
        IF v_limit IS NOT NULL THEN
          -- After the lock, on a fresh snapshot: sees every redemption committed before it.
          SELECT count(*)::int INTO v_held FROM coupon_redemptions
           WHERE coupon_id = (v_coupon->>'id')::uuid AND released_at IS NULL
             AND ((v_coupon->>'user_id') IS NOT NULL AND user_id = (v_coupon->>'user_id')::uuid OR email = (v_coupon->>'email')::citext);
          IF v_held >= v_limit THEN RETURN jsonb_build_object('couponUsedUp', true); END IF;
        END IF;
      END IF;

      INSERT INTO orders (id, user_id, cart_id, email, customer_name, status, currency, subtotal, discount, shipping, tax, total,
                          coupon_id, coupon_code, client_address, shipping_method_id, shipping_method_name, shipping_address,
                          reservation_expires_at)
      SELECT v_order_id, o.user_id, o.cart_id, o.email, o.customer_name, 'pending_payment', o.currency, o.subtotal, o.discount,
             o.shipping, o.tax, o.total, o.coupon_id, o.coupon_code, o.client_address, o.shipping_method_id, o.shipping_method_name,
             o.shipping_address, now() + make_interval(mins => (p->>'reservation_minutes')::int)
        FROM jsonb_populate_record(NULL::orders, p->'order') o
      RETURNING * INTO v_order;

      WITH ins AS (
        INSERT INTO order_items (order_id, variant_id, product_id, title, variant_title, sku, unit_price, quantity, line_total, currency)
        SELECT v_order_id, i.variant_id, i.product_id, i.title, i.variant_title, i.sku, i.unit_price, i.quantity, i.line_total, i.currency
          FROM jsonb_populate_recordset(NULL::order_items, p->'items') i
        RETURNING *)
      SELECT jsonb_agg(jsonb_build_object('id', id, 'variantId', variant_id, 'productId', product_id, 'title', title,
               'variantTitle', variant_title, 'sku', sku, 'unitPrice', unit_price, 'quantity', quantity, 'lineTotal', line_total,
               'currency', currency)) INTO v_items FROM ins;

      IF v_coupon IS NOT NULL THEN
        INSERT INTO coupon_redemptions (coupon_id, order_id, user_id, email)
        VALUES ((v_coupon->>'id')::uuid, v_order_id, (v_coupon->>'user_id')::uuid, v_coupon->>'email');
      END IF;
      INSERT INTO order_status_history (order_id, from_status, to_status, actor_id)
      VALUES (v_order_id, NULL, 'pending_payment', (p->>'actor_id')::uuid)
      RETURNING jsonb_build_object('fromStatus', from_status, 'toStatus', to_status, 'actorId', actor_id, 'note', note, 'createdAt', created_at)
        INTO v_history;

      IF (p->>'finish')::boolean THEN
        IF p->'payment' IS NOT NULL AND jsonb_typeof(p->'payment') = 'object' THEN
          INSERT INTO payments (id, order_id, reference, attempt, amount, currency, status)
          VALUES ((p->'payment'->>'id')::uuid, v_order_id, p->'payment'->>'reference', 1, v_order.total, v_order.currency, 'initializing')
          RETURNING jsonb_build_object('id', id, 'reference', reference, 'attempt', attempt, 'provider', provider, 'status', status,
                      'amount', amount, 'currency', currency, 'authorizationUrl', authorization_url, 'paidAt', paid_at, 'createdAt', created_at)
            INTO v_payment;
        END IF;
        FOR v_outbox IN SELECT value FROM jsonb_array_elements(p->'outbox') LOOP
          INSERT INTO outbox (queue, name, payload, request_id, delay_ms)
          VALUES (v_outbox->>'queue', v_outbox->>'name',
                  CASE WHEN (v_outbox->>'setNumber')::boolean THEN jsonb_set(v_outbox->'payload', '{data,number}', to_jsonb(v_order.number))
                       ELSE v_outbox->'payload' END,
                  v_outbox->>'requestId', 0);
        END LOOP;
        IF jsonb_array_length(p->'outbox') > 0 THEN PERFORM pg_notify('outbox', ''); END IF;
        DELETE FROM cart_items WHERE cart_id = v_order.cart_id;
        IF (p->>'clear_coupon')::boolean THEN UPDATE carts SET coupon_id = NULL WHERE id = v_order.cart_id; END IF;
        UPDATE idempotency_keys SET response_status = (p->'provisional'->>'status')::int, response_body = p->'provisional'->'body'
         WHERE id = (p->>'claim_id')::uuid;
      END IF;

      RETURN jsonb_build_object('order', to_jsonb(v_order), 'items', v_items, 'history', v_history, 'payment', v_payment, 'changed', v_changed);
    END $fn$;
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION checkout_place(jsonb); DROP FUNCTION checkout_open(jsonb);`.execute(db);
}
