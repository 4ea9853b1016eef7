import { sql } from 'kysely';
import { writeAudit } from '../auth/audit.js';
import type { Config } from '../config.js';
import type { Db, DbOrTrx, Trx } from '../db/index.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.js';
import { enqueueMail } from '../mail/enqueue.js';
import { emitNotification } from '../notifications/emit.js';
import type { AudienceNotice } from './audience.js';
import { appendMessage, type WithNotices } from './conversations.js';
import { ConversationClosedError } from './messages.js';
import type { ReplyStatus, ReplyView } from './schemas.js';
import { conversationInScope, conversationsInScope, type Viewer } from './scope.js';

type ReplyRow = Awaited<ReturnType<typeof replyInScope>>;

function replyView(r: {
  id: string;
  conversationId: string;
  authorId: string;
  status: string;
  body: string;
  submittedBody: string | null;
  version: number;
  rejectionNote: string | null;
  decidedBy: string | null;
  submittedAt: Date | null;
  decidedAt: Date | null;
  sentAt: Date | null;
  createdAt: Date;
}): ReplyView {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: r.id,
    conversationId: r.conversationId,
    authorId: r.authorId,
    status: r.status as ReplyStatus,
    body: r.body,
    submittedBody: r.submittedBody,
    version: r.version,
    rejectionNote: r.rejectionNote,
    decidedBy: r.decidedBy,
    submittedAt: iso(r.submittedAt),
    decidedAt: iso(r.decidedAt),
    sentAt: iso(r.sentAt),
    createdAt: r.createdAt.toISOString(),
  };
}

/** A reply whose conversation is in the viewer's scope, row-locked (every transition checks state under it). */
async function replyInScope(trx: Trx, viewer: Viewer, id: string) {
  const row = await conversationsInScope(trx, viewer)
    .innerJoin('supportReplies as r', 'r.conversationId', 'c.id')
    .selectAll('r')
    .select(['c.status as conversationStatus', 'c.customerId', 'c.number', 'c.subject', 'c.assigneeId', 'c.assignVersion'])
    .where('r.id', '=', id)
    .forUpdate('r')
    .executeTakeFirst();
  if (!row) throw new NotFoundError('Reply');
  return row;
}

const transitionError = (from: string, to: string) => new ConflictError('invalid_transition', `A reply cannot go from ${from} to ${to}`);

/** `support.reply_status` for the author and every approver. */
function statusNotice(r: Pick<ReplyRow, 'authorId'>, view: ReplyView): AudienceNotice {
  return {
    type: 'support.reply_status',
    data: { reply: view },
    audience: { direct: [r.authorId], permission: 'support:approve', broadcast: true },
  };
}

export async function createDraft(db: Db, viewer: Viewer, conversationId: string, body: string): Promise<ReplyView> {
  return db.transaction().execute(async (trx) => {
    const c = await conversationInScope(trx, viewer, conversationId, { lock: true });
    if (c.status === 'closed') throw new ConversationClosedError();
    const r = await trx.insertInto('supportReplies').values({ conversationId, authorId: viewer.id, body }).returningAll().executeTakeFirstOrThrow();
    await writeAudit(trx, { actorId: viewer.id, action: 'support.reply_drafted', targetType: 'support_reply', targetId: r.id, after: { conversationId } });
    return replyView(r);
  });
}

