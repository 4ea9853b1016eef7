import { sql, type Selectable } from 'kysely';
import type { OrderItems, Orders, OrderStatusHistory, Payments, Refunds } from '../db/types.js';
import type { Role } from '../auth/permissions.js';
import { can } from '../auth/permissions.js';
import type { DbOrTrx } from '../db/index.js';
import { DomainError, NotFoundError } from '../errors.js';
import { tokenHash } from '../crypto.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import { checkOrderLinkToken, type OrderLinkConfig } from './links.js';
import type { OrderStatus, OrderView, ShippingAddress } from './schemas.js';

export type { OrderView, ShippingAddress } from './schemas.js';

/**
 * The order read model (GET /orders/:id): the order with items, totals, status history, payment attempts,
 * refunds and the invoice URL. The payments domain owns payments/refunds/invoices; this reads their rows
 * so the order answer is complete. To add a field from those domains, extend `OrderView` here and the
 * `Order` response schema in api/routes/orders.ts (the serializer drops anything not in the schema).
 */

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

export interface OrderCaller {
  auth: { id: string; role: Role } | null;
  /** Raw X-Cart-Token header: opens guest orders placed with that cart. */
  cartToken?: string;
  /** Signed link token (?token=) from the customer's mail. */
  linkToken?: string;
}

/** The order if this caller may see it, else 404 (never 403: other people's orders do not exist for you). */
export async function findAccessibleOrder(db: DbOrTrx, config: OrderLinkConfig, orderId: string, caller: OrderCaller) {
  const order = await db.selectFrom('orders').select(['id', 'userId', 'cartId', 'status']).where('id', '=', orderId).executeTakeFirst();
  if (!order) throw new NotFoundError('Order');
  if (caller.auth && (order.userId === caller.auth.id || can(caller.auth.role, 'order:read:any'))) return { ...order, via: 'user' as const };
  const link = caller.linkToken ? checkOrderLinkToken(config, order.id, caller.linkToken) : 'invalid';
  if (link === 'valid') return { ...order, via: 'link' as const };
  if (caller.cartToken && order.cartId) {
    const cart = await db.selectFrom('carts').select('id').where('id', '=', order.cartId).where('tokenHash', '=', tokenHash(caller.cartToken)).executeTakeFirst();
    if (cart) return { ...order, via: 'cart' as const };
  }
  // Still a 404 (the contract's answer for what the caller may not see); only a genuine link learns why.
  if (link === 'expired') throw new DomainError(404, 'not_found', 'This order link has expired; sign in, or use the link in a newer mail');
  throw new NotFoundError('Order');
}

/** Whether the caller is the order's customer (not merely staff reading it). */
export const isOwner = (order: { userId: string | null; via: 'user' | 'link' | 'cart' }, caller: OrderCaller) =>
  order.via !== 'user' || (caller.auth !== null && order.userId === caller.auth.id);

const itemColumns = ['id', 'variantId', 'productId', 'title', 'variantTitle', 'sku', 'unitPrice', 'quantity', 'lineTotal', 'currency'] as const;
const historyColumns = ['fromStatus', 'toStatus', 'actorId', 'note', 'createdAt'] as const;
const paymentColumns = ['id', 'reference', 'attempt', 'provider', 'status', 'amount', 'currency', 'authorizationUrl', 'paidAt', 'createdAt'] as const;
export const orderViewColumns = { items: itemColumns, history: historyColumns, payments: paymentColumns };

type Row<T> = Selectable<T>;
export interface OrderViewParts {
  items: Pick<Row<OrderItems>, (typeof itemColumns)[number]>[];
  history: Pick<Row<OrderStatusHistory>, (typeof historyColumns)[number]>[];
  payments: Pick<Row<Payments>, (typeof paymentColumns)[number]>[];
  refunds: Pick<Row<Refunds>, 'id' | 'amount' | 'currency' | 'reason' | 'status' | 'restock' | 'createdAt' | 'settledAt'>[];
  invoice: { number: string; renderedAt: Date | null } | undefined;
}

