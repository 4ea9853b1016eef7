/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../shared/db/index.js';
import { makeImage } from '../catalog/helpers.js';
import { address, createCoupon, createProduct, createShipping, createUser } from '../support/fixtures.js';
import { tokenFor, type buildTestApp } from '../support/harness.js';
import { multipartBody } from '../support/multipart.js';
import { signedIn } from '../support/support-fixtures.js';
import { buyer, post as postReview } from '../reviews/helpers.js';
import { paidOrder } from './helpers.js';

/**
 * One valid request for every staff mutation in the OpenAPI document (an operation with `x-permission`
 * and a POST/PUT/PATCH/DELETE method), and the audit action it must write. audit-walk.test.ts walks the
 * document: a staff route missing here fails that test, so no new staff route can skip its audit row.
 *
 * To add a route: one entry keyed `'<METHOD> <path as in /docs/json>'`, e.g.
 *   'POST /api/v1/admin/returns/{id}/approve': {
 *     action: 'return.approved',
 *     request: async ({ db, app, admin }) => ({ url: `/api/v1/admin/returns/${(await someReturn(db)).id}/approve`, payload: {} }),
 *   },
 * The request is sent as the admin (`ctx.admin`, every permission) with a fresh `x-request-id`; the test
 * expects a 2xx answer and exactly one audit row with that request id, that action and the admin as actor
 * (plus one per action in `also`, when the use case starts another audited one).
 * Setup may use the API too (its rows carry other request ids). `method` is taken from the key.
 * A staff route that changes nothing worth auditing gets `{ notAudited: 'the reason' }` instead.
 */

type App = Awaited<ReturnType<typeof buildTestApp>>;

export interface AuditContext {
  app: App;
  db: Db;
  /** The caller of every audited request: an admin user with a row in `users`. */
  admin: { id: string; email: string; headers: { authorization: string } };
}

export interface AuditRequest {
  url: string;
  payload?: unknown;
  headers?: Record<string, string>;
}

export type AuditCase =
  | { action: string; also?: string[]; request: (ctx: AuditContext) => Promise<AuditRequest> }
  | { notAudited: string };

