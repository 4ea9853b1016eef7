import { sql, type Kysely } from 'kysely';

/**
 * Keeps the list-page denormalisations (`products.price_from`, `products.in_stock`) true whoever writes
 * variants or stock (catalog, checkout, payments, inventory), and tells every API replica when what a
 * reader sees has changed:
 *   - NOTIFY catalog_changed ''          after any statement on products, variants, images, categories
 *                                        (in_stock flipping is an UPDATE of products, so stock crossing
 *                                        zero anywhere lands here too);
 *   - NOTIFY catalog_stock '<productId>' when a product's stock numbers change (detail `available`).
 * Notifications are transactional: they are sent on commit, never for a rolled-back change.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Locks the products first (in id order), then recomputes with a fresh snapshot: two transactions
    -- selling the last unit of two variants of one product cannot both keep in_stock = true.
    CREATE FUNCTION catalog_refresh_products(ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      IF ids IS NULL OR cardinality(ids) = 0 THEN RETURN; END IF;
      PERFORM 1 FROM products WHERE id = ANY (ids) ORDER BY id FOR UPDATE;
      UPDATE products p SET price_from = s.pf, in_stock = s.st
      FROM (
        SELECT pr.id,
               (SELECT min(v.price) FROM product_variants v WHERE v.product_id = pr.id) AS pf,
               EXISTS (SELECT 1 FROM product_variants v JOIN inventory i ON i.variant_id = v.id
                       WHERE v.product_id = pr.id AND i.on_hand - i.reserved > 0) AS st
        FROM unnest(ids) AS pr(id)
      ) s
      WHERE p.id = s.id AND (p.price_from IS DISTINCT FROM s.pf OR p.in_stock <> s.st);
    END $$;

    CREATE FUNCTION catalog_variants_ins() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM catalog_refresh_products(ARRAY(SELECT DISTINCT product_id FROM new_rows));
      RETURN NULL;
    END $$;
    CREATE FUNCTION catalog_variants_upd() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM catalog_refresh_products(ARRAY(
        SELECT n.product_id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.price IS DISTINCT FROM o.price OR n.product_id <> o.product_id
        UNION SELECT o.product_id FROM new_rows n JOIN old_rows o ON o.id = n.id WHERE n.product_id <> o.product_id));
      RETURN NULL;
    END $$;
    CREATE FUNCTION catalog_variants_del() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM catalog_refresh_products(ARRAY(SELECT DISTINCT product_id FROM old_rows));
      RETURN NULL;
    END $$;
    CREATE TRIGGER product_variants_refresh_ins AFTER INSERT ON product_variants
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION catalog_variants_ins();
    CREATE TRIGGER product_variants_refresh_upd AFTER UPDATE ON product_variants
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION catalog_variants_upd();
    CREATE TRIGGER product_variants_refresh_del AFTER DELETE ON product_variants
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION catalog_variants_del();

    -- Stock: only rows whose "available > 0" flips need the product recomputed; every change of the
    -- numbers tells the replicas which product details to drop.
    CREATE FUNCTION catalog_inventory_ins() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM catalog_refresh_products(ARRAY(
        SELECT DISTINCT v.product_id FROM new_rows n JOIN product_variants v ON v.id = n.variant_id
        WHERE n.on_hand - n.reserved > 0));
      RETURN NULL;
    END $$;
    CREATE FUNCTION catalog_inventory_upd() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE pid uuid;
    BEGIN
      PERFORM catalog_refresh_products(ARRAY(
        SELECT DISTINCT v.product_id FROM new_rows n JOIN old_rows o ON o.variant_id = n.variant_id
        JOIN product_variants v ON v.id = n.variant_id
        WHERE (n.on_hand - n.reserved > 0) <> (o.on_hand - o.reserved > 0)));
      FOR pid IN
        SELECT DISTINCT v.product_id FROM new_rows n JOIN old_rows o ON o.variant_id = n.variant_id
        JOIN product_variants v ON v.id = n.variant_id
        WHERE n.on_hand - n.reserved <> o.on_hand - o.reserved
      LOOP
        PERFORM pg_notify('catalog_stock', pid::text);
      END LOOP;
      RETURN NULL;
    END $$;
    CREATE FUNCTION catalog_inventory_del() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM catalog_refresh_products(ARRAY(
        SELECT DISTINCT v.product_id FROM old_rows o JOIN product_variants v ON v.id = o.variant_id
        WHERE o.on_hand - o.reserved > 0));
      RETURN NULL;
    END $$;
    CREATE TRIGGER inventory_refresh_ins AFTER INSERT ON inventory
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION catalog_inventory_ins();
    CREATE TRIGGER inventory_refresh_upd AFTER UPDATE ON inventory
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION catalog_inventory_upd();
    CREATE TRIGGER inventory_refresh_del AFTER DELETE ON inventory
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION catalog_inventory_del();

    CREATE FUNCTION catalog_notify_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('catalog_changed', '');
      RETURN NULL;
    END $$;
    CREATE TRIGGER products_notify AFTER INSERT OR UPDATE OR DELETE ON products
      FOR EACH STATEMENT EXECUTE FUNCTION catalog_notify_changed();
    CREATE TRIGGER product_variants_notify AFTER INSERT OR UPDATE OR DELETE ON product_variants
      FOR EACH STATEMENT EXECUTE FUNCTION catalog_notify_changed();
    CREATE TRIGGER product_images_notify AFTER INSERT OR UPDATE OR DELETE ON product_images
      FOR EACH STATEMENT EXECUTE FUNCTION catalog_notify_changed();
    CREATE TRIGGER categories_notify AFTER INSERT OR UPDATE OR DELETE ON categories
      FOR EACH STATEMENT EXECUTE FUNCTION catalog_notify_changed();

    -- Keyset paging for price sorts within the status (the existing index is (status, price_from, id)).
    CREATE INDEX products_status_price_desc_idx ON products (status, price_from DESC, id DESC);
    CREATE INDEX products_active_in_stock_idx ON products (in_stock) WHERE status = 'active';
    -- Re-import upserts by handle (stored as the slug).
    CREATE INDEX product_images_source_idx ON product_images (product_id, source_url) WHERE source_url IS NOT NULL;
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP INDEX product_images_source_idx;
    DROP INDEX products_active_in_stock_idx;
    DROP INDEX products_status_price_desc_idx;
    DROP TRIGGER categories_notify ON categories;
    DROP TRIGGER product_images_notify ON product_images;
    DROP TRIGGER product_variants_notify ON product_variants;
    DROP TRIGGER products_notify ON products;
    DROP FUNCTION catalog_notify_changed();
    DROP TRIGGER inventory_refresh_del ON inventory;
    DROP TRIGGER inventory_refresh_upd ON inventory;
    DROP TRIGGER inventory_refresh_ins ON inventory;
    DROP FUNCTION catalog_inventory_del();
    DROP FUNCTION catalog_inventory_upd();
    DROP FUNCTION catalog_inventory_ins();
    DROP TRIGGER product_variants_refresh_del ON product_variants;
    DROP TRIGGER product_variants_refresh_upd ON product_variants;
    DROP TRIGGER product_variants_refresh_ins ON product_variants;
    DROP FUNCTION catalog_variants_del();
    DROP FUNCTION catalog_variants_upd();
    DROP FUNCTION catalog_variants_ins();
    DROP FUNCTION catalog_refresh_products(uuid[]);
  `.execute(db);
}
