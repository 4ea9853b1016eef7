import { sql } from 'kysely';
import type { Config } from '../config.js';
import type { Db, DbOrTrx } from '../db/index.js';
import { DomainError, NotFoundError, TooManyRequestsError } from '../errors.js';
import { enqueueMail } from '../mail/enqueue.js';
import type { PrivateFiles } from '../media/files.js';
import { enqueue } from '../outbox.js';
import { checkExportToken, exportUrl } from './links.js';

/**
 * A customer's copy of their data (Nigeria Data Protection Act 2023, right of access): POST /me/data-export
 * records the request and queues one job; the job builds a JSON archive of everything the shop holds about
 * the person, stores it privately on the media host, and mails a signed link that expires after 24 hours,
 * when the hourly housekeeping deletes the file. One export per person per day.
 */

export const EXPORT_TTL_HOURS = 24;
const EXPORTS_PER_DAY_WINDOW_MS = 24 * 3600 * 1000;

export class LinkExpiredError extends DomainError {
  constructor() {
    super(410, 'link_expired', 'This download link has expired; ask for a new export');
  }
}

/** POST /me/data-export: 202 with the request; a second request within a day answers 429 with Retry-After. */
export function requestDataExport(db: Db, userId: string) {
  return db.transaction().execute(async (trx) => {
    // The user's row lock serializes two requests at once: the second sees the first's row.
    const user = await trx.selectFrom('users').select('id').where('id', '=', userId).where('disabledAt', 'is', null).forNoKeyUpdate().executeTakeFirst();
    if (!user) throw new NotFoundError('User');
    const last = await trx
      .selectFrom('dataExports')
      .select('requestedAt')
      .where('userId', '=', userId)
      .where('requestedAt', '>', sql<Date>`now() - interval '1 day'`)
      .orderBy('requestedAt', 'desc')
      .executeTakeFirst();
    if (last) throw new TooManyRequestsError((last.requestedAt.getTime() + EXPORTS_PER_DAY_WINDOW_MS - Date.now()) / 1000);
    const row = await trx.insertInto('dataExports').values({ userId }).returning(['id', 'requestedAt']).executeTakeFirstOrThrow();
    await enqueue(trx, 'customers.data-export', { exportId: row.id });
    return { id: row.id, requestedAt: row.requestedAt.toISOString(), status: 'pending' as const };
  });
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** Everything held about one person, as plain JSON (secrets, hashes and tokens excluded). */
export async function buildArchive(db: DbOrTrx, userId: string) {
  const user = await db
    .selectFrom('users')
    .select(['id', 'email', 'name', 'phone', 'role', 'emailVerifiedAt', 'totpEnabledAt', 'createdAt', 'updatedAt'])
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
  const addresses = await db.selectFrom('userAddresses').selectAll().where('userId', '=', userId).orderBy('createdAt').execute();
  const orders = await db
    .selectFrom('orders')
    .select([
      'id', 'number', 'status', 'email', 'customerName', 'shippingAddress', 'shippingMethodName', 'subtotal', 'discount',
      'shipping', 'tax', 'total', 'currency', 'amountPaid', 'amountRefunded', 'couponCode', 'trackingNumber', 'carrier',
      'createdAt', 'paidAt', 'cancelledAt',
    ])
    .where((eb) => eb.or([eb('userId', '=', userId), eb(sql`lower(email)`, '=', user.email.toLowerCase())]))
    .orderBy('createdAt')
    .execute();
  const orderIds = orders.map((o) => o.id);
  const items = orderIds.length
    ? await db.selectFrom('orderItems').select(['orderId', 'sku', 'title', 'variantTitle', 'quantity', 'unitPrice', 'lineTotal', 'currency']).where('orderId', 'in', orderIds).execute()
    : [];
  const payments = orderIds.length
    ? await db.selectFrom('payments').select(['orderId', 'reference', 'amount', 'currency', 'status', 'paidAt', 'createdAt']).where('orderId', 'in', orderIds).execute()
    : [];
  const refunds = orderIds.length
    ? await db.selectFrom('refunds').select(['orderId', 'amount', 'currency', 'status', 'reason', 'createdAt', 'settledAt']).where('orderId', 'in', orderIds).execute()
    : [];
  const reviews = await db
    .selectFrom('reviews as r')
    .innerJoin('products as p', 'p.id', 'r.productId')
    .select(['r.id', 'p.title as product', 'r.rating', 'r.title', 'r.body', 'r.state', 'r.createdAt', 'r.updatedAt'])
    .where('r.authorId', '=', userId)
    .execute();
  const conversations = await db
    .selectFrom('supportConversations')
    .select(['id', 'number', 'subject', 'status', 'orderId', 'createdAt'])
    .where('customerId', '=', userId)
    .execute();
  // Staff-only notes are the staff's, not the customer's; every other message of their conversations is theirs to see.
  const messages = conversations.length
    ? await db
        .selectFrom('supportMessages as m')
        .innerJoin('users as a', 'a.id', 'm.authorId')
        .select(['m.conversationId', 'm.seq', 'm.body', 'm.createdAt', sql<boolean>`m.author_id = ${userId}`.as('mine')])
        .where('m.conversationId', 'in', conversations.map((c) => c.id))
        .where('m.kind', '=', 'message')
        .orderBy('m.conversationId')
        .orderBy('m.seq')
        .execute()
    : [];
  const creditAccount = await db.selectFrom('creditAccounts').select(['balance', 'currency', 'createdAt']).where('userId', '=', userId).executeTakeFirst();
  const creditEntries = creditAccount
    ? await db.selectFrom('creditEntries').select(['seq', 'amount', 'balanceAfter', 'kind', 'orderId', 'reason', 'createdAt']).where('accountId', '=', userId).orderBy('seq').execute()
    : [];
  const notifications = await db.selectFrom('notifications').select(['kind', 'title', 'body', 'data', 'readAt', 'createdAt']).where('userId', '=', userId).orderBy('createdAt').execute();
  const preferences = await db.selectFrom('notificationPreferences').select(['kind', 'email', 'push', 'inApp']).where('userId', '=', userId).execute();
  const sessions = await db.selectFrom('sessions').select(['ip', 'userAgent', 'createdAt', 'lastUsedAt', 'revokedAt']).where('userId', '=', userId).execute();
  const devices = await db.selectFrom('devices').select(['platform', 'createdAt']).where('userId', '=', userId).execute();
  return {
    format: 'agape-data-export/1',
    generatedAt: new Date().toISOString(),
    account: { ...user, emailVerifiedAt: iso(user.emailVerifiedAt), totpEnabledAt: iso(user.totpEnabledAt), createdAt: iso(user.createdAt), updatedAt: iso(user.updatedAt) },
    addresses,
    orders: orders.map((o) => ({
      ...o,
      items: items.filter((i) => i.orderId === o.id),
      payments: payments.filter((p) => p.orderId === o.id),
      refunds: refunds.filter((r) => r.orderId === o.id),
    })),
    reviews,
    conversations: conversations.map((c) => ({ ...c, messages: messages.filter((m) => m.conversationId === c.id) })),
    credit: creditAccount ? { ...creditAccount, entries: creditEntries } : null,
    notifications,
    notificationPreferences: preferences,
    sessions,
    devices,
  };
}

export const exportKey = (userId: string, exportId: string) => `exports/${userId}/${exportId}.json`;

/**
 * The export job: builds and stores the archive, then in one transaction marks the export ready and queues
 * the mail with the signed link. Run twice, the second run finds it ready and does nothing (the file is the
 * same key, so a run that died after storing just overwrites it).
 */
export async function runDataExport(db: Db, files: PrivateFiles, config: Pick<Config, 'ENCRYPTION_KEY' | 'PUBLIC_URL'>, exportId: string) {
  const row = await db.selectFrom('dataExports').selectAll().where('id', '=', exportId).executeTakeFirst();
  if (!row || row.readyAt || row.deletedAt) return { skipped: true };
  const archive = await buildArchive(db, row.userId);
  const bytes = Buffer.from(JSON.stringify(archive, null, 2));
  const key = exportKey(row.userId, exportId);
  await files.put(key, bytes);
  return db.transaction().execute(async (trx) => {
    const ready = await trx
      .updateTable('dataExports')
      .set({ readyAt: sql`now()`, expiresAt: sql`now() + make_interval(hours => ${EXPORT_TTL_HOURS})`, storageKey: key, bytes: bytes.length })
      .where('id', '=', exportId)
      .where('readyAt', 'is', null)
      .returning(['expiresAt'])
      .executeTakeFirst();
    if (!ready?.expiresAt) return { skipped: true };
    const user = await trx.selectFrom('users').select(['email', 'name']).where('id', '=', row.userId).executeTakeFirstOrThrow();
    await enqueueMail(trx, config, 'data-export', user.email, { name: user.name, expiresAt: ready.expiresAt.toISOString() }, {
      secret: { link: exportUrl(config, exportId, ready.expiresAt) },
    });
    return { skipped: false, bytes: bytes.length };
  });
}

/** The signed link: the archive's key while the link and the file live; 410 after, 404 for anything else. */
export async function exportForLink(db: DbOrTrx, config: Pick<Config, 'ENCRYPTION_KEY'>, exportId: string, expires: number, token: string) {
  const check = checkExportToken(config, exportId, expires, token);
  if (check === 'invalid') throw new NotFoundError('Export');
  if (check === 'expired') throw new LinkExpiredError();
  const row = await db.selectFrom('dataExports').select(['storageKey', 'expiresAt', 'deletedAt']).where('id', '=', exportId).executeTakeFirst();
  if (!row?.storageKey || !row.expiresAt) throw new NotFoundError('Export');
  if (row.deletedAt || row.expiresAt.getTime() <= Date.now()) throw new LinkExpiredError();
  return { key: row.storageKey };
}

/** Archives past their life are deleted from the media host, then marked deleted (a retry deletes again, harmlessly). */
export async function purgeExpiredExports(db: Db, files: PrivateFiles, batch = 500): Promise<number> {
  const due = await db
    .selectFrom('dataExports')
    .select(['id', 'storageKey'])
    .where('deletedAt', 'is', null)
    .where('storageKey', 'is not', null)
    .where('expiresAt', '<=', sql<Date>`now()`)
    .limit(batch)
    .execute();
  for (const e of due) {
    await files.delete(e.storageKey!);
    await db.updateTable('dataExports').set({ deletedAt: sql`now()`, storageKey: null }).where('id', '=', e.id).execute();
  }
  return due.length;
}