/** Calls the API as the admin during setup (rows it audits carry another request id). */
async function setup(ctx: AuditContext, method: string, url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<any> {
  const res = await ctx.app.inject({
    method: method as 'POST',
    url: `/api/v1${url}`,
    headers: { ...ctx.admin.headers, ...headers },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  if (res.statusCode >= 300) throw new Error(`setup ${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.body ? res.json() : null;
}

const sku = () => `AUD-${randomUUID().slice(0, 8)}`;
const oneProduct = async (db: Db) => (await createProduct(db, [{ sku: sku(), price: 10_000, onHand: 5 }])).product;
const oneVariant = async (db: Db) => (await createProduct(db, [{ sku: sku(), price: 10_000, onHand: 5 }])).variants[0];

async function image(ctx: AuditContext, productId: string) {
  const png = multipartBody(await makeImage('png'), 'a.png', 'image/png', { alt: 'front' });
  const res = await ctx.app.inject({
    method: 'POST',
    url: `/api/v1/products/${productId}/images`,
    headers: { ...ctx.admin.headers, ...png.headers },
    payload: png.payload,
  });
  if (res.statusCode !== 201) throw new Error(`setup image: ${res.statusCode} ${res.body}`);
  return res.json<{ id: string }>();
}

/**
 * A return of one unit of a delivered order, asked by its customer through the API and, as the admin,
 * taken to `stage`.
 */
async function aReturn(ctx: AuditContext, stage: 'requested' | 'approved' | 'received', resolution: 'refund' | 'store_credit' = 'store_credit') {
  const customer = await createUser(ctx.db, { role: 'customer' });
  const { orderId } = await paidOrder(ctx.db, new Date().toISOString(), { userId: customer.id, email: customer.email });
  await ctx.db.updateTable('orders').set({ status: 'delivered' }).where('id', '=', orderId).execute();
  await ctx.db
    .insertInto('orderStatusHistory')
    .values((['processing', 'shipped', 'delivered'] as const).map((toStatus, i) => ({ orderId, fromStatus: (['paid', 'processing', 'shipped'] as const)[i], toStatus })))
    .execute();
  const item = await ctx.db.selectFrom('orderItems').select('id').where('orderId', '=', orderId).executeTakeFirstOrThrow();
  const asked = await ctx.app.inject({
    method: 'POST',
    url: `/api/v1/orders/${orderId}/returns`,
    headers: { authorization: tokenFor(ctx.app, 'customer', customer.id) },
    payload: { items: [{ orderItemId: item.id, quantity: 1, reason: 'wrong_size' }], resolution },
  });
  if (asked.statusCode !== 201) throw new Error(`setup return: ${asked.statusCode} ${asked.body}`);
  const ret = asked.json<{ id: string }>();
  if (stage !== 'requested') await setup(ctx, 'POST', `/admin/returns/${ret.id}/approve`, {});
  if (stage === 'received') {
    await setup(ctx, 'POST', `/admin/returns/${ret.id}/receive`, { items: [{ orderItemId: item.id, quantity: 1, condition: 'damaged' }] });
  }
  return { id: ret.id, orderItemId: item.id };
}

/** A customer's open conversation. */
async function conversation(ctx: AuditContext) {
  const customer = await signedIn(ctx.db, ctx.app, 'customer');
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/support/conversations',
    headers: customer.auth,
    payload: { subject: 'Where is my order?', body: 'It is late.' },
  });
  if (res.statusCode !== 201) throw new Error(`setup conversation: ${res.statusCode} ${res.body}`);
  return res.json<{ id: string }>();
}

/** A reply drafted (and optionally submitted) by a support agent: the admin approves someone else's. */
async function agentReply(ctx: AuditContext, submit: boolean) {
  const conv = await conversation(ctx);
  const agent = await signedIn(ctx.db, ctx.app, 'support');
  const call = async (url: string, payload?: unknown) => {
    const res = await ctx.app.inject({ method: 'POST', url: `/api/v1${url}`, headers: agent.auth, ...(payload ? { payload: payload } : {}) });
    if (res.statusCode >= 300) throw new Error(`setup ${url}: ${res.statusCode} ${res.body}`);
    return res.json<{ id: string; version: number }>();
  };
  // The agent drafts in the conversation: assign it to them first so they see it.
  await setup(ctx, 'PATCH', `/admin/support/conversations/${conv.id}`, { assigneeId: agent.id });
  const reply = await call(`/admin/support/conversations/${conv.id}/replies`, { body: 'Dear customer, it ships today.' });
  if (submit) await call(`/admin/support/replies/${reply.id}/submit`);
  return reply;
}

async function pendingReview(ctx: AuditContext) {
  const product = await oneProduct(ctx.db);
  const author = await buyer(ctx.db, product.id);
  const res = await postReview(ctx.app, author, product.id, { rating: 4, title: 'Good', body: 'Fits well and arrived on time.' });
  if (res.statusCode !== 201) throw new Error(`setup review: ${res.statusCode} ${res.body}`);
  return res.json() as { id: string; version: number };
}

export const auditRoutes: Record<string, AuditCase> = {
  // Catalog
  'POST /api/v1/products': {
    action: 'product.created',
    request: async () => ({ url: '/api/v1/products', payload: { title: `Audited ${sku()}`, variants: [{ sku: sku(), price: 5_000 }] } }),
  },
  'PATCH /api/v1/products/{id}': {
    action: 'product.updated',
    request: async ({ db }) => ({ url: `/api/v1/products/${(await oneProduct(db)).id}`, payload: { title: 'Renamed' } }),
  },
  'DELETE /api/v1/products/{id}': {
    action: 'product.archived',
    request: async ({ db }) => ({ url: `/api/v1/products/${(await oneProduct(db)).id}` }),
  },
  'POST /api/v1/products/{id}/variants': {
    action: 'variant.created',
    request: async ({ db }) => ({ url: `/api/v1/products/${(await oneProduct(db)).id}/variants`, payload: { sku: sku(), price: 7_000 } }),
  },
  'PATCH /api/v1/variants/{id}': {
    action: 'variant.price_changed',
    request: async ({ db }) => ({ url: `/api/v1/variants/${(await oneVariant(db)).id}`, payload: { price: 12_345 } }),
  },
  'POST /api/v1/categories': {
    action: 'category.created',
    request: async () => ({ url: '/api/v1/categories', payload: { name: `Shoes ${sku()}` } }),
  },
  'PATCH /api/v1/categories/{id}': {
    action: 'category.updated',
    request: async (ctx) => {
      const category = await setup(ctx, 'POST', '/categories', { name: `Bags ${sku()}` });
      return { url: `/api/v1/categories/${category.id}`, payload: { description: 'Leather bags' } };
    },
  },
  'DELETE /api/v1/categories/{id}': {
    action: 'category.deleted',
    request: async (ctx) => {
      const category = await setup(ctx, 'POST', '/categories', { name: `Hats ${sku()}` });
      return { url: `/api/v1/categories/${category.id}` };
    },
  },
  'POST /api/v1/products/{id}/images': {
    action: 'image.added',
    request: async ({ db }) => {
      const png = multipartBody(await makeImage('png'), 'a.png', 'image/png', { alt: 'side' });
      return { url: `/api/v1/products/${(await oneProduct(db)).id}/images`, payload: png.payload, headers: png.headers };
    },
  },
  'PATCH /api/v1/products/{id}/images/{imageId}': {
    action: 'image.updated',
    request: async (ctx) => {
      const product = await oneProduct(ctx.db);
      const img = await image(ctx, product.id);
      return { url: `/api/v1/products/${product.id}/images/${img.id}`, payload: { alt: 'back' } };
    },
  },
  'DELETE /api/v1/products/{id}/images/{imageId}': {
    action: 'image.deleted',
    request: async (ctx) => {
      const product = await oneProduct(ctx.db);
      const img = await image(ctx, product.id);
      return { url: `/api/v1/products/${product.id}/images/${img.id}` };
    },
  },
  'POST /api/v1/media/signature': { notAudited: 'signs a browser upload; nothing is stored until the image is attached (image.added)' },
  'POST /api/v1/admin/imports': {
    action: 'import.queued',
    request: async () => {
      const csv = Buffer.from('Handle,Title,Variant SKU,Variant Price\naudited-tee,Audited Tee,AUD-TEE-1,25.00\n');
      const body = multipartBody(csv, 'products.csv', 'text/csv');
      return { url: '/api/v1/admin/imports', payload: body.payload, headers: body.headers };
    },
  },
  'POST /api/v1/admin/recommendations/rebuild': {
    action: 'recommendations.rebuild_requested',
    request: async () => ({ url: '/api/v1/admin/recommendations/rebuild' }),
  },

  // Stock
  'PATCH /api/v1/inventory/{variantId}': {
    action: 'stock.adjusted',
    request: async ({ db }) => ({ url: `/api/v1/inventory/${(await oneVariant(db)).id}`, payload: { delta: 3, reason: 'received' } }),
  },
  'POST /api/v1/inventory/bulk-adjust': {
    action: 'stock.bulk_adjusted',
    request: async ({ db }) => {
      const [a, b] = [await oneVariant(db), await oneVariant(db)];
      return { url: '/api/v1/inventory/bulk-adjust', payload: { items: [{ sku: a.sku, delta: 2 }, { sku: b.sku, delta: -1 }], reason: 'recount' } };
    },
  },

  // Coupons and shipping
  'POST /api/v1/coupons': {
    action: 'coupon.created',
    request: async () => ({ url: '/api/v1/coupons', payload: { code: `SAVE${randomUUID().slice(0, 6)}`, kind: 'percent', value: 10 } }),
  },
  'PATCH /api/v1/coupons/{id}': {
    action: 'coupon.updated',
    request: async ({ db }) => ({ url: `/api/v1/coupons/${(await createCoupon(db, { code: `UPD${randomUUID().slice(0, 6)}` })).id}`, payload: { value: 15 } }),
  },
  'DELETE /api/v1/coupons/{id}': {
    action: 'coupon.deleted',
    request: async ({ db }) => ({ url: `/api/v1/coupons/${(await createCoupon(db, { code: `DEL${randomUUID().slice(0, 6)}` })).id}` }),
  },
  'POST /api/v1/shipping-methods': {
    action: 'shipping_method.created',
    request: async () => ({ url: '/api/v1/shipping-methods', payload: { name: 'Express', price: 250_000, etaDays: 1 } }),
  },
  'PATCH /api/v1/shipping-methods/{id}': {
    action: 'shipping_method.updated',
    request: async ({ db }) => ({ url: `/api/v1/shipping-methods/${(await createShipping(db)).id}`, payload: { price: 300_000 } }),
  },
  'DELETE /api/v1/shipping-methods/{id}': {
    action: 'shipping_method.deleted',
    request: async ({ db }) => ({ url: `/api/v1/shipping-methods/${(await createShipping(db)).id}` }),
  },

  // Orders and money
  'PATCH /api/v1/admin/orders/{id}/status': {
    action: 'order.status_changed',
    request: async ({ db }) => {
      const { orderId } = await paidOrder(db, new Date().toISOString());
      // The route answers the whole order, whose address must be complete.
      await db.updateTable('orders').set({ shippingAddress: JSON.stringify(address) }).where('id', '=', orderId).execute();
      return { url: `/api/v1/admin/orders/${orderId}/status`, payload: { status: 'processing' } };
    },
  },
  'POST /api/v1/admin/orders/{id}/refunds': {
    action: 'refund.created',
    request: async ({ db }) => ({
      url: `/api/v1/admin/orders/${(await paidOrder(db, new Date().toISOString(), { price: 500_000 })).orderId}/refunds`,
      payload: { amount: 100_000, reason: 'damaged' },
      headers: { 'idempotency-key': randomUUID() },
    }),
  },
  'POST /api/v1/admin/reconciliation/run': {
    action: 'reconciliation.run_requested',
    request: async () => ({ url: '/api/v1/admin/reconciliation/run', payload: {} }),
  },
  'POST /api/v1/admin/users/{id}/credit': {
    action: 'credit.granted',
    request: async ({ db }) => ({
      url: `/api/v1/admin/users/${(await createUser(db)).id}/credit`,
      payload: { amount: 50_000, reason: 'goodwill' },
      headers: { 'idempotency-key': randomUUID() },
    }),
  },

  // Users
  'PATCH /api/v1/admin/users/{id}': {
    action: 'user.role_changed',
    request: async ({ db }) => ({ url: `/api/v1/admin/users/${(await createUser(db)).id}`, payload: { role: 'support' } }),
  },

  // Reviews
  'PATCH /api/v1/admin/reviews/{id}': {
    action: 'review.moderated',
    request: async (ctx) => {
      const review = await pendingReview(ctx);
      return { url: `/api/v1/admin/reviews/${review.id}`, payload: { state: 'published', version: review.version } };
    },
  },
  'PUT /api/v1/admin/reviews/{id}/reply': {
    action: 'review.replied',
    request: async (ctx) => ({ url: `/api/v1/admin/reviews/${(await pendingReview(ctx)).id}/reply`, payload: { body: 'Thank you!' } }),
  },

  // Support inbox
  'PATCH /api/v1/admin/support/conversations/{id}': {
    action: 'support.conversation_updated',
    request: async (ctx) => ({ url: `/api/v1/admin/support/conversations/${(await conversation(ctx)).id}`, payload: { status: 'resolved' } }),
  },
  'POST /api/v1/admin/support/conversations/{id}/messages': {
    action: 'support.message_sent',
    request: async (ctx) => ({ url: `/api/v1/admin/support/conversations/${(await conversation(ctx)).id}/messages`, payload: { body: 'On its way.' } }),
  },
  'POST /api/v1/admin/support/conversations/{id}/read': {
    notAudited: "moves the caller's own read position (as a customer's read does); no shop data changes",
  },
  'POST /api/v1/admin/support/conversations/{id}/replies': {
    action: 'support.reply_drafted',
    request: async (ctx) => ({ url: `/api/v1/admin/support/conversations/${(await conversation(ctx)).id}/replies`, payload: { body: 'Draft' } }),
  },
  'PATCH /api/v1/admin/support/replies/{id}': {
    action: 'support.reply_edited',
    request: async (ctx) => {
      const conv = await conversation(ctx);
      const reply = await setup(ctx, 'POST', `/admin/support/conversations/${conv.id}/replies`, { body: 'First' });
      return { url: `/api/v1/admin/support/replies/${reply.id}`, payload: { body: 'Second', version: reply.version } };
    },
  },
  'POST /api/v1/admin/support/replies/{id}/submit': {
    action: 'support.reply_submitted',
    request: async (ctx) => {
      const conv = await conversation(ctx);
      const reply = await setup(ctx, 'POST', `/admin/support/conversations/${conv.id}/replies`, { body: 'For approval' });
      return { url: `/api/v1/admin/support/replies/${reply.id}/submit` };
    },
  },
  'POST /api/v1/admin/support/replies/{id}/approve': {
    action: 'support.reply_approved',
    request: async (ctx) => ({ url: `/api/v1/admin/support/replies/${(await agentReply(ctx, true)).id}/approve` }),
  },
  'POST /api/v1/admin/support/replies/{id}/reject': {
    action: 'support.reply_rejected',
    request: async (ctx) => ({ url: `/api/v1/admin/support/replies/${(await agentReply(ctx, true)).id}/reject`, payload: { note: 'Too curt' } }),
  },

  // Operations
  // Returns
  'POST /api/v1/admin/returns/{id}/approve': {
    action: 'return.approved',
    request: async (ctx) => ({ url: `/api/v1/admin/returns/${(await aReturn(ctx, 'requested')).id}/approve`, payload: {} }),
  },
  'POST /api/v1/admin/returns/{id}/reject': {
    action: 'return.rejected',
    request: async (ctx) => ({ url: `/api/v1/admin/returns/${(await aReturn(ctx, 'requested')).id}/reject`, payload: { note: 'worn' } }),
  },
  'POST /api/v1/admin/returns/{id}/receive': {
    action: 'return.received',
    also: ['refund.created'],
    request: async (ctx) => {
      const ret = await aReturn(ctx, 'approved');
      return { url: `/api/v1/admin/returns/${ret.id}/receive`, payload: { items: [{ orderItemId: ret.orderItemId, quantity: 1, condition: 'resellable' }] } };
    },
  },
  'POST /api/v1/admin/returns/{id}/retry-refund': {
    action: 'return.refund_retried',
    also: ['refund.created'],
    request: async (ctx) => {
      const ret = await aReturn(ctx, 'received', 'refund');
      // As Paystack's refusal leaves it (test/returns/refund-races.test.ts drives that path end to end).
      const { refundId } = await ctx.db.selectFrom('returns').select('refundId').where('id', '=', ret.id).executeTakeFirstOrThrow();
      await ctx.db.updateTable('refundParts').set({ status: 'failed' }).where('refundId', '=', refundId!).execute();
      await ctx.db.updateTable('refunds').set({ status: 'failed' }).where('id', '=', refundId!).execute();
      await ctx.db.updateTable('returns').set({ refundStatus: 'failed' }).where('id', '=', ret.id).execute();
      return { url: `/api/v1/admin/returns/${ret.id}/retry-refund`, payload: {} };
    },
  },

  // Customers
  'POST /api/v1/admin/customers/{id}/notes': {
    action: 'customer.note_added',
    request: async ({ db }) => ({ url: `/api/v1/admin/customers/${(await createUser(db, { role: 'customer' })).id}/notes`, payload: { body: 'prefers pickup' } }),
  },
  'PUT /api/v1/admin/customers/{id}/tags': {
    action: 'customer.tags_set',
    request: async ({ db }) => ({ url: `/api/v1/admin/customers/${(await createUser(db, { role: 'customer' })).id}/tags`, payload: { tags: ['vip'] } }),
  },

  'POST /api/v1/system/ping': {
    action: 'system.ping_sent',
    request: async () => ({ url: '/api/v1/system/ping', payload: { message: 'audit walk' } }),
  },
};
