import { sql } from 'kysely';
import type { Db } from '../db/index.js';

/** Default Nigerian shipping methods (kobo). Idempotent: only seeds when there are none. */
export const defaultShippingMethods = [
  { name: 'Standard (Lagos)', price: 250_000, freeOver: 5_000_000, etaDays: 2, position: 1 },
  { name: 'Standard (nationwide)', price: 450_000, freeOver: 10_000_000, etaDays: 5, position: 2 },
  { name: 'Express (Lagos, same day)', price: 600_000, freeOver: null, etaDays: 0, position: 3 },
] as const;

export async function seedShippingMethods(db: Db, currency = 'NGN'): Promise<{ created: number }> {
  return db.transaction().execute(async (trx) => {
    // Serialize concurrent seeds; check-then-insert is then safe.
    await sql`SELECT pg_advisory_xact_lock(hashtext('seed:shipping_methods'))`.execute(trx);
    const existing = await trx.selectFrom('shippingMethods').select('id').limit(1).execute();
    if (existing.length) return { created: 0 };
    await trx
      .insertInto('shippingMethods')
      .values(defaultShippingMethods.map((m) => ({ ...m, currency })))
      .execute();
    return { created: defaultShippingMethods.length };
  });
}

/** The `npm run seed` step (scripts/seed.ts). */
export async function seedShipping(ctx: { db: Db; config: { CURRENCY: string }; log: (message: string) => void }): Promise<void> {
  const { created } = await seedShippingMethods(ctx.db, ctx.config.CURRENCY);
  ctx.log(created ? `shipping: ${created} methods created` : 'shipping: methods exist, left as they are');
}
