import { sql, type Kysely } from 'kysely';

/**
 * Reviews and ratings, recommendations, the address book and the profile phone.
 *
 * - `products.rating_sum` / `rating_count`: the published reviews' sum and count, moved by atomic
 *   increments in the transaction of every change into or out of `published` (shared/reviews). `rating`
 *   becomes a generated column (one-decimal average, NULL without reviews), so nothing can store an
 *   average that disagrees with its counters; the CHECK holds the pair to what five stars allow. The demo
 *   seed's invented counts are cleared: ratings now come only from reviews. Type-ahead puts unrated
 *   products after rated ones of the same similarity.
 * - `reviews`: one live review per (author, product) by a partial unique index (deleted ones step aside);
 *   `version` is the optimistic lock moderators send. Votes and reports have one row per (review, user),
 *   so a repeat is a no-op by the primary key; `helpful_count` / `report_count` move with those inserts.
 * - `review_recount_runs`: what each nightly recount found (drift per product, 0 when all is well).
 * - Recommendations: a run table (at most one queued/running run, by a partial unique index), immutable
 *   generations of rows, and `rec_current` pointing at the one readers use; switching it is one UPDATE in
 *   the transaction that wrote the generation, and NOTIFY catalog_changed makes every API replica drop
 *   its cached answers.
 * - `user_addresses` (one default per user by a partial unique index) and `users.phone` (E.164).
 */

