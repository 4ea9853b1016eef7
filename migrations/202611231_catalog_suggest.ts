import { sql, type Kysely } from 'kysely';

/**
 * Type-ahead suggestions as a function so it can carry its own pg_trgm threshold: the default word
 * similarity threshold (0.6) misses common short typos ("ankra" → "Ankara" scores 0.5). A SET clause on
 * the function applies the lower threshold to the index-backed `<%` operator without session state
 * (safe behind PgBouncer in transaction mode).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION catalog_suggest(term text, max_results integer)
    RETURNS TABLE (type text, text text, slug text, score real)
    LANGUAGE sql STABLE
    SET pg_trgm.word_similarity_threshold = 0.45
    AS $$
      SELECT s.type, s.text, s.slug, s.score FROM (
        SELECT 'category'::text AS type, c.name AS text, c.slug, word_similarity(term, c.name) + 0.01 AS score
        FROM categories c WHERE term <% c.name
        UNION ALL
        (SELECT 'product'::text, p.title, p.slug, word_similarity(term, p.title)
         FROM products p WHERE p.status = 'active' AND term <% p.title
         ORDER BY word_similarity(term, p.title) DESC, p.rating DESC, p.title LIMIT max_results * 3)
      ) s ORDER BY s.score DESC, s.text LIMIT max_results
    $$;
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP FUNCTION catalog_suggest(text, integer)`.execute(db);
}
