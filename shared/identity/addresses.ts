import { sql, type Selectable } from 'kysely';
import type { Db, DbOrTrx, Trx } from '../db/index.js';
import type { UserAddresses } from '../db/types.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { ShippingAddress } from '../orders/read.js';
import { assertPhone } from '../phone.js';
import { ADDRESS_BOOK_LIMIT, type AddressInput, type AddressPatch, type SavedAddress } from './schemas.js';

/**
 * The address book: at most ADDRESS_BOOK_LIMIT addresses, exactly one default while there are any
 * (a partial unique index holds "at most one"). Every change runs in one transaction holding the owner's
 * user row (FOR NO KEY UPDATE: other writers of the same book wait, nothing else does), so the count and
 * the default are decided one change at a time.
 */

const iso = (d: Date | string) => new Date(d).toISOString();

function view(a: Selectable<UserAddresses>): SavedAddress {
  return {
    id: a.id,
    label: a.label,
    name: a.name,
    line1: a.line1,
    line2: a.line2,
    city: a.city,
    state: a.state,
    country: a.country,
    postalCode: a.postalCode,
    phone: a.phone,
    isDefault: a.isDefault,
    createdAt: iso(a.createdAt),
    updatedAt: iso(a.updatedAt),
  };
}

const blankToNull = (v: string | null | undefined) =>
  v === undefined ? undefined : v === null || v.trim() === '' ? null : v.trim();

async function lockBook(trx: Trx, userId: string) {
  const user = await trx
    .selectFrom('users')
    .select('id')
    .where('id', '=', userId)
    .forNoKeyUpdate()
    .executeTakeFirst();
  if (!user) throw new NotFoundError('User');
}

export async function listAddresses(
  db: DbOrTrx,
  userId: string,
): Promise<{ items: SavedAddress[]; nextCursor: null }> {
  const rows = await db
    .selectFrom('userAddresses')
    .selectAll()
    .where('userId', '=', userId)
    .orderBy('isDefault', 'desc')
    .orderBy('createdAt')
    .orderBy('id')
    .execute();
  return { items: rows.map(view), nextCursor: null };
}

export async function createAddress(db: Db, userId: string, input: AddressInput): Promise<SavedAddress> {
  const phone = assertPhone(input.phone, '/phone');
  return db.transaction().execute(async (trx) => {
    await lockBook(trx, userId);
    const { n } = await trx
      .selectFrom('userAddresses')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('userId', '=', userId)
      .executeTakeFirstOrThrow();
    if (n >= ADDRESS_BOOK_LIMIT) {
      throw new ConflictError(
        'address_book_full',
        `The address book holds at most ${ADDRESS_BOOK_LIMIT} addresses; remove one first`,
      );
    }
    const isDefault = n === 0 || input.isDefault === true;
    if (isDefault)
      await trx
        .updateTable('userAddresses')
        .set({ isDefault: false })
        .where('userId', '=', userId)
        .where('isDefault', '=', true)
        .execute();
    const row = await trx
      .insertInto('userAddresses')
      .values({
        userId,
        label: blankToNull(input.label) ?? null,
        name: input.name.trim(),
        line1: input.line1.trim(),
        line2: blankToNull(input.line2) ?? null,
        city: input.city.trim(),
        state: input.state.trim(),
        country: input.country,
        postalCode: blankToNull(input.postalCode) ?? null,
        phone,
        isDefault,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return view(row);
  });
}

export async function updateAddress(
  db: Db,
  userId: string,
  id: string,
  patch: AddressPatch,
): Promise<SavedAddress> {
  const phone = patch.phone === undefined ? undefined : assertPhone(patch.phone, '/phone');
  return db.transaction().execute(async (trx) => {
    await lockBook(trx, userId);
    const current = await trx
      .selectFrom('userAddresses')
      .select(['id', 'isDefault'])
      .where('id', '=', id)
      .where('userId', '=', userId)
      .executeTakeFirst();
    if (!current) throw new NotFoundError('Address');
    if (patch.isDefault === false && current.isDefault) {
      throw new ValidationError(
        'The default address stays the default until another one is made the default',
        [{ path: '/isDefault', message: 'make another address the default instead' }],
      );
    }
    if (patch.isDefault === true && !current.isDefault) {
      await trx
        .updateTable('userAddresses')
        .set({ isDefault: false })
        .where('userId', '=', userId)
        .where('isDefault', '=', true)
        .execute();
    }
    const row = await trx
      .updateTable('userAddresses')
      .set({
        ...(patch.label !== undefined ? { label: blankToNull(patch.label) ?? null } : {}),
        ...(patch.name !== undefined ? { name: patch.name.trim() } : {}),
        ...(patch.line1 !== undefined ? { line1: patch.line1.trim() } : {}),
        ...(patch.line2 !== undefined ? { line2: blankToNull(patch.line2) ?? null } : {}),
        ...(patch.city !== undefined ? { city: patch.city.trim() } : {}),
        ...(patch.state !== undefined ? { state: patch.state.trim() } : {}),
        ...(patch.country !== undefined ? { country: patch.country } : {}),
        ...(patch.postalCode !== undefined ? { postalCode: blankToNull(patch.postalCode) ?? null } : {}),
        ...(phone !== undefined ? { phone } : {}),
        ...(patch.isDefault === true ? { isDefault: true } : {}),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return view(row);
  });
}

/** Removes an address; when it was the default, the most recently changed other one becomes the default. */
export async function deleteAddress(db: Db, userId: string, id: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await lockBook(trx, userId);
    const gone = await trx
      .deleteFrom('userAddresses')
      .where('id', '=', id)
      .where('userId', '=', userId)
      .returning('isDefault')
      .executeTakeFirst();
    if (!gone) throw new NotFoundError('Address');
    if (gone.isDefault) {
      await sql`UPDATE user_addresses SET is_default = true WHERE id = (
        SELECT id FROM user_addresses WHERE user_id = ${userId} ORDER BY updated_at DESC, id DESC LIMIT 1)`.execute(
        trx,
      );
    }
  });
}

/** A saved address as an order's shipping address (checkout by `shippingAddressId`); another user's is 404. */
export async function shippingAddressFromBook(
  db: DbOrTrx,
  userId: string | null | undefined,
  id: string,
): Promise<ShippingAddress> {
  const row = userId
    ? await db
        .selectFrom('userAddresses')
        .selectAll()
        .where('id', '=', id)
        .where('userId', '=', userId)
        .executeTakeFirst()
    : undefined;
  if (!row) throw new NotFoundError('Address');
  return {
    name: row.name,
    phone: row.phone,
    line1: row.line1,
    ...(row.line2 ? { line2: row.line2 } : {}),
    city: row.city,
    state: row.state,
    ...(row.postalCode ? { postalCode: row.postalCode } : {}),
    country: row.country,
  };
}
