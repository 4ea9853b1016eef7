import { sql } from 'kysely';
import { can, type Role } from '../auth/permissions.js';
import type { Db, DbOrTrx, Trx } from '../db/index.js';
import { BadRequestError, ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { saveProvisional, withIdempotency } from '../idempotency/index.js';
import { lockReturn, releaseExchangeHold, setStatus, heldUnits } from './lifecycle.js';
import { announceRequested, announceStatus } from './notices.js';
import type { ReturnRequestBody, ReturnView } from './schemas.js';
import { unitShares } from './split.js';
import { loadReturn, loadReturns } from './view.js';

/** Order states a delivered order can be in when its units come back (an earlier return may have refunded part). */
const RETURNABLE_ORDER_STATES = ['delivered', 'partially_refunded'] as const;

export interface ReturnRequest {
  orderId: string;
  userId: string;
  body: ReturnRequestBody;
  /** RETURN_WINDOW_DAYS: how long after delivery a return may be asked for. */
  windowDays: number;
}

/**
 * A customer's return request, decided under the order's row lock: of two requests for the last unit of a
 * line, the second sees the first's units held and answers 409 `return_quantity_exceeded`. Each unit of a line
 * is a distinct unit (its index), and what it refunds is fixed here from what it paid (shared/returns/split.ts).
 */
export async function createReturn(trx: Trx, req: ReturnRequest): Promise<ReturnView> {
  const { body } = req;
  const order = await trx
    .selectFrom('orders')
    .select(['id', 'number', 'userId', 'status', 'currency', 'discount', 'tax'])
    .where('id', '=', req.orderId)
    .forUpdate()
    .executeTakeFirst();
  if (!order || order.userId !== req.userId) throw new NotFoundError('Order');
  const delivered = await trx
    .selectFrom('orderStatusHistory')
    .select(sql<Date | null>`max(created_at)`.as('at'))
    .where('orderId', '=', order.id)
    .where('toStatus', '=', 'delivered')
    .executeTakeFirstOrThrow();
  if (!delivered.at || !(RETURNABLE_ORDER_STATES as readonly string[]).includes(order.status)) {
    throw new ConflictError('not_returnable', `An order in status ${order.status} that was not delivered cannot be returned`);
  }
  const closes = new Date(delivered.at.getTime() + req.windowDays * 86_400_000);
  if (Date.now() > closes.getTime()) {
    throw new ConflictError('return_window_closed', `Returns for this order closed at ${closes.toISOString()}`, { closedAt: closes.toISOString() });
  }

  const lines = await trx
    .selectFrom('orderItems')
    .select(['id', 'unitPrice', 'quantity', 'productId', 'variantId'])
    .where('orderId', '=', order.id)
    .orderBy('id')
    .execute();
  const byId = new Map(lines.map((l) => [l.id, l]));
  const seen = new Set<string>();
  const problems = body.items.flatMap((item, i) => {
    if (!byId.has(item.orderItemId)) return [{ path: `/items/${i}/orderItemId`, message: 'not an item of this order' }];
    if (seen.has(item.orderItemId)) return [{ path: `/items/${i}/orderItemId`, message: 'named twice' }];
    seen.add(item.orderItemId);
    return [];
  });
  if (problems.length) throw new ValidationError('Each item must be a line of this order, named once', problems);

  const exchangeOf = new Map<string, string>();
  if (body.resolution === 'exchange') {
    const given = body.exchange ?? [];
    const exProblems: { path: string; message: string }[] = [];
    for (const [i, ex] of given.entries()) {
      if (!seen.has(ex.orderItemId)) exProblems.push({ path: `/exchange/${i}/orderItemId`, message: 'not an item of this return' });
      else if (exchangeOf.has(ex.orderItemId)) exProblems.push({ path: `/exchange/${i}/orderItemId`, message: 'named twice' });
      else exchangeOf.set(ex.orderItemId, ex.variantId);
    }
    body.items.forEach((item, i) => {
      if (!exchangeOf.has(item.orderItemId)) exProblems.push({ path: `/items/${i}/orderItemId`, message: 'needs a variant to exchange for in `exchange`' });
    });
    if (exProblems.length) throw new ValidationError('An exchange names one other variant for every line returned', exProblems);
    const variants = await trx
      .selectFrom('productVariants')
      .select(['id', 'productId', 'price'])
      .where('id', 'in', [...exchangeOf.values()])
      .execute();
    const variantById = new Map(variants.map((v) => [v.id, v]));
    given.forEach((ex, i) => {
      const line = byId.get(ex.orderItemId)!;
      const v = variantById.get(ex.variantId);
      const bad = !v
        ? 'unknown variant'
        : v.productId !== line.productId
          ? 'not a variant of the same product'
          : v.id === line.variantId
            ? 'the variant bought: choose another'
            : v.price !== line.unitPrice
              ? 'a different price: only a swap at the same price is an exchange'
              : null;
      if (bad) exProblems.push({ path: `/exchange/${i}/variantId`, message: bad });
    });
    if (exProblems.length) throw new ValidationError('An exchange is another variant of the same product at the same price', exProblems);
  } else if (body.exchange?.length) {
    throw new ValidationError('`exchange` goes with `resolution: exchange`', [{ path: '/exchange', message: 'only for an exchange' }]);
  }

  const held = await heldUnits(trx, order.id);
  const shares = unitShares(order, lines);
  const over: { orderItemId: string; requested: number; returnable: number }[] = [];
  const picked = body.items.map((item) => {
    const line = byId.get(item.orderItemId)!;
    const taken = held.get(line.id) ?? new Set<number>();
    const free = Array.from({ length: line.quantity }, (_, u) => u).filter((u) => !taken.has(u));
    if (free.length < item.quantity) over.push({ orderItemId: line.id, requested: item.quantity, returnable: free.length });
    const units = free.slice(0, item.quantity);
    return { item, units, unitRefunds: units.map((u) => shares.get(line.id)![u].paid) };
  });
  if (over.length) {
    throw new ConflictError('return_quantity_exceeded', 'More units than were bought and not already asked back', { items: over });
  }
  const estimate = picked.reduce((s, p) => s + p.unitRefunds.reduce((a, b) => a + b, 0), 0);

  const ret = await trx
    .insertInto('returns')
    .values({
      orderId: order.id,
      userId: req.userId,
      resolution: body.resolution,
      currency: order.currency,
      refundEstimate: estimate,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await trx
    .insertInto('returnItems')
    .values(
      picked.map((p) => ({
        returnId: ret.id,
        orderItemId: p.item.orderItemId,
        quantity: p.item.quantity,
        units: p.units,
        unitRefunds: p.unitRefunds,
        reason: p.item.reason,
        note: p.item.note ?? null,
        exchangeVariantId: exchangeOf.get(p.item.orderItemId) ?? null,
      })),
    )
    .execute();
  const photos = [...new Set(body.attachmentIds ?? [])];
  if (photos.length) {
    const bound = await trx
      .updateTable('returnAttachments')
      .set({ returnId: ret.id })
      .where('id', 'in', photos)
      .where('uploaderId', '=', req.userId)
      .where('returnId', 'is', null)
      .returning('id')
      .execute();
    if (bound.length !== photos.length) {
      throw new BadRequestError('validation_failed', 'Some photos are unknown, not yours, or already used', [
        { path: '/attachmentIds', message: 'must name your own uploads not yet attached' },
      ]);
    }
  }
  const units = picked.reduce((s, p) => s + p.item.quantity, 0);
  await announceRequested(trx, { id: ret.id, orderId: order.id, orderNumber: order.number, userId: req.userId }, units);
  return loadReturn(trx, ret.id);
}

/** POST /orders/:id/returns, once per Idempotency-Key when one is sent. */
export async function requestReturn(
  db: Db,
  req: ReturnRequest & { idempotencyKey?: string },
): Promise<{ view: ReturnView; replayed: boolean }> {
  const { idempotencyKey, ...rest } = req;
  if (!idempotencyKey) {
    return { view: await db.transaction().execute((trx) => createReturn(trx, rest)), replayed: false };
  }
  const result = await withIdempotency(
    db,
    { scope: 'return', owner: `user:${req.userId}`, key: idempotencyKey, request: { orderId: req.orderId, body: req.body } },
    {
      run: (claimId) =>
        db.transaction().execute(async (trx) => {
          const view = await createReturn(trx, rest);
          const answer = { status: 201, body: view };
          await saveProvisional(trx, claimId, answer);
          return answer;
        }),
    },
  );
  return { view: result.body, replayed: result.replayed };
}

export interface Reader {
  id: string;
  role: Role;
}

/** The owner's returns of an order, or any order's for `return:read`; another's order is 404. */
export async function listOrderReturns(db: DbOrTrx, reader: Reader, orderId: string): Promise<ReturnView[]> {
  const order = await db.selectFrom('orders').select(['id', 'userId']).where('id', '=', orderId).executeTakeFirst();
  if (!order || (order.userId !== reader.id && !can(reader.role, 'return:read'))) throw new NotFoundError('Order');
  const rows = await db.selectFrom('returns').select('id').where('orderId', '=', orderId).orderBy('createdAt').orderBy('id').execute();
  return loadReturns(
    db,
    rows.map((r) => r.id),
  );
}

export async function getReturn(db: DbOrTrx, reader: Reader, returnId: string): Promise<ReturnView> {
  const row = await db.selectFrom('returns').select(['id', 'userId']).where('id', '=', returnId).executeTakeFirst();
  if (!row || (row.userId !== reader.id && !can(reader.role, 'return:read'))) throw new NotFoundError('Return');
  return loadReturn(db, row.id);
}

/** The customer takes a return back while it is requested or approved; an exchange's held units go back. */
export async function cancelReturn(db: Db, userId: string, returnId: string): Promise<ReturnView> {
  return db.transaction().execute(async (trx) => {
    const owner = await trx.selectFrom('returns').select('userId').where('id', '=', returnId).executeTakeFirst();
    if (!owner || owner.userId !== userId) throw new NotFoundError('Return');
    const locked = await lockReturn(trx, returnId);
    await setStatus(trx, locked, 'cancelled');
    await releaseExchangeHold(trx, locked, 'return_cancelled');
    await announceStatus(trx, locked.subject, locked.ret.status, 'cancelled');
    return loadReturn(trx, returnId);
  });
}