/** The author edits a draft (or a rejected reply, which goes back to draft) at the version they saw. */
export async function editReply(db: Db, viewer: Viewer, id: string, input: { body: string; version: number }): Promise<ReplyView> {
  return db.transaction().execute(async (trx) => {
    const r = await replyInScope(trx, viewer, id);
    if (r.authorId !== viewer.id) throw new ForbiddenError('Only the author edits a reply');
    if (r.status !== 'draft' && r.status !== 'rejected') throw transitionError(r.status, 'draft');
    if (r.version !== input.version) throw new ConflictError('version_conflict', `The reply changed (version ${r.version}); reload it`, { version: r.version });
    const updated = await trx
      .updateTable('supportReplies')
      .set({ body: input.body, status: 'draft', version: sql`version + 1`, updatedAt: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, { actorId: viewer.id, action: 'support.reply_edited', targetType: 'support_reply', targetId: id, before: { status: r.status, version: r.version }, after: { status: 'draft', version: updated.version } });
    return replyView(updated);
  });
}

/**
 * The author submits a draft for approval: the body is frozen here (`submitted_body`) and the mail will
 * carry exactly it. Approvers are told.
 */
export async function submitReply(db: Db, config: Pick<Config, 'SUPPORT_SELF_APPROVAL'>, viewer: Viewer, id: string): Promise<WithNotices<ReplyView>> {
  return db.transaction().execute(async (trx) => {
    const r = await replyInScope(trx, viewer, id);
    if (r.authorId !== viewer.id) throw new ForbiddenError('Only the author submits a reply');
    if (r.status !== 'draft') throw transitionError(r.status, 'pending_approval');
    if (r.conversationStatus === 'closed') throw new ConversationClosedError();
    const updated = await trx
      .updateTable('supportReplies')
      .set({ status: 'pending_approval', submittedBody: sql`body`, submittedAt: sql`now()`, version: sql`version + 1`, updatedAt: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, { actorId: viewer.id, action: 'support.reply_submitted', targetType: 'support_reply', targetId: id, after: { status: 'pending_approval' } });
    await emitNotification(trx, {
      key: `support.reply_pending:${id}:${updated.version}`,
      kind: 'support.reply_pending',
      permission: 'support:approve',
      ...(config.SUPPORT_SELF_APPROVAL ? {} : { exceptUserId: viewer.id }),
      title: `A reply on ${r.number} waits for approval`,
      body: updated.body.slice(0, 200),
      data: { replyId: id, conversationId: r.conversationId, number: r.number },
    });
    const view = replyView(updated);
    return { result: view, notices: [statusNotice(r, view)] };
  });
}

/**
 * An approver (support:approve, checked by the route) approves a pending reply: in the same transaction
 * the mail is queued with the frozen body (one outbox row: one mail whatever the retries). Nobody
 * approves their own reply unless SUPPORT_SELF_APPROVAL. The mail's delivery makes it `sent`.
 */
export async function approveReply(db: Db, config: Pick<Config, 'SUPPORT_SELF_APPROVAL'>, viewer: Viewer, id: string): Promise<WithNotices<ReplyView>> {
  return db.transaction().execute(async (trx) => {
    const r = await replyInScope(trx, viewer, id);
    if (r.status !== 'pending_approval') throw transitionError(r.status, 'approved');
    if (r.authorId === viewer.id && !config.SUPPORT_SELF_APPROVAL) throw new ForbiddenError('A reply is approved by someone other than its author');
    if (r.conversationStatus === 'closed') throw new ConversationClosedError();
    const customer = await trx.selectFrom('users').select(['email', 'name']).where('id', '=', r.customerId).executeTakeFirstOrThrow();
    const updated = await trx
      .updateTable('supportReplies')
      .set({ status: 'approved', decidedBy: viewer.id, decidedAt: sql`now()`, updatedAt: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await enqueueMail(
      trx,
      null,
      'support-reply',
      customer.email,
      { name: customer.name, number: r.number, subject: r.subject, body: r.submittedBody ?? '' },
      { supportReplyOf: id },
    );
    await writeAudit(trx, { actorId: viewer.id, action: 'support.reply_approved', targetType: 'support_reply', targetId: id, before: { status: r.status }, after: { status: 'approved' } });
    await emitNotification(trx, {
      key: `support.reply_approved:${id}`,
      kind: 'support.reply_approved',
      userIds: [r.authorId],
      exceptUserId: viewer.id,
      title: `Your reply on ${r.number} was approved`,
      body: 'It is being sent to the customer.',
      data: { replyId: id, conversationId: r.conversationId, number: r.number },
    });
    const view = replyView(updated);
    return { result: view, notices: [statusNotice(r, view)] };
  });
}

export async function rejectReply(db: Db, viewer: Viewer, id: string, note: string): Promise<WithNotices<ReplyView>> {
  return db.transaction().execute(async (trx) => {
    const r = await replyInScope(trx, viewer, id);
    if (r.status !== 'pending_approval') throw transitionError(r.status, 'rejected');
    const updated = await trx
      .updateTable('supportReplies')
      .set({ status: 'rejected', rejectionNote: note, decidedBy: viewer.id, decidedAt: sql`now()`, updatedAt: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, { actorId: viewer.id, action: 'support.reply_rejected', targetType: 'support_reply', targetId: id, before: { status: r.status }, after: { status: 'rejected', note } });
    await emitNotification(trx, {
      key: `support.reply_rejected:${id}:${updated.version}`,
      kind: 'support.reply_rejected',
      userIds: [r.authorId],
      exceptUserId: viewer.id,
      title: `Your reply on ${r.number} was sent back`,
      body: note.slice(0, 200),
      data: { replyId: id, conversationId: r.conversationId, number: r.number },
    });
    const view = replyView(updated);
    return { result: view, notices: [statusNotice(r, view)] };
  });
}

/**
 * Called once the reply's mail was accepted (and again on any retry): the first call appends the frozen
 * body to the conversation as a message and marks the reply sent; later calls find it sent and do nothing.
 */
export async function markReplySent(db: Db, id: string): Promise<AudienceNotice[]> {
  return db.transaction().execute(async (trx) => {
    const r = await trx.selectFrom('supportReplies').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
    if (!r || r.status !== 'approved') return [];
    const appended = await appendMessage(trx, r.conversationId, {
      authorId: r.authorId,
      kind: 'message',
      body: r.submittedBody ?? r.body,
      replyId: r.id,
      reopens: false,
    });
    const notices = appended?.notices ?? [];
    const updated = await trx.updateTable('supportReplies').set({ status: 'sent', sentAt: sql`now()`, updatedAt: sql`now()` }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    return [...notices, statusNotice(r, replyView(updated))];
  });
}

/** Replies in the viewer's scope, newest first, optionally by status (approvers' queue: pending_approval). */
export async function listReplies(db: DbOrTrx, viewer: Viewer, f: { status?: ReplyStatus; limit: number; cursor?: string }) {
  let q = conversationsInScope(db, viewer)
    .innerJoin('supportReplies as r', 'r.conversationId', 'c.id')
    .selectAll('r')
    .select(sql<string>`r.created_at::text`.as('cursorAt'));
  if (f.status) q = q.where('r.status', '=', f.status);
  if (f.cursor) {
    const [at, rid] = decodeCursor(f.cursor, ['timestamptz', 'uuid'] as const);
    q = q.where(sql<boolean>`(r.created_at, r.id) < (${at}::timestamptz, ${rid}::uuid)`);
  }
  const rows = await q.orderBy('r.createdAt', 'desc').orderBy('r.id', 'desc').limit(f.limit + 1).execute();
  const page = rows.slice(0, f.limit);
  const last = page.at(-1);
  return { items: page.map(replyView), nextCursor: rows.length > f.limit && last ? encodeCursor([last.cursorAt, last.id]) : null };
}
