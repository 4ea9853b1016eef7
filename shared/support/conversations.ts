import { sql } from 'kysely';
import { can } from '../auth/permissions.js';
import { writeAudit } from '../auth/audit.js';
import type { Config } from '../config.js';
import type { Db, DbOrTrx } from '../db/index.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.js';
import { emitNotification } from '../notifications/emit.js';
import { assignableUser, pickLeastLoadedAgent } from './assignment.js';
import { attachUploads } from './attachments.js';
import type { AudienceNotice } from './audience.js';
import { conversationAudience, conversationUpdated } from './notices.js';
import type { ConversationFilter, ConversationStatus, ConversationView, OpenConversationInput, UpdateConversationInput } from './schemas.js';
import { conversationInScope, conversationsInScope, visibleKinds, type Viewer } from './scope.js';
import { conversationView, messageView, unreadCount } from './views.js';

export interface WithNotices<T> {
  result: T;
  /** Socket notices to publish once the transaction committed. */
  notices: AudienceNotice[];
}

const likeText = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * A customer opens a conversation, optionally about one of their orders (another's is 404), with its
 * first message. With SUPPORT_AUTO_ASSIGN it goes to the least-loaded agent in the same transaction.
 */
export async function openConversation(
  db: Db,
  config: Pick<Config, 'SUPPORT_AUTO_ASSIGN'>,
  viewer: Viewer,
  input: OpenConversationInput,
): Promise<WithNotices<ConversationView>> {
  return db.transaction().execute(async (trx) => {
    if (input.orderId) {
      const order = await trx.selectFrom('orders').select('id').where('id', '=', input.orderId).where('userId', '=', viewer.id).executeTakeFirst();
      if (!order) throw new NotFoundError('Order');
    }
    // Last before the insert: the assignment lock is held only for the rest of this transaction.
    const assigneeId = config.SUPPORT_AUTO_ASSIGN ? await pickLeastLoadedAgent(trx) : null;
    const c = await trx
      .insertInto('supportConversations')
      .values({
        customerId: viewer.id,
        orderId: input.orderId ?? null,
        subject: input.subject,
        assigneeId,
        assignVersion: assigneeId ? 1 : 0,
        lastSeq: 1,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    const m = await trx
      .insertInto('supportMessages')
      .values({ conversationId: c.id, seq: 1, authorId: viewer.id, kind: 'message', body: input.body })
      .returning('id')
      .executeTakeFirstOrThrow();
    await attachUploads(trx, viewer.id, c.id, m.id, input.attachmentIds);
    await trx.insertInto('supportReads').values({ conversationId: c.id, userId: viewer.id, seq: 1 }).execute();
    if (assigneeId) {
      await emitNotification(trx, {
        key: `support.assigned:${c.id}:${c.assignVersion}`,
        kind: 'support.assigned',
        userIds: [assigneeId],
        title: `Conversation ${c.number} assigned to you`,
        body: input.subject,
        data: { conversationId: c.id, number: c.number },
      });
    }
    const view = conversationView(c, 0);
    return { result: view, notices: [conversationUpdated(c, view)] };
  });
}

/** The viewer's conversations (scoped), newest activity first; `q` searches number, subject and visible messages. */
export async function listConversations(db: DbOrTrx, viewer: Viewer, f: Partial<ConversationFilter> & { limit: number }) {
  let q = conversationsInScope(db, viewer).selectAll('c').select([unreadCount(viewer).as('unread'), sql<string>`c.last_message_at::text`.as('cursorAt')]);
  if (f.status) q = q.where('c.status', '=', f.status);
  if (f.assignee === 'me') q = q.where('c.assigneeId', '=', viewer.id);
  else if (f.assignee === 'unassigned') q = q.where('c.assigneeId', 'is', null);
  else if (f.assignee) q = q.where('c.assigneeId', '=', f.assignee);
  if (f.q) {
    const text = likeText(f.q);
    q = q.where((eb) =>
      eb.or([
        eb('c.number', 'ilike', text),
        eb('c.subject', 'ilike', text),
        eb.exists(
          eb
            .selectFrom('supportMessages as sm')
            .select(sql`1`.as('one'))
            .whereRef('sm.conversationId', '=', 'c.id')
            .where('sm.kind', 'in', visibleKinds(viewer))
            .where('sm.body', 'ilike', text),
        ),
      ]),
    );
  }
  if (f.cursor) {
    const [at, id] = decodeCursor(f.cursor, ['timestamptz', 'uuid'] as const);
    q = q.where(sql<boolean>`(c.last_message_at, c.id) < (${at}::timestamptz, ${id}::uuid)`);
  }
  const rows = await q.orderBy('c.lastMessageAt', 'desc').orderBy('c.id', 'desc').limit(f.limit + 1).execute();
  const page = rows.slice(0, f.limit);
  const last = page.at(-1);
  return {
    items: page.map((r) => conversationView(r, r.unread)),
    nextCursor: rows.length > f.limit && last ? encodeCursor([last.cursorAt, last.id]) : null,
  };
}

export async function getConversation(db: DbOrTrx, viewer: Viewer, id: string): Promise<ConversationView> {
  const row = await conversationsInScope(db, viewer).selectAll('c').select(unreadCount(viewer).as('unread')).where('c.id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError('Conversation');
  return conversationView(row, row.unread);
}

const transitions: Record<ConversationStatus, readonly ConversationStatus[]> = {
  open: ['resolved', 'closed'],
  resolved: ['open', 'closed'],
  closed: ['open'],
};

/**
 * Staff change a conversation's status or assignee. Reassigning needs `support:assign`, grows the
 * assign version (so the old agent's sockets get nothing computed before it) and tells the new agent.
 */
export async function updateConversation(db: Db, viewer: Viewer, id: string, input: UpdateConversationInput): Promise<WithNotices<ConversationView>> {
  if (input.assigneeId !== undefined && !can(viewer.role, 'support:assign')) throw new ForbiddenError('Assigning conversations needs support:assign');
  return db.transaction().execute(async (trx) => {
    const before = await conversationInScope(trx, viewer, id, { lock: true });
    const set: Record<string, unknown> = {};
    if (input.status && input.status !== before.status) {
      if (!transitions[before.status].includes(input.status)) {
        throw new ConflictError('invalid_transition', `A conversation cannot go from ${before.status} to ${input.status}`);
      }
      set.status = input.status;
      set.resolvedAt = input.status === 'resolved' ? sql`now()` : null;
      set.closedAt = input.status === 'closed' ? sql`now()` : null;
    }
    const reassigned = input.assigneeId !== undefined && input.assigneeId !== before.assigneeId;
    if (reassigned) {
      if (input.assigneeId && !(await assignableUser(trx, input.assigneeId))) {
        throw new ValidationError('The assignee cannot handle support conversations', [{ path: '/assigneeId', message: 'must be an active support user' }]);
      }
      set.assigneeId = input.assigneeId;
      set.assignVersion = sql`assign_version + 1`;
    }
    if (!Object.keys(set).length) return { result: await getConversation(trx, viewer, id), notices: [] };
    const c = await trx
      .updateTable('supportConversations')
      .set({ ...set, updatedAt: sql`now()` })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeAudit(trx, {
      actorId: viewer.id,
      action: 'support.conversation_updated',
      targetType: 'support_conversation',
      targetId: id,
      before: { status: before.status, assigneeId: before.assigneeId },
      after: { status: c.status, assigneeId: c.assigneeId },
    });
    if (reassigned && c.assigneeId && c.assigneeId !== viewer.id) {
      await emitNotification(trx, {
        key: `support.assigned:${c.id}:${c.assignVersion}`,
        kind: 'support.assigned',
        userIds: [c.assigneeId],
        title: `Conversation ${c.number} assigned to you`,
        body: c.subject,
        data: { conversationId: c.id, number: c.number },
      });
    }
    const view = await getConversation(trx, { ...viewer, side: 'staff' }, id).catch(() => conversationView(c, 0));
    return { result: view, notices: [conversationUpdated(c, view)] };
  });
}

interface AppendInput {
  authorId: string;
  kind: 'message' | 'note';
  body: string;
  replyId?: string;
  attachmentIds?: readonly string[];
  /** A customer writing reopens a resolved conversation. */
  reopens: boolean;
  /** Append only if the conversation is in this viewer's scope and not closed (else nothing happens). */
  scope?: Viewer;
}

/**
 * Appends a message inside the caller's transaction, in one statement: the conversation row's counter
 * gives the next seq (writers of one conversation queue on that row, so seq is gap-free and one order for
 * all readers), the message is inserted and the author's read position moves to it. One round trip while
 * the row is locked keeps 200 writers at once quick. With `scope`, a conversation out of the viewer's
 * scope or closed is left alone and the answer is undefined.
 */
export async function appendMessage(trx: Parameters<typeof attachUploads>[0], conversationId: string, input: AppendInput) {
  const row = await trx
    .with('c', (qb) => {
      let q = qb
        .updateTable('supportConversations')
        .set({
          lastSeq: sql`last_seq + 1`,
          lastMessageAt: sql`now()`,
          updatedAt: sql`now()`,
          ...(input.reopens ? { status: sql`CASE WHEN status = 'resolved' THEN 'open' ELSE status END`, resolvedAt: null } : {}),
        })
        .where('id', '=', conversationId);
      if (input.scope) {
        q = q.where('status', '<>', 'closed').where('id', 'in', conversationsInScope(trx, input.scope).select('c.id').where('c.id', '=', conversationId));
      }
      return q.returningAll();
    })
    .with('m', (qb) =>
      qb
        .insertInto('supportMessages')
        .columns(['conversationId', 'seq', 'authorId', 'kind', 'body', 'replyId'])
        .expression((eb) =>
          eb
            .selectFrom('c')
            .select([
              'c.id',
              'c.lastSeq',
              sql.val(input.authorId).as('authorId'),
              sql.val(input.kind).as('kind'),
              sql.val(input.body).as('body'),
              sql<string | null>`${input.replyId ?? null}::uuid`.as('replyId'),
            ]),
        )
        .returningAll(),
    )
    .with('r', (qb) =>
      qb
        .insertInto('supportReads')
        .columns(['conversationId', 'userId', 'seq'])
        .expression((eb) => eb.selectFrom('m').select(['m.conversationId', 'm.authorId', 'm.seq']))
        // One's own message is read by one.
        .onConflict((oc) => oc.columns(['conversationId', 'userId']).doUpdateSet({ seq: sql`GREATEST(support_reads.seq, excluded.seq)` })),
    )
    .selectFrom('c')
    .innerJoin('m', 'm.conversationId', 'c.id')
    .selectAll('c')
    .select([
      'm.id as messageId',
      'm.seq',
      'm.kind',
      'm.body',
      'm.authorId',
      'm.replyId',
      'm.createdAt as messageCreatedAt',
      // The statement's snapshot, from before the update: tells a reopening apart.
      sql<string>`(SELECT status FROM support_conversations WHERE id = ${conversationId})`.as('previousStatus'),
    ])
    .executeTakeFirst();
  if (!row) return undefined;
  const { messageId, seq, kind, body, authorId, replyId, messageCreatedAt, previousStatus, ...c } = row;
  await attachUploads(trx, input.authorId, conversationId, messageId, input.attachmentIds);
  const attachments = input.attachmentIds?.length
    ? await trx.selectFrom('supportAttachments').select(['id', 'filename', 'mime', 'size', 'createdAt']).where('messageId', '=', messageId).orderBy('createdAt').orderBy('id').execute()
    : [];
  const message = messageView({ id: messageId, conversationId, seq, kind, body, authorId, replyId, createdAt: messageCreatedAt, attachments });
  const notices: AudienceNotice[] = [
    { type: 'support.message', data: { conversationId, message }, audience: conversationAudience(c, { kind: input.kind }) },
  ];
  return { conversation: c, previousStatus, message, notices };
}
