import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../shared/db/index.js';
import { createUser } from '../support/fixtures.js';
import { createPaidOrder } from '../support/fleet-fixtures.js';
import { tokenFor } from '../support/harness.js';
import type { startPaymentStack } from '../support/payment-fixtures.js';

export type Stack = Awaited<ReturnType<typeof startPaymentStack>>;

/**
 * A paid order of a signed-in customer, taken through processing and shipping to `delivered` (the history
 * rows at `deliveredAt`), with a second variant of the same product at the same price (a size to swap to).
 */
export async function deliveredOrder(
  stack: Stack,
  o: {
    price?: number;
    quantity?: number;
    onHand?: number;
    totals?: { discount?: number; shipping?: number; tax?: number };
    extraLines?: { price: number; quantity: number }[];
    deliveredAt?: Date;
    otherSizeOnHand?: number;
  } = {},
) {
  const { db } = stack;
  const customer = await createUser(db, { role: 'customer' });
  const order = await createPaidOrder(db, stack, {
    userId: customer.id,
    email: customer.email,
    price: o.price ?? 1_000_000,
    quantity: o.quantity ?? 2,
    onHand: o.onHand ?? 10,
    totals: o.totals,
    extraLines: o.extraLines,
  });
  const at = o.deliveredAt ?? new Date();
  const steps = [
    ['paid', 'processing'],
    ['processing', 'shipped'],
    ['shipped', 'delivered'],
  ] as const;
  await db.updateTable('orders').set({ status: 'delivered' }).where('id', '=', order.orderId).execute();
  await db
    .insertInto('orderStatusHistory')
    .values(steps.map(([fromStatus, toStatus]) => ({ orderId: order.orderId, fromStatus, toStatus, createdAt: at })))
    .execute();
  const items = await db
    .selectFrom('orderItems')
    .select(['id', 'variantId', 'productId', 'quantity', 'unitPrice'])
    .where('orderId', '=', order.orderId)
    .orderBy('id')
    .execute();
  const main = items.find((i) => i.variantId === order.variantId)!;
  const other = await db
    .insertInto('productVariants')
    .values({
      productId: main.productId!,
      sku: `ALT-${randomUUID().slice(0, 8)}`,
      title: 'L',
      options: JSON.stringify({ size: 'L' }),
      price: main.unitPrice,
      currency: 'NGN',
      position: 1,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('inventory')
    .values({ variantId: other.id, onHand: o.otherSizeOnHand ?? 5, reserved: 0, lowStockThreshold: 0 })
    .onConflict((oc) => oc.column('variantId').doUpdateSet({ onHand: o.otherSizeOnHand ?? 5, reserved: 0 }))
    .execute();
  return { ...order, customer, items, main, otherVariantId: other.id, as: tokenFor(stack.app, 'customer', customer.id) };
}

export async function staff(stack: Stack, role: 'support' | 'manager' | 'admin' = 'manager') {
  const user = await createUser(stack.db, { role });
  return { ...user, auth: tokenFor(stack.app, role, user.id) };
}

export const post = (stack: Stack, url: string, auth: string, payload?: Record<string, unknown>, headers: Record<string, string> = {}) =>
  stack.app.inject({ method: 'POST', url: `/api/v1${url}`, headers: { authorization: auth, ...headers }, ...(payload === undefined ? {} : { payload }) });
export const get = (stack: Stack, url: string, auth?: string) =>
  stack.app.inject({ method: 'GET', url: `/api/v1${url}`, headers: auth ? { authorization: auth } : {} });

export const stock = (db: Db, variantId: string) =>
  db.selectFrom('inventory').select(['onHand', 'reserved']).where('variantId', '=', variantId).executeTakeFirstOrThrow();

export const returnRow = (db: Db, id: string) => db.selectFrom('returns').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

export const auditCount = async (db: Db, action: string, targetId: string) =>
  (
    await db
      .selectFrom('auditLog')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('action', '=', action)
      .where('targetId', '=', targetId)
      .executeTakeFirstOrThrow()
  ).n;
