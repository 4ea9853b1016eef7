import { sql } from 'kysely';
import { writeAudit } from '../auth/audit.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import type { Db, DbOrTrx } from '../db/index.js';
import { BadRequestError, ConflictError, InsufficientStockError } from '../errors.js';
import { reserveLines, restockUnits } from '../inventory/index.js';
import { exchangeLines, lockReturn, releaseExchangeHold, resolve, setStatus, type Locked } from './lifecycle.js';
import { announceStatus } from './notices.js';
import { liveReturnStatuses, type ApproveReturnBody, type ReceiveReturnBody, type ReturnPage, type ReturnStatus, type ReturnView } from './schemas.js';
import { loadReturn, loadReturns } from './view.js';

/**
 * Staff's side of returns (`return:read` lists, `return:manage` decides). Every mutation writes its
 * audit row in its own transaction, with the state it found and the state it left.
 */

export async function listReturns(
  db: DbOrTrx,
  q: { status?: ReturnStatus; limit: number; cursor?: string },
): Promise<ReturnPage> {
  let query = db.selectFrom('returns').select(['id', 'createdAt']);
  if (q.status) query = query.where('status', '=', q.status);
  if (q.cursor) {
    const [at, id] = decodeCursor(q.cursor, ['timestamptz', 'uuid'] as const);
    query = query.where(sql<boolean>`(created_at, id) < (${at}::timestamptz, ${id}::uuid)`);
  }
  const rows = await query
    .orderBy('createdAt', 'desc')
    .orderBy('id', 'desc')
    .limit(q.limit + 1)
    .execute();
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    items: await loadReturns(
      db,
      page.map((r) => r.id),
    ),
    nextCursor: rows.length > q.limit && last ? encodeCursor([last.createdAt.toISOString(), last.id]) : null,
  };
}

const auditState = (ret: Locked['ret']) => ({
  status: ret.status,
  resolution: ret.resolution,
  refundShipping: ret.refundShipping,
  refundEstimate: Number(ret.refundEstimate),
});

export interface ApproveCommand {
  returnId: string;
  actorId: string;
  body: ApproveReturnBody;
  /** RETURN_SHIP_DAYS: how long the customer has to send the units back. */
  shipDays: number;
}

/**
 * Approves a requested return: the resolution may be changed, shipping added (once per order), and an
 * exchange's variants are reserved now, by the same conditional statement checkout uses (409
 * `insufficient_stock` when a checkout took them first; nothing changes then).
 */
export async function approveReturn(db: Db, cmd: ApproveCommand): Promise<ReturnView> {
  return db.transaction().execute(async (trx) => {
    const locked = await lockReturn(trx, cmd.returnId);
    const { ret, order } = locked;
    const from = ret.status;
    const resolution = cmd.body.resolution ?? ret.resolution;
    const refundShipping = cmd.body.refundShipping ?? ret.refundShipping;
    await setStatus(trx, locked, 'approved');

    let shippingRefund = 0;
    if (refundShipping && order.shipping > 0) {
      const other = await trx
        .selectFrom('returns')
        .select('id')
        .where('orderId', '=', order.id)
        .where('id', '<>', ret.id)
        .where('status', 'in', liveReturnStatuses)
        .where('shippingRefund', '>', 0)
        .executeTakeFirst();
      if (other) throw new ConflictError('shipping_already_refunded', 'Another return of this order already refunds its shipping');
      shippingRefund = order.shipping;
    }
    const units = await trx.selectFrom('returnItems').select(['unitRefunds', 'exchangeVariantId']).where('returnId', '=', ret.id).execute();
    const unitsValue = units.reduce((s, u) => s + u.unitRefunds.reduce((a: number, b: number | string) => a + Number(b), 0), 0);

    let exchangeHeld = false;
    if (resolution === 'exchange') {
      if (units.some((u) => u.exchangeVariantId === null)) {
        throw new BadRequestError('exchange_required', 'Every line of an exchange needs the variant it is swapped for (asked with the request)');
      }
      const lines = await exchangeLines(trx, ret.id);
      const short = await reserveLines(trx, order.id, lines);
      if (short.length) throw new InsufficientStockError(short);
      exchangeHeld = true;
    }
    const refundEstimate = resolution === 'exchange' ? unitsValue : unitsValue + shippingRefund;
    await trx
      .updateTable('returns')
      .set({
        resolution,
        refundShipping: resolution !== 'exchange' && refundShipping,
        shippingRefund: resolution === 'exchange' ? 0 : shippingRefund,
        refundEstimate,
        exchangeHeld,
        approvedBy: cmd.actorId,
        expiresAt: sql<Date>`now() + make_interval(days => ${cmd.shipDays})`,
      })
      .where('id', '=', ret.id)
      .execute();
    await writeAudit(trx, {
      actorId: cmd.actorId,
      action: 'return.approved',
      targetType: 'return',
      targetId: ret.id,
      before: auditState(ret),
      after: { status: 'approved', resolution, refundShipping, refundEstimate },
    });
    await announceStatus(trx, locked.subject, from, 'approved');
    return loadReturn(trx, ret.id);
  });
}

