/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import { sql } from 'kysely';
import type { Db } from '../../shared/db/index.js';
import { createProduct, createUser, type Role } from '../support/fixtures.js';
import { pastOrder } from '../support/order-history.js';

type App = { signAccessToken(u: { id: string; role: Role }): string; inject: (opts: any) => Promise<any> };

export const auth = (app: App, user: { id: string; role: string }) => ({
  authorization: `Bearer ${app.signAccessToken({ id: user.id, role: user.role as Role })}`,
});

/** A customer who received the product (an order of theirs reached `delivered`). */
export async function buyer(db: Db, productId: string, name = 'Ada Obi') {
  const user = await createUser(db, { role: 'customer' });
  await db.updateTable('users').set({ name }).where('id', '=', user.id).execute();
  await pastOrder(db, { userId: user.id, email: user.email, productIds: [productId], status: 'delivered' });
  return user;
}

export async function product(db: Db, title?: string) {
  return (await createProduct(db, [{ onHand: 10 }], title ? { title } : {})).product;
}

/** The product's counters next to the published aggregate: the invariant every test ends on. */
export async function counters(db: Db, productId: string) {
  const { rows } = await sql<{
    sum: number;
    count: number;
    pubSum: number;
    pubCount: number;
    rating: number | null;
  }>`
    SELECT p.rating_sum AS sum, p.rating_count AS count, p.rating::float8 AS rating,
      (SELECT COALESCE(sum(rating), 0)::int FROM reviews WHERE product_id = p.id AND state = 'published' AND deleted_at IS NULL) AS pub_sum,
      (SELECT count(*)::int FROM reviews WHERE product_id = p.id AND state = 'published' AND deleted_at IS NULL) AS pub_count
    FROM products p WHERE p.id = ${productId}`.execute(db);
  return rows[0];
}

export async function post(
  app: App,
  user: { id: string; role: string },
  productId: string,
  body: Record<string, unknown>,
) {
  return app.inject({
    method: 'POST',
    url: `/api/v1/products/${productId}/reviews`,
    headers: auth(app, user),
    payload: body,
  });
}

export async function moderate(
  app: App,
  staff: { id: string; role: string },
  reviewId: string,
  state: string,
  version: number,
  note?: string,
) {
  return app.inject({
    method: 'PATCH',
    url: `/api/v1/admin/reviews/${reviewId}`,
    headers: auth(app, staff),
    payload: { state, version, ...(note ? { note } : {}) },
  });
}
