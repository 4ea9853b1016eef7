import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Set when a create-refund call for this part got no answer (timeout, dropped connection, gateway
    -- error): Paystack may still make that refund. Until REFUND_RECREATE_AFTER_MS has passed the part is
    -- only claimed by our note, never created again; cleared when Paystack answers.
    ALTER TABLE refund_parts ADD COLUMN create_uncertain_since timestamptz;
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE refund_parts DROP COLUMN create_uncertain_since;`.execute(db);
}
