import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE categories (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      parent_id uuid REFERENCES categories (id) ON DELETE RESTRICT,
      name text NOT NULL,
      slug text NOT NULL UNIQUE,
      description text,
      position integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX categories_parent_idx ON categories (parent_id);
    CREATE INDEX categories_name_trgm_idx ON categories USING gin (name gin_trgm_ops);
    CREATE TRIGGER categories_updated_at BEFORE UPDATE ON categories FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    CREATE TABLE products (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      slug text NOT NULL UNIQUE,
      title text NOT NULL,
      description text NOT NULL DEFAULT '',
      status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'archived')),
      category_id uuid REFERENCES categories (id) ON DELETE RESTRICT,
      tags text[] NOT NULL DEFAULT '{}',
      attributes jsonb NOT NULL DEFAULT '{}',
      vendor text,
      product_type text,
      seo_title text,
      seo_description text,
      -- Denormalised for list pages (kept by the catalog domain): no N+1, no per-row aggregates.
      price_from bigint,
      currency char(3) NOT NULL DEFAULT 'NGN',
      in_stock boolean NOT NULL DEFAULT false,
      rating numeric(3, 2) NOT NULL DEFAULT 0,
      rating_count integer NOT NULL DEFAULT 0,
      search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A') ||
        setweight(to_tsvector('english', description), 'B') ||
        setweight(to_tsvector('english', immutable_array_to_string(tags)), 'C')
      ) STORED,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX products_search_idx ON products USING gin (search);
    CREATE INDEX products_title_trgm_idx ON products USING gin (title gin_trgm_ops);
    CREATE INDEX products_category_idx ON products (category_id);
    CREATE INDEX products_status_created_idx ON products (status, created_at DESC, id DESC);
    CREATE INDEX products_status_price_idx ON products (status, price_from, id);
    CREATE INDEX products_status_rating_idx ON products (status, rating DESC, id DESC);
    CREATE TRIGGER products_updated_at BEFORE UPDATE ON products FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    CREATE TABLE product_variants (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      product_id uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
      sku text NOT NULL UNIQUE,
      title text NOT NULL,
      options jsonb NOT NULL DEFAULT '{}',
      price bigint NOT NULL CHECK (price >= 0),
      compare_at_price bigint CHECK (compare_at_price >= 0),
      currency char(3) NOT NULL DEFAULT 'NGN',
      weight_grams integer CHECK (weight_grams >= 0),
      position integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX product_variants_product_idx ON product_variants (product_id, position);
    CREATE TRIGGER product_variants_updated_at BEFORE UPDATE ON product_variants FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    CREATE TABLE product_images (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      product_id uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
      storage text NOT NULL CHECK (storage IN ('local', 'cloudinary')),
      storage_key text NOT NULL,
      version text,
      urls jsonb NOT NULL,
      alt text NOT NULL DEFAULT '',
      position integer NOT NULL DEFAULT 0,
      width integer,
      height integer,
      source_url text,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX product_images_product_idx ON product_images (product_id, position);

    -- One stock row per variant (created with the variant). The CHECKs hold even if code is wrong.
    CREATE TABLE inventory (
      variant_id uuid PRIMARY KEY REFERENCES product_variants (id) ON DELETE CASCADE,
      on_hand integer NOT NULL DEFAULT 0,
      reserved integer NOT NULL DEFAULT 0,
      low_stock_threshold integer NOT NULL DEFAULT 5 CHECK (low_stock_threshold >= 0),
      low_stock_alerted boolean NOT NULL DEFAULT false,
      version integer NOT NULL DEFAULT 0,
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT inventory_reserved_range CHECK (reserved >= 0 AND reserved <= on_hand)
    );
    CREATE INDEX inventory_low_stock_idx ON inventory ((on_hand - reserved - low_stock_threshold));

    CREATE TABLE inventory_movements (
      id bigserial PRIMARY KEY,
      variant_id uuid NOT NULL REFERENCES product_variants (id) ON DELETE CASCADE,
      delta_on_hand integer NOT NULL DEFAULT 0,
      delta_reserved integer NOT NULL DEFAULT 0,
      reason text NOT NULL,
      actor_id uuid,
      order_id uuid,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX inventory_movements_variant_idx ON inventory_movements (variant_id, created_at DESC);
    CREATE INDEX inventory_movements_order_idx ON inventory_movements (order_id) WHERE order_id IS NOT NULL;

    CREATE TABLE imports (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed', 'failed')),
      filename text NOT NULL,
      file_path text NOT NULL,
      total_rows integer NOT NULL DEFAULT 0,
      processed_rows integer NOT NULL DEFAULT 0,
      products_created integer NOT NULL DEFAULT 0,
      products_updated integer NOT NULL DEFAULT 0,
      errors jsonb NOT NULL DEFAULT '[]',
      created_by uuid,
      created_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz
    );
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE imports, inventory_movements, inventory, product_images, product_variants, products, categories`.execute(db);
}