/** migrations/202611231_catalog_suggest.ts's function with the rating order given (NULL ratings exist from here on). */
const suggestFunction = (ratingOrder: 'p.rating DESC' | 'p.rating DESC NULLS LAST') =>
  sql.raw(`
    CREATE OR REPLACE FUNCTION catalog_suggest(term text, max_results integer)
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
         ORDER BY word_similarity(term, p.title) DESC, ${ratingOrder}, p.title LIMIT max_results * 3)
      ) s ORDER BY s.score DESC, s.text LIMIT max_results
    $$;`);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    DROP INDEX products_status_rating_idx;
    ALTER TABLE products DROP COLUMN rating;
    UPDATE products SET rating_count = 0 WHERE rating_count <> 0;
    ALTER TABLE products
      ADD COLUMN rating_sum bigint NOT NULL DEFAULT 0,
      ADD COLUMN rating numeric(2, 1) GENERATED ALWAYS AS (
        CASE WHEN rating_count > 0 THEN round(rating_sum::numeric / rating_count, 1) END) STORED,
      ADD CONSTRAINT products_rating_counters CHECK (
        rating_count >= 0 AND rating_sum >= rating_count AND rating_sum <= 5 * rating_count::bigint);

    ${suggestFunction('p.rating DESC NULLS LAST')}

    CREATE TABLE reviews (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      product_id uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
      author_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      order_id uuid REFERENCES orders (id) ON DELETE SET NULL,
      rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
      title text CHECK (char_length(title) <= 200),
      body text CHECK (char_length(body) <= 5000),
      state text NOT NULL CHECK (state IN ('pending', 'published', 'flagged', 'rejected')),
      version integer NOT NULL DEFAULT 1,
      helpful_count integer NOT NULL DEFAULT 0 CHECK (helpful_count >= 0),
      report_count integer NOT NULL DEFAULT 0 CHECK (report_count >= 0),
      moderation_note text,
      moderated_by uuid REFERENCES users (id) ON DELETE SET NULL,
      moderated_at timestamptz,
      staff_reply text CHECK (char_length(staff_reply) <= 5000),
      staff_reply_by uuid REFERENCES users (id) ON DELETE SET NULL,
      staff_reply_at timestamptz,
      published_at timestamptz,
      deleted_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX reviews_one_live_per_author ON reviews (author_id, product_id) WHERE deleted_at IS NULL;
    CREATE INDEX reviews_product_published_idx ON reviews (product_id, created_at DESC, id DESC)
      WHERE state = 'published' AND deleted_at IS NULL;
    CREATE INDEX reviews_state_idx ON reviews (state, created_at DESC, id DESC) WHERE deleted_at IS NULL;
    CREATE INDEX reviews_author_idx ON reviews (author_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
    CREATE TRIGGER reviews_updated_at BEFORE UPDATE ON reviews FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    CREATE TABLE review_votes (
      review_id uuid NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (review_id, user_id)
    );
    CREATE TABLE review_reports (
      review_id uuid NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      reason text NOT NULL CHECK (reason IN ('spam', 'abuse', 'off_topic', 'personal_data', 'other')),
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (review_id, user_id)
    );

    CREATE TABLE review_recount_runs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      trigger text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
      products_checked integer NOT NULL DEFAULT 0,
      drifted integer NOT NULL DEFAULT 0,
      drift jsonb NOT NULL DEFAULT '[]',
      started_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz
    );

    CREATE TABLE rec_runs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      trigger text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
      status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed', 'failed')),
      requested_by uuid REFERENCES users (id) ON DELETE SET NULL,
      generation_id bigint,
      bought_together_rows integer,
      similar_rows integer,
      best_seller_rows integer,
      error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      started_at timestamptz,
      finished_at timestamptz
    );
    CREATE UNIQUE INDEX rec_runs_one_active ON rec_runs ((true)) WHERE status IN ('queued', 'running');
    CREATE INDEX rec_runs_created_idx ON rec_runs (created_at DESC, id DESC);

    CREATE TABLE rec_generations (
      id bigserial PRIMARY KEY,
      run_id uuid REFERENCES rec_runs (id) ON DELETE SET NULL,
      window_days integer NOT NULL,
      computed_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE rec_current (
      singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
      generation_id bigint REFERENCES rec_generations (id)
    );
    INSERT INTO rec_current (singleton, generation_id) VALUES (true, NULL);

    CREATE TABLE rec_items (
      generation_id bigint NOT NULL REFERENCES rec_generations (id) ON DELETE CASCADE,
      kind text NOT NULL CHECK (kind IN ('bought_together', 'similar')),
      product_id uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
      rank smallint NOT NULL CHECK (rank BETWEEN 1 AND 20),
      related_id uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
      score double precision NOT NULL,
      PRIMARY KEY (generation_id, kind, product_id, rank),
      UNIQUE (generation_id, kind, product_id, related_id),
      CHECK (related_id <> product_id)
    );
    CREATE TABLE rec_best_sellers (
      generation_id bigint NOT NULL REFERENCES rec_generations (id) ON DELETE CASCADE,
      product_id uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
      rank integer NOT NULL,
      units integer NOT NULL,
      PRIMARY KEY (generation_id, product_id)
    );
    CREATE INDEX rec_best_sellers_rank_idx ON rec_best_sellers (generation_id, rank);

    CREATE TRIGGER rec_current_notify AFTER UPDATE ON rec_current
      FOR EACH STATEMENT EXECUTE FUNCTION catalog_notify_changed();

    ALTER TABLE users ADD COLUMN phone text CHECK (phone ~ '^\\+[1-9][0-9]{6,14}$');

    CREATE TABLE user_addresses (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      label text,
      name text NOT NULL,
      line1 text NOT NULL,
      line2 text,
      city text NOT NULL,
      state text NOT NULL,
      country char(2) NOT NULL,
      postal_code text,
      phone text NOT NULL,
      is_default boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX user_addresses_one_default ON user_addresses (user_id) WHERE is_default;
    CREATE INDEX user_addresses_user_idx ON user_addresses (user_id, created_at, id);
    CREATE TRIGGER user_addresses_updated_at BEFORE UPDATE ON user_addresses FOR EACH ROW EXECUTE FUNCTION set_updated_at();
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE user_addresses;
    ALTER TABLE users DROP COLUMN phone;
    DROP TRIGGER rec_current_notify ON rec_current;
    DROP TABLE rec_best_sellers, rec_items, rec_current, rec_generations, rec_runs;
    DROP TABLE review_recount_runs, review_reports, review_votes, reviews;
    ALTER TABLE products DROP CONSTRAINT products_rating_counters, DROP COLUMN rating, DROP COLUMN rating_sum;
    ALTER TABLE products ADD COLUMN rating numeric(3, 2) NOT NULL DEFAULT 0;
    CREATE INDEX products_status_rating_idx ON products (status, rating DESC, id DESC);
    ${suggestFunction('p.rating DESC')}
  `.execute(db);
}
