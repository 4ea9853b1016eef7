import { sql, type Kysely } from 'kysely';

/**
 * Relevance search on one word costs a few rows, not every match (issue 16).
 *
 * `ORDER BY ts_rank(search, q) DESC LIMIT 20` ranks every product that matches: a frequent word ("lagos",
 * "ankara") matches thousands, and each request ranked and sorted all of them (110–200 ms at 10,000
 * products). Most searches are one word, and websearch_to_tsquery turns one word into a single-lexeme
 * query, whose rank in a product depends on that product alone. So the rank is computed when the product
 * is written, one row per (lexeme, product), and the search walks an index in rank order until the page is
 * full: the same products in the same order as ts_rank, a few index entries and primary-key lookups.
 *
 * `term` is the single-lexeme tsquery as text (`'dress'`), exactly what `websearch_to_tsquery(...)::text`
 * gives for a one-lexeme query; `rank` is `ts_rank(search, term::tsquery)`. Kept by triggers: inserts per
 * statement (a bulk import is one INSERT ... SELECT), updates per row and only when the document changed
 * (stock, price and rating updates do not touch it), deletes by the foreign key. Queries of several
 * lexemes, phrases or negations keep the general plan (shared/catalog/listing.ts).
 */
/** A tsquery's text when it is a plain phrase of lexemes ('a' <-> 'b' <-> ...), none with a quote or backslash. */
export const PHRASE_CHAIN = String.raw`^''[^''\\]+''( <-> ''[^''\\]+'')+$`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION product_search_terms_of(doc tsvector) RETURNS TABLE (term text, rank real)
      LANGUAGE sql IMMUTABLE PARALLEL SAFE
      AS $$
        SELECT DISTINCT x.q::text, ts_rank(doc, x.q)
        FROM unnest(tsvector_to_array(doc)) AS l(lexeme),
             LATERAL (VALUES (('''' || replace(replace(l.lexeme, '\\', '\\\\'), '''', '\\''') || '''')::tsquery, true),
                             (websearch_to_tsquery('english', l.lexeme), false)) AS x(q, single)
        WHERE x.single OR (numnode(x.q) > 1 AND x.q::text ~ '${sql.raw(PHRASE_CHAIN)}' AND doc @@ x.q)
      $$;

    CREATE TABLE product_search_terms (
      term text NOT NULL,
      rank real NOT NULL,
      product_id uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE
    );
    INSERT INTO product_search_terms (term, rank, product_id)
      SELECT t.term, t.rank, p.id FROM products p, product_search_terms_of(p.search) t;
    -- The search walks this in the order of its ORDER BY (rank DESC, id DESC).
    CREATE UNIQUE INDEX product_search_terms_rank_idx ON product_search_terms (term, rank DESC, product_id DESC);
    CREATE INDEX product_search_terms_product_idx ON product_search_terms (product_id);

    CREATE FUNCTION product_search_terms_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO product_search_terms (term, rank, product_id)
        SELECT t.term, t.rank, a.id FROM added a, product_search_terms_of(a.search) t;
      RETURN NULL;
    END $$;
    CREATE TRIGGER products_search_terms_added AFTER INSERT ON products
      REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION product_search_terms_added();

    CREATE FUNCTION product_search_terms_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM product_search_terms WHERE product_id = NEW.id;
      INSERT INTO product_search_terms (term, rank, product_id)
        SELECT t.term, t.rank, NEW.id FROM product_search_terms_of(NEW.search) t;
      RETURN NULL;
    END $$;
    CREATE TRIGGER products_search_terms_changed AFTER UPDATE OF title, description, tags ON products
      FOR EACH ROW WHEN (OLD.search IS DISTINCT FROM NEW.search) EXECUTE FUNCTION product_search_terms_changed();
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TRIGGER products_search_terms_changed ON products;
    DROP TRIGGER products_search_terms_added ON products;
    DROP FUNCTION product_search_terms_changed();
    DROP FUNCTION product_search_terms_added();
    DROP TABLE product_search_terms;
    DROP FUNCTION product_search_terms_of(tsvector);
  `.execute(db);
}
