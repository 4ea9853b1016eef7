import { sql } from 'kysely';
import { writeAudit } from '../auth/audit.js';
import type { Db, DbOrTrx, Trx } from '../db/index.js';
import { ConflictError, DomainError, isUniqueViolation, NotFoundError, ValidationError } from '../errors.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import type { CouponKind, PricingCoupon } from '../pricing/index.js';
import type { CouponInput, CouponRejection } from './schemas.js';

/**
 * Coupons: percent / fixed / free_shipping, case-insensitive codes (citext), a validity window, a minimum
 * subtotal, a global redemption cap and a per-customer limit (by user, or by email for guests).
 * Redemptions are counted inside the checkout transaction with one conditional UPDATE on the coupon row
 * (checkout_place, migrations/2026121000_checkout_functions.ts: it checks the cap, the window and the
 * minimum and takes the row lock, so with 5 left exactly 5 succeed; the per-customer count is read after
 * the lock), so the cap holds under any concurrency; a cancelled or expired order gives its redemption
 * back (releaseCouponRedemption).
 */

export type { CouponRejection } from './schemas.js';

const messages: Record<CouponRejection, string> = {
  expired: 'This coupon has expired',
  not_started: 'This coupon is not valid yet',
  minimum_not_met: 'The cart does not reach this coupon’s minimum subtotal',
  used_up: 'This coupon has been used up',
  not_found: 'There is no such coupon',
};

export class InvalidCouponError extends DomainError {
  constructor(
    readonly reason: CouponRejection,
    message = messages[reason],
  ) {
    super(400, 'invalid_coupon', message, { reason });
  }
}

export const couponMessage = (reason: CouponRejection) => messages[reason];

