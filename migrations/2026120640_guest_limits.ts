import { sql, type Kysely } from 'kysely';

/**
 * `orders.client_address`: the address that placed the order, so checkout can cap the unpaid orders one
 * client holds (MAX_OPEN_ORDERS_PER_CLIENT). Both counts (by address, by email) read only unpaid orders,
 * hence partial indexes that stay as small as the set of orders awaiting payment.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE orders ADD COLUMN client_address text;
    CREATE INDEX orders_open_by_address_idx ON orders (client_address) WHERE status = 'pending_payment';
    CREATE INDEX orders_open_by_email_idx ON orders (lower(email)) WHERE status = 'pending_payment';
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP INDEX orders_open_by_email_idx;
    DROP INDEX orders_open_by_address_idx;
    ALTER TABLE orders DROP COLUMN client_address;
  `.execute(db);
}