export async function rejectReturn(db: Db, cmd: { returnId: string; actorId: string; note: string }): Promise<ReturnView> {
  return db.transaction().execute(async (trx) => {
    const locked = await lockReturn(trx, cmd.returnId);
    await setStatus(trx, locked, 'rejected', { note: cmd.note });
    await writeAudit(trx, {
      actorId: cmd.actorId,
      action: 'return.rejected',
      targetType: 'return',
      targetId: cmd.returnId,
      before: auditState(locked.ret),
      after: { status: 'rejected', note: cmd.note },
    });
    await announceStatus(trx, locked.subject, locked.ret.status, 'rejected', { body: `Your return for order ${locked.order.number} was not approved: ${cmd.note}` });
    return loadReturn(trx, cmd.returnId);
  });
}

/**
 * Receiving: every unit of the return is counted as resellable or damaged; resellable units go back on the
 * shelf through the inventory's restock (each unit at most once, `restocked_quantity`), then the resolution
 * runs. All in one transaction, decided by the transition approved → received under the locks: a second
 * receive answers 409 `invalid_transition` and restocks and refunds nothing.
 */
export async function receiveReturn(db: Db, cmd: { returnId: string; actorId: string; body: ReceiveReturnBody }): Promise<ReturnView> {
  return db.transaction().execute(async (trx) => {
    const locked = await lockReturn(trx, cmd.returnId);
    const { ret, order } = locked;
    await setStatus(trx, locked, 'received', { receivedBy: cmd.actorId });
    const lines = await trx.selectFrom('returnItems').select(['id', 'orderItemId', 'quantity']).where('returnId', '=', ret.id).execute();
    const counted = new Map<string, { resellable: number; damaged: number }>();
    const problems: { path: string; message: string }[] = [];
    cmd.body.items.forEach((item, i) => {
      if (!lines.some((l) => l.orderItemId === item.orderItemId)) {
        problems.push({ path: `/items/${i}/orderItemId`, message: 'not a line of this return' });
        return;
      }
      const c = counted.get(item.orderItemId) ?? { resellable: 0, damaged: 0 };
      c[item.condition] += item.quantity;
      counted.set(item.orderItemId, c);
    });
    for (const l of lines) {
      const c = counted.get(l.orderItemId);
      const total = c ? c.resellable + c.damaged : 0;
      if (total !== l.quantity) problems.push({ path: '/items', message: `line ${l.orderItemId}: ${total} units counted, the return has ${l.quantity}` });
    }
    if (problems.length) throw new BadRequestError('validation_failed', 'Count every unit of the return once, as resellable or damaged', problems);

    for (const l of lines) {
      const c = counted.get(l.orderItemId)!;
      await trx.updateTable('returnItems').set({ resellableQuantity: c.resellable, damagedQuantity: c.damaged }).where('id', '=', l.id).execute();
    }
    const back = lines.map((l) => ({ orderItemId: l.orderItemId, quantity: counted.get(l.orderItemId)!.resellable })).filter((l) => l.quantity > 0);
    const restocked = back.length ? await restockUnits(trx, order.id, back, cmd.actorId) : [];
    await writeAudit(trx, {
      actorId: cmd.actorId,
      action: 'return.received',
      targetType: 'return',
      targetId: ret.id,
      before: auditState(ret),
      after: {
        status: 'received',
        items: cmd.body.items,
        restocked: restocked.map((r) => ({ orderItemId: r.orderItemId, quantity: r.quantity })),
      },
    });
    await announceStatus(trx, locked.subject, ret.status, 'received');
    await resolve(trx, { ...locked, ret: { ...ret, status: 'received' } }, cmd.actorId);
    return loadReturn(trx, ret.id);
  });
}

