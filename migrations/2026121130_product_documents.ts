import { sql, type Kysely } from 'kysely';

/**
 * A product's detail (GET /products/:id) as a document kept beside the product, so that reading it is a
 * primary-key look-up plus its variants' stock (issue 16: an uncached detail built from five tables cost the
 * database ~3x a primary-key read).
 *
 * Everything in the detail except per-variant `available` changes only with a catalog write, so it is stored
 * as text, cut where each variant's `available` goes:
 *
 *   head || available(variant_ids[1]) || parts[1] || available(variant_ids[2]) || parts[2] || ...
 *
 * Stock moves on every sale; it is never copied here but read live from `inventory` by the detail statement
 * (shared/catalog/products.ts), so checkout writes nothing more than before. The bytes are those the
 * five-table statement produced (json_build_object's layout), so ETags did not change.
 *
 * Kept true in the writing transaction by statement triggers on products, variants, images and categories
 * (in_stock and price_from flips are UPDATEs of products, so they land here too). Each refresh locks the
 * products first (in id order, as catalog_refresh_products does), then builds with a fresh snapshot: two
 * transactions changing one product (a price here, a title there) cannot leave a document that misses either.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE product_documents (
      product_id uuid PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
      slug text NOT NULL,
      status text NOT NULL,
      head text NOT NULL,
      variant_ids uuid[] NOT NULL,
      parts text[] NOT NULL,
      CHECK (cardinality(variant_ids) = cardinality(parts))
    );
    -- Not unique: a statement renaming two products' slugs into each other's passes through a moment where
    -- both documents are not yet rebuilt. products.slug stays the unique one.
    CREATE INDEX product_documents_slug_idx ON product_documents (slug);

    CREATE FUNCTION product_documents_refresh(ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      IF ids IS NULL OR cardinality(ids) = 0 THEN RETURN; END IF;
      PERFORM 1 FROM products WHERE id = ANY (ids) ORDER BY id FOR UPDATE;
      INSERT INTO product_documents AS d (product_id, slug, status, head, variant_ids, parts)
      SELECT p.id, p.slug, p.status,
             CASE WHEN v.vids IS NULL THEN pre.t || ', "variants" : []' || post.t
                  ELSE pre.t || ', "variants" : [' || v.first_open END,
             COALESCE(v.vids, '{}'), COALESCE(v.parts, '{}')
      FROM products p
      -- The product's keys before "variants": the object without its closing brace.
      CROSS JOIN LATERAL (SELECT left(json_build_object(
          'id', p.id, 'slug', p.slug, 'title', p.title, 'description', p.description, 'status', p.status,
          'category', (SELECT json_build_object('id', c.id, 'slug', c.slug, 'name', c.name) FROM categories c WHERE c.id = p.category_id),
          'tags', p.tags, 'attributes', p.attributes, 'vendor', p.vendor, 'productType', p.product_type,
          'seoTitle', p.seo_title, 'seoDescription', p.seo_description,
          'priceFrom', p.price_from, 'currency', p.currency, 'inStock', p.in_stock,
          'rating', p.rating::float8, 'reviewCount', p.rating_count, 'ratingCount', p.rating_count)::text, -1) AS t) pre
      -- The keys after "variants", with the closing brace: the object without its opening one.
      CROSS JOIN LATERAL (SELECT ', ' || right(json_build_object(
          'images', COALESCE((
            SELECT json_agg(json_build_object('id', m.id, 'urls', m.urls, 'alt', m.alt, 'position', m.position) ORDER BY m.position, m.id)
            FROM product_images m WHERE m.product_id = p.id), '[]'::json),
          'createdAt', to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
          'updatedAt', to_char(p.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text, -1) AS t) post
      -- Each variant's object up to its "available" value; what follows a value is the next variant's opening,
      -- or the end of the array and the rest of the product.
      CROSS JOIN LATERAL (
        SELECT array_agg(w.id ORDER BY w.k) AS vids,
               (array_agg(w.open ORDER BY w.k))[1] AS first_open,
               array_agg('}' || COALESCE(', ' || w.next_open, ']' || post.t) ORDER BY w.k) AS parts
        FROM (
          SELECT o.id, o.k, o.open, lead(o.open) OVER (ORDER BY o.k) AS next_open
          FROM (
            SELECT v.id, row_number() OVER (ORDER BY v.position, v.sku) AS k,
                   left(json_build_object(
                     'id', v.id, 'sku', v.sku, 'title', v.title, 'options', v.options, 'price', v.price,
                     'compareAtPrice', v.compare_at_price, 'currency', v.currency, 'weightGrams', v.weight_grams)::text, -1)
                   || ', "available" : ' AS open
            FROM product_variants v WHERE v.product_id = p.id
          ) o
        ) w
      ) v
      WHERE p.id = ANY (ids)
      ON CONFLICT (product_id) DO UPDATE SET
        slug = excluded.slug, status = excluded.status, head = excluded.head,
        variant_ids = excluded.variant_ids, parts = excluded.parts;
    END $$;

    CREATE FUNCTION product_documents_products() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM product_documents_refresh(ARRAY(SELECT id FROM new_rows));
      RETURN NULL;
    END $$;
    CREATE TRIGGER products_documents_ins AFTER INSERT ON products
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION product_documents_products();
    CREATE TRIGGER products_documents_upd AFTER UPDATE ON products
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION product_documents_products();

    -- Variants and images: the products of the old and the new rows (a row may move between products).
    CREATE FUNCTION product_documents_children_ins() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM product_documents_refresh(ARRAY(SELECT DISTINCT product_id FROM new_rows));
      RETURN NULL;
    END $$;
    CREATE FUNCTION product_documents_children_upd() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM product_documents_refresh(ARRAY(SELECT product_id FROM new_rows UNION SELECT product_id FROM old_rows));
      RETURN NULL;
    END $$;
    -- A deleted product's children go with it (ON DELETE CASCADE): only products still there are rebuilt.
    CREATE FUNCTION product_documents_children_del() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM product_documents_refresh(ARRAY(SELECT DISTINCT o.product_id FROM old_rows o JOIN products p ON p.id = o.product_id));
      RETURN NULL;
    END $$;
    CREATE TRIGGER product_variants_documents_ins AFTER INSERT ON product_variants
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION product_documents_children_ins();
    CREATE TRIGGER product_variants_documents_upd AFTER UPDATE ON product_variants
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION product_documents_children_upd();
    CREATE TRIGGER product_variants_documents_del AFTER DELETE ON product_variants
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION product_documents_children_del();
    CREATE TRIGGER product_images_documents_ins AFTER INSERT ON product_images
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION product_documents_children_ins();
    CREATE TRIGGER product_images_documents_upd AFTER UPDATE ON product_images
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION product_documents_children_upd();
    CREATE TRIGGER product_images_documents_del AFTER DELETE ON product_images
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION product_documents_children_del();

    -- A category's name or slug shows in each of its products (a category in use cannot be deleted).
    CREATE FUNCTION product_documents_categories() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM product_documents_refresh(ARRAY(SELECT p.id FROM products p JOIN new_rows n ON n.id = p.category_id));
      RETURN NULL;
    END $$;
    CREATE TRIGGER categories_documents_upd AFTER UPDATE ON categories
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION product_documents_categories();

    SELECT product_documents_refresh(ARRAY(SELECT id FROM products));
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TRIGGER categories_documents_upd ON categories;
    DROP FUNCTION product_documents_categories();
    DROP TRIGGER product_images_documents_del ON product_images;
    DROP TRIGGER product_images_documents_upd ON product_images;
    DROP TRIGGER product_images_documents_ins ON product_images;
    DROP TRIGGER product_variants_documents_del ON product_variants;
    DROP TRIGGER product_variants_documents_upd ON product_variants;
    DROP TRIGGER product_variants_documents_ins ON product_variants;
    DROP FUNCTION product_documents_children_del();
    DROP FUNCTION product_documents_children_upd();
    DROP FUNCTION product_documents_children_ins();
    DROP TRIGGER products_documents_upd ON products;
    DROP TRIGGER products_documents_ins ON products;
    DROP FUNCTION product_documents_products();
    DROP FUNCTION product_documents_refresh(uuid[]);
    DROP TABLE product_documents;
  `.execute(db);
}
