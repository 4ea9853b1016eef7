import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE EXTENSION IF NOT EXISTS pgcrypto;
    CREATE EXTENSION IF NOT EXISTS citext;
    CREATE EXTENSION IF NOT EXISTS pg_trgm;

    -- array_to_string is only STABLE; text[] to text is safe to mark IMMUTABLE for generated columns.
    CREATE FUNCTION immutable_array_to_string(text[]) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
      AS $$ SELECT array_to_string($1, ' ') $$;

    CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN NEW.updated_at = now(); RETURN NEW; END $$;

    -- Jobs written in the same transaction as the state change that causes them (DESIGN rule 3).
    CREATE TABLE outbox (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      queue text NOT NULL,
      name text NOT NULL,
      payload jsonb NOT NULL,
      request_id text,
      delay_ms integer NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      delivered_at timestamptz,
      attempts integer NOT NULL DEFAULT 0,
      last_error text
    );
    CREATE INDEX outbox_pending_idx ON outbox (created_at) WHERE delivered_at IS NULL;
    CREATE INDEX outbox_delivered_idx ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;

    CREATE TABLE audit_log (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      actor_id uuid,
      action text NOT NULL,
      target_type text NOT NULL,
      target_id text,
      before jsonb,
      after jsonb,
      request_id text,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, created_at DESC);
    CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, created_at DESC);

    -- Idempotency-Key records for checkout and refunds (DESIGN rule 4).
    CREATE TABLE idempotency_keys (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      scope text NOT NULL,
      owner text NOT NULL,
      key text NOT NULL,
      request_hash text NOT NULL,
      state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done')),
      response_status integer,
      response_body jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL DEFAULT now() + interval '24 hours',
      UNIQUE (scope, owner, key)
    );
    CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

    -- One row per email job the transport accepted: a retried job never sends twice.
    CREATE TABLE email_deliveries (
      job_id text PRIMARY KEY,
      template text NOT NULL,
      recipient text NOT NULL,
      transport_id text,
      sent_at timestamptz NOT NULL DEFAULT now()
    );
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE email_deliveries, idempotency_keys, audit_log, outbox;
    DROP FUNCTION set_updated_at();
    DROP FUNCTION immutable_array_to_string(text[]);
  `.execute(db);
}