export interface CouponRow {
  id: string;
  code: string;
  kind: CouponKind;
  value: number;
  minSubtotal: number | null;
  startsAt: Date | null;
  endsAt: Date | null;
  maxRedemptions: number | null;
  redemptionsCount: number;
  perCustomerLimit: number | null;
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export const asPricingCoupon = (c: Pick<CouponRow, 'kind' | 'value'>): PricingCoupon => ({ kind: c.kind, value: c.value });

/** Pure: why a coupon does not apply to a subtotal at a time, or null when it does (the per-customer limit is separate). */
export function couponRejection(c: CouponRow, subtotal: number, now: Date): CouponRejection | null {
  if (!c.active) return 'not_found';
  if (c.startsAt && c.startsAt.getTime() > now.getTime()) return 'not_started';
  if (c.endsAt && c.endsAt.getTime() <= now.getTime()) return 'expired';
  if (c.maxRedemptions !== null && c.redemptionsCount >= c.maxRedemptions) return 'used_up';
  if (c.minSubtotal !== null && subtotal < c.minSubtotal) return 'minimum_not_met';
  return null;
}

export interface Customer {
  userId: string | null;
  email: string | null;
}

/** Redemptions this customer holds on the coupon (not released): by user id, or by email. */
export async function customerRedemptions(db: DbOrTrx, couponId: string, who: Customer): Promise<number> {
  if (!who.userId && !who.email) return 0;
  const row = await db
    .selectFrom('couponRedemptions')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('couponId', '=', couponId)
    .where('releasedAt', 'is', null)
    .where((eb) => {
      const ors = [];
      if (who.userId) ors.push(eb('userId', '=', who.userId));
      if (who.email) ors.push(eb(sql`email`, '=', sql`${who.email}::citext`));
      return eb.or(ors);
    })
    .executeTakeFirstOrThrow();
  return row.n;
}

const couponColumns = [
  'id',
  'code',
  'kind',
  'value',
  'minSubtotal',
  'startsAt',
  'endsAt',
  'maxRedemptions',
  'redemptionsCount',
  'perCustomerLimit',
  'active',
  'createdAt',
  'updatedAt',
] as const;

async function findCouponByCode(db: DbOrTrx, code: string): Promise<CouponRow | undefined> {
  return db.selectFrom('coupons').select(couponColumns).where(sql`code`, '=', sql`${code.trim()}::citext`).executeTakeFirst();
}

export async function findCoupon(db: DbOrTrx, id: string): Promise<CouponRow | undefined> {
  return db.selectFrom('coupons').select(couponColumns).where('id', '=', id).executeTakeFirst();
}

/** For POST /cart/coupon: the coupon if it applies now to this subtotal and customer, else InvalidCouponError. */
export async function checkCoupon(db: DbOrTrx, code: string, subtotal: number, who: Customer, now = new Date()): Promise<CouponRow> {
  const coupon = await findCouponByCode(db, code);
  if (!coupon) throw new InvalidCouponError('not_found');
  const rejection = couponRejection(coupon, subtotal, now);
  if (rejection) throw new InvalidCouponError(rejection);
  if (coupon.perCustomerLimit !== null && (await customerRedemptions(db, coupon.id, who)) >= coupon.perCustomerLimit) {
    throw new InvalidCouponError('used_up', 'You have already used this coupon as often as allowed');
  }
  return coupon;
}

/** A cancelled or expired order gives its redemption back. Idempotent (released_at). */
export async function releaseCouponRedemption(trx: Trx, orderId: string): Promise<boolean> {
  const released = await trx
    .updateTable('couponRedemptions')
    .set({ releasedAt: sql`now()` })
    .where('orderId', '=', orderId)
    .where('releasedAt', 'is', null)
    .returning('couponId')
    .executeTakeFirst();
  if (!released) return false;
  await trx
    .updateTable('coupons')
    .set({ redemptionsCount: sql`greatest(redemptions_count - 1, 0)` })
    .where('id', '=', released.couponId)
    .execute();
  return true;
}

// ---- Staff CRUD ----

export type { CouponInput } from './schemas.js';

function validateCoupon(c: Partial<CouponInput>, merged: { kind: string; value: number; startsAt: Date | null; endsAt: Date | null }) {
  const errors = [];
  if (merged.kind === 'percent' && (merged.value < 1 || merged.value > 100)) errors.push({ path: '/value', message: 'a percent coupon takes 1–100' });
  if (merged.kind === 'fixed' && merged.value < 1) errors.push({ path: '/value', message: 'a fixed coupon takes a positive amount of minor units' });
  if (merged.startsAt && merged.endsAt && merged.endsAt <= merged.startsAt) errors.push({ path: '/endsAt', message: 'must be after startsAt' });
  if (errors.length) throw new ValidationError('The coupon is invalid', errors);
  void c;
}

const toDate = (v: string | null | undefined) => (v === undefined ? undefined : v === null ? null : new Date(v));

export async function createCoupon(db: Db, input: CouponInput, actorId: string | null = null): Promise<CouponRow> {
  const value = input.kind === 'free_shipping' ? 0 : input.value;
  validateCoupon(input, { kind: input.kind, value, startsAt: toDate(input.startsAt) ?? null, endsAt: toDate(input.endsAt) ?? null });
  try {
    return await db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('coupons')
        .values({
          code: input.code.trim(),
          kind: input.kind,
          value,
          minSubtotal: input.minSubtotal ?? null,
          startsAt: toDate(input.startsAt) ?? null,
          endsAt: toDate(input.endsAt) ?? null,
          maxRedemptions: input.maxRedemptions ?? null,
          perCustomerLimit: input.perCustomerLimit ?? null,
          active: input.active ?? true,
        })
        .returning(couponColumns)
        .executeTakeFirstOrThrow();
      await writeAudit(trx, { actorId, action: 'coupon.created', targetType: 'coupon', targetId: row.id, after: row });
      return row;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError('code_taken', `A coupon with the code ${input.code} exists`);
    throw err;
  }
}

export async function updateCoupon(db: Db, id: string, patch: Partial<CouponInput>, actorId: string | null = null): Promise<CouponRow> {
  return db.transaction().execute(async (trx) => {
    const current = await trx.selectFrom('coupons').select(couponColumns).where('id', '=', id).forUpdate().executeTakeFirst();
    if (!current) throw new NotFoundError('Coupon');
    const kind = patch.kind ?? current.kind;
    const value = kind === 'free_shipping' ? 0 : (patch.value ?? current.value);
    const startsAt = patch.startsAt === undefined ? current.startsAt : toDate(patch.startsAt)!;
    const endsAt = patch.endsAt === undefined ? current.endsAt : toDate(patch.endsAt)!;
    validateCoupon(patch, { kind, value, startsAt, endsAt });
    if (patch.maxRedemptions !== undefined && patch.maxRedemptions !== null && patch.maxRedemptions < current.redemptionsCount) {
      throw new ValidationError('The coupon is invalid', [
        { path: '/maxRedemptions', message: `already redeemed ${current.redemptionsCount} times` },
      ]);
    }
    try {
      const row = await trx
        .updateTable('coupons')
        .set({
          ...(patch.code !== undefined ? { code: patch.code.trim() } : {}),
          kind,
          value,
          startsAt,
          endsAt,
          ...(patch.minSubtotal !== undefined ? { minSubtotal: patch.minSubtotal } : {}),
          ...(patch.maxRedemptions !== undefined ? { maxRedemptions: patch.maxRedemptions } : {}),
          ...(patch.perCustomerLimit !== undefined ? { perCustomerLimit: patch.perCustomerLimit } : {}),
          ...(patch.active !== undefined ? { active: patch.active } : {}),
        })
        .where('id', '=', id)
        .returning(couponColumns)
        .executeTakeFirstOrThrow();
      await writeAudit(trx, { actorId, action: 'coupon.updated', targetType: 'coupon', targetId: id, before: current, after: row });
      return row;
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError('code_taken', `A coupon with the code ${patch.code} exists`);
      throw err;
    }
  });
}

/** A coupon that was ever redeemed is deactivated (orders keep pointing at it); an unused one is deleted. */
export async function deleteCoupon(db: Db, id: string, actorId: string | null = null): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const current = await trx.selectFrom('coupons').select(couponColumns).where('id', '=', id).forUpdate().executeTakeFirst();
    if (!current) throw new NotFoundError('Coupon');
    const used = await trx.selectFrom('couponRedemptions').select('id').where('couponId', '=', id).executeTakeFirst();
    if (used) await trx.updateTable('coupons').set({ active: false }).where('id', '=', id).execute();
    else await trx.deleteFrom('coupons').where('id', '=', id).execute();
    // Redeemed coupons are only switched off: the row says which of the two happened.
    const action = used ? 'coupon.deactivated' : 'coupon.deleted';
    await writeAudit(trx, { actorId, action, targetType: 'coupon', targetId: id, before: current, after: used ? { active: false } : undefined });
  });
}

export async function listCoupons(db: DbOrTrx, q: { limit: number; cursor?: string; q?: string }) {
  let query = db.selectFrom('coupons').select(couponColumns).orderBy(sql`lower(code)`).limit(q.limit + 1);
  if (q.cursor) query = query.where(sql<boolean>`lower(code) > ${decodeCursor(q.cursor, ['text'])[0]}`);
  if (q.q) query = query.where(sql<boolean>`code ILIKE ${`%${q.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`}`);
  const rows = await query.execute();
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return { items: page, nextCursor: rows.length > q.limit && last ? encodeCursor([last.code.toLowerCase()]) : null };
}
