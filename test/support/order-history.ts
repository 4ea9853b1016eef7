import { randomUUID } from 'node:crypto';
import type { Db } from '../../shared/db/index.js';

const path = ['pending_payment', 'paid', 'processing', 'shipped', 'delivered'] as const;
export type ReachedStatus = (typeof path)[number];

/**
 * An order that already went through its life up to `status` (items, history rows, paid amount), written
 * straight into the tables: reviews and recommendations read order history, they do not drive checkout.
 * `paidAt` places it in time (recommendation windows).
 */
export async function pastOrder(
  db: Db,
  o: {
    userId?: string | null;
    email?: string;
    productIds: string[];
    status?: ReachedStatus;
    paidAt?: Date;
    amountRefunded?: number;
  },
) {
  const status = o.status ?? 'delivered';
  const reached = path.slice(0, path.indexOf(status) + 1);
  const paid = reached.includes('paid');
  const price = 1_000_000;
  const total = price * o.productIds.length;
  const order = await db
    .insertInto('orders')
    .values({
      userId: o.userId ?? null,
      email: o.email ?? `buyer-${randomUUID().slice(0, 8)}@example.com`,
      customerName: 'Ada Obi',
      currency: 'NGN',
      status,
      subtotal: total,
      total,
      amountPaid: paid ? total : 0,
      amountRefunded: o.amountRefunded ?? 0,
      paidAt: paid ? (o.paidAt ?? new Date()) : null,
      shippingAddress: JSON.stringify({
        name: 'Ada Obi',
        phone: '+2348030000000',
        line1: '1 Marina',
        city: 'Lagos',
        state: 'Lagos',
        country: 'NG',
      }),
    })
    .returning(['id', 'number'])
    .executeTakeFirstOrThrow();
  for (const productId of o.productIds) {
    await db
      .insertInto('orderItems')
      .values({
        orderId: order.id,
        productId,
        variantId: null,
        title: 'Item',
        variantTitle: 'M',
        sku: `SKU-${randomUUID().slice(0, 8)}`,
        unitPrice: price,
        quantity: 1,
        lineTotal: price,
        currency: 'NGN',
      })
      .execute();
  }
  await db
    .insertInto('orderStatusHistory')
    .values(
      reached.map((to, i) => ({
        orderId: order.id,
        fromStatus: i === 0 ? null : reached[i - 1],
        toStatus: to,
      })),
    )
    .execute();
  return order;
}
