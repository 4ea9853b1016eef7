import { sql, type Kysely } from 'kysely';

/**
 * Suggestions by nearest neighbour: a GiST trigram index answers `ORDER BY term <<-> title LIMIT n` without
 * scoring every matching title (the GIN index only filters, so a common word like "kente" made the first
 * version score thousands of rows per keystroke).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE INDEX products_title_trgm_gist_idx ON products USING gist (title gist_trgm_ops) WHERE status = 'active';
    CREATE OR REPLACE FUNCTION catalog_suggest(term text, max_results integer)
    RETURNS TABLE (type text, text text, slug text, score real)
    LANGUAGE sql STABLE
    SET pg_trgm.word_similarity_threshold = 0.45
    AS $$
      SELECT s.type, s.text, s.slug, s.score FROM (
        SELECT 'category'::text AS type, c.name AS text, c.slug, word_similarity(term, c.name) + 0.01 AS score
        FROM categories c WHERE term <% c.name
        UNION ALL
        (SELECT 'product'::text, p.title, p.slug, 1 - (term <<-> p.title)
         FROM products p WHERE p.status = 'active' AND term <% p.title
         ORDER BY term <<-> p.title LIMIT max_results * 3)
      ) s ORDER BY s.score DESC, s.text LIMIT max_results
    $$;
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX products_title_trgm_gist_idx`.execute(db);
}
