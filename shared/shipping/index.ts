import { writeAudit } from '../auth/audit.js';
import type { Db, DbOrTrx } from '../db/index.js';
import { NotFoundError } from '../errors.js';

import type { ShippingMethodInput } from './schemas.js';

export type { ShippingMethodInput } from './schemas.js';

const columns = ['id', 'name', 'price', 'currency', 'freeOver', 'etaDays', 'active', 'position', 'createdAt', 'updatedAt'] as const;

export async function listShippingMethods(db: DbOrTrx, opts: { includeInactive?: boolean } = {}) {
  let q = db.selectFrom('shippingMethods').select(columns).orderBy('position').orderBy('price').orderBy('id');
  if (!opts.includeInactive) q = q.where('active', '=', true);
  return q.execute();
}

/** An active method for checkout and cart totals; undefined when unknown or switched off. */
export async function findActiveShippingMethod(db: DbOrTrx, id: string) {
  return db.selectFrom('shippingMethods').select(columns).where('id', '=', id).where('active', '=', true).executeTakeFirst();
}

export async function createShippingMethod(db: Db, input: ShippingMethodInput, currency: string, actorId: string | null = null) {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('shippingMethods')
      .values({
        name: input.name.trim(),
        price: input.price,
        currency,
        freeOver: input.freeOver ?? null,
        etaDays: input.etaDays,
        active: input.active ?? true,
        position: input.position ?? 0,
      })
      .returning(columns)
      .executeTakeFirstOrThrow();
    await writeAudit(trx, { actorId, action: 'shipping_method.created', targetType: 'shipping_method', targetId: row.id, after: row });
    return row;
  });
}

export async function updateShippingMethod(db: Db, id: string, patch: Partial<ShippingMethodInput>, actorId: string | null = null) {
  return db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('shippingMethods').select(columns).where('id', '=', id).forUpdate().executeTakeFirst();
    if (!before) throw new NotFoundError('Shipping method');
    const row = await trx
      .updateTable('shippingMethods')
      .set({
        ...(patch.name !== undefined ? { name: patch.name.trim() } : {}),
        ...(patch.price !== undefined ? { price: patch.price } : {}),
        ...(patch.freeOver !== undefined ? { freeOver: patch.freeOver } : {}),
        ...(patch.etaDays !== undefined ? { etaDays: patch.etaDays } : {}),
        ...(patch.active !== undefined ? { active: patch.active } : {}),
        ...(patch.position !== undefined ? { position: patch.position } : {}),
      })
      .where('id', '=', id)
      .returning(columns)
      .executeTakeFirstOrThrow();
    await writeAudit(trx, { actorId, action: 'shipping_method.updated', targetType: 'shipping_method', targetId: id, before, after: row });
    return row;
  });
}

/** Orders keep the method's name as a snapshot (their FK is ON DELETE SET NULL), so deleting is safe. */
export async function deleteShippingMethod(db: Db, id: string, actorId: string | null = null) {
  await db.transaction().execute(async (trx) => {
    const row = await trx.deleteFrom('shippingMethods').where('id', '=', id).returning(columns).executeTakeFirst();
    if (!row) throw new NotFoundError('Shipping method');
    await writeAudit(trx, { actorId, action: 'shipping_method.deleted', targetType: 'shipping_method', targetId: id, before: row });
  });
}