/** Shapes an order and its parts as GET /orders/:id answers it (checkout builds it from what it inserted). */
export function buildOrderView(o: Row<Orders>, parts: OrderViewParts): OrderView {
  const { items, history, payments, refunds, invoice } = parts;
  return {
    id: o.id,
    number: o.number,
    status: o.status,
    email: o.email,
    customerName: o.customerName,
    userId: o.userId,
    currency: o.currency,
    subtotal: o.subtotal,
    discount: o.discount,
    shipping: o.shipping,
    tax: o.tax,
    total: o.total,
    couponCode: o.couponCode,
    shippingMethod: o.shippingMethodName ? { id: o.shippingMethodId, name: o.shippingMethodName } : null,
    shippingAddress: o.shippingAddress as unknown as ShippingAddress,
    trackingNumber: o.trackingNumber,
    carrier: o.carrier,
    reservationExpiresAt: iso(o.reservationExpiresAt),
    paidAt: iso(o.paidAt),
    cancelledAt: iso(o.cancelledAt),
    amountPaid: o.amountPaid,
    amountRefunded: o.amountRefunded,
    createdAt: iso(o.createdAt)!,
    updatedAt: iso(o.updatedAt)!,
    items: [...items].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0)),
    history: history.map((h) => ({ from: h.fromStatus, to: h.toStatus, actorId: h.actorId, note: h.note, at: iso(h.createdAt)! })),
    payments: payments.map(({ provider, ...p }) => ({ ...p, method: provider, paidAt: iso(p.paidAt), createdAt: iso(p.createdAt)! })),
    refunds: refunds.map((r) => ({ ...r, createdAt: iso(r.createdAt)!, settledAt: iso(r.settledAt) })),
    invoice: invoice ? { number: invoice.number, url: `/api/v1/orders/${o.id}/invoice` } : null,
    invoiceUrl: invoice?.renderedAt ? `/api/v1/orders/${o.id}/invoice` : null,
  };
}

export async function orderView(db: DbOrTrx, orderId: string) {
  const o = await db.selectFrom('orders').selectAll().where('id', '=', orderId).executeTakeFirst();
  if (!o) throw new NotFoundError('Order');
  // One after the other: in parallel they would take five pool connections for one request.
  const items = await db.selectFrom('orderItems').select(itemColumns).where('orderId', '=', orderId).execute();
  const history = await db.selectFrom('orderStatusHistory').select(historyColumns).where('orderId', '=', orderId).orderBy('id').execute();
  const payments = await db.selectFrom('payments').select(paymentColumns).where('orderId', '=', orderId).orderBy('attempt').execute();
  const refunds = await db
    .selectFrom('refunds')
    .select(['id', 'amount', 'currency', 'reason', 'status', 'restock', 'createdAt', 'settledAt'])
    .where('orderId', '=', orderId)
    .orderBy('createdAt')
    .execute();
  const invoice = await db.selectFrom('invoices').select(['number', 'renderedAt']).where('orderId', '=', orderId).executeTakeFirst();
  return buildOrderView(o, { items, history, payments, refunds, invoice });
}

export interface OrderListQuery {
  limit: number;
  cursor?: string;
  userId?: string;
  status?: OrderStatus;
  /** Matches the order number, the email or the customer's name (case-insensitive, substring). */
  q?: string;
}

/** Newest first, keyset on (created_at, id); the cursor keeps microseconds (created_at::text). */
export async function listOrders(db: DbOrTrx, query: OrderListQuery) {
  let q = db
    .selectFrom('orders as o')
    .select([
      'o.id',
      'o.number',
      'o.status',
      'o.email',
      'o.customerName',
      'o.currency',
      'o.total',
      'o.createdAt',
      sql<string>`o.created_at::text`.as('createdAtText'),
      sql<number>`(SELECT coalesce(sum(quantity), 0)::int FROM order_items WHERE order_id = o.id)`.as('itemCount'),
    ])
    .orderBy('o.createdAt', 'desc')
    .orderBy('o.id', 'desc')
    .limit(query.limit + 1);
  if (query.userId) q = q.where('o.userId', '=', query.userId);
  if (query.status) q = q.where('o.status', '=', query.status);
  if (query.q) {
    const like = `%${query.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q = q.where((eb) => eb.or([eb('o.number', 'ilike', like), eb(sql`o.email::text`, 'ilike', like), eb('o.customerName', 'ilike', like)]));
  }
  if (query.cursor) {
    const [at, id] = decodeCursor(query.cursor, ['timestamptz', 'uuid']);
    q = q.where(sql<boolean>`(o.created_at, o.id) < (${at}::timestamptz, ${id}::uuid)`);
  }
  const rows = await q.execute();
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  return {
    items: page.map(({ createdAtText: _t, ...r }) => ({ ...r, createdAt: iso(r.createdAt)! })),
    nextCursor: rows.length > query.limit && last ? encodeCursor([last.createdAtText, last.id]) : null,
  };
}
