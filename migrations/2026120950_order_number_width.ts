import { sql, type Kysely } from 'kysely';

/**
 * Order and conversation numbers were `lpad(nextval(...)::text, 6, '0')`, and lpad also truncates: the
 * millionth order would have been AGP-100000 again, and every checkout after it would have failed on the
 * unique number. Numbers stay zero-padded to six digits and grow past them.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION padded_number(prefix text, n bigint) RETURNS text
      LANGUAGE sql IMMUTABLE PARALLEL SAFE
      AS $$ SELECT prefix || CASE WHEN n < 1000000 THEN lpad(n::text, 6, '0') ELSE n::text END $$;
    ALTER TABLE orders ALTER COLUMN number SET DEFAULT padded_number('AGP-', nextval('order_number_seq'));
    ALTER TABLE support_conversations ALTER COLUMN number SET DEFAULT padded_number('SUP-', nextval('support_conversation_number_seq'));
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE orders ALTER COLUMN number SET DEFAULT 'AGP-' || lpad(nextval('order_number_seq')::text, 6, '0');
    ALTER TABLE support_conversations ALTER COLUMN number SET DEFAULT ('SUP-' || lpad(nextval('support_conversation_number_seq')::text, 6, '0'));
    DROP FUNCTION padded_number(text, bigint);
  `.execute(db);
}