/**
 * Staff retry a resolution that failed (Paystack refused the refund, or nothing was left to refund when it
 * ran): the next attempt, keyed (return, attempt). Only from `received` with the last attempt failed.
 */
export async function retryReturnRefund(db: Db, cmd: { returnId: string; actorId: string }): Promise<ReturnView> {
  return db.transaction().execute(async (trx) => {
    const locked = await lockReturn(trx, cmd.returnId);
    const { ret } = locked;
    let failed = ret.refundStatus === 'failed';
    if (ret.refundId) {
      const refund = await trx.selectFrom('refunds').select('status').where('id', '=', ret.refundId).executeTakeFirstOrThrow();
      failed = refund.status === 'failed';
    }
    if (ret.status !== 'received' || !failed) {
      throw new ConflictError('refund_not_failed', 'Only a received return whose refund failed can be retried', { returnStatus: ret.status });
    }
    await writeAudit(trx, {
      actorId: cmd.actorId,
      action: 'return.refund_retried',
      targetType: 'return',
      targetId: ret.id,
      before: { ...auditState(ret), refundId: ret.refundId, attempt: ret.refundAttempts },
      after: { attempt: ret.refundAttempts + 1 },
    });
    await resolve(trx, locked, cmd.actorId);
    return loadReturn(trx, ret.id);
  });
}

/** Approved returns past their date: expired, exchange holds released (the hourly `returns.expire`). */
export async function expireReturns(db: Db, batch = 100): Promise<number> {
  const due = await db
    .selectFrom('returns')
    .select('id')
    .where('status', '=', 'approved')
    .where('expiresAt', '<', sql<Date>`now()`)
    .orderBy('expiresAt')
    .limit(batch)
    .execute();
  let expired = 0;
  for (const { id } of due) {
    const done = await db.transaction().execute(async (trx) => {
      const locked = await lockReturn(trx, id);
      const { ret } = locked;
      // Received or cancelled meanwhile, or its date moved: nothing to do.
      if (ret.status !== 'approved' || !ret.expiresAt || ret.expiresAt.getTime() > Date.now()) return false;
      await setStatus(trx, locked, 'expired');
      await releaseExchangeHold(trx, locked, 'return_expired');
      await announceStatus(trx, locked.subject, 'approved', 'expired');
      return true;
    });
    if (done) expired++;
  }
  return expired;
}

/**
 * A refund made for a return settled (the `refund.return-settled` job, enqueued by the settlement): the
 * return completes when it was processed; a failure stays `received` with `refundStatus: failed` for a retry.
 * Only the return's current attempt counts; a replay changes nothing.
 */
export async function returnRefundSettled(db: Db, refundId: string, returnId: string): Promise<'completed' | 'failed' | 'ignored'> {
  return db.transaction().execute(async (trx) => {
    const locked = await lockReturn(trx, returnId);
    const { ret, order, subject } = locked;
    if (ret.refundId !== refundId || ret.status !== 'received') return 'ignored';
    const refund = await trx.selectFrom('refunds').select(['status', 'failureReason']).where('id', '=', refundId).executeTakeFirstOrThrow();
    if (refund.status === 'processed') {
      await setStatus(trx, locked, 'completed', { refundStatus: 'processed' });
      await announceStatus(trx, subject, 'received', 'completed', { body: `The refund for your return of order ${order.number} is on its way back to you.` });
      return 'completed';
    }
    if (refund.status === 'failed' && ret.refundStatus !== 'failed') {
      await trx
        .updateTable('returns')
        .set({ refundStatus: 'failed', refundFailureReason: refund.failureReason, updatedAt: sql`now()` })
        .where('id', '=', ret.id)
        .execute();
      await announceStatus(trx, subject, 'received', 'received', {
        key: `return.refund_failed:${ret.id}:${ret.refundAttempts}`,
        body: `We received your items, but the refund for order ${order.number} is delayed. Our team is on it.`,
        data: { refundStatus: 'failed' },
      });
      return 'failed';
    }
    return 'ignored';
  });
}
