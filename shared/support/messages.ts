import { sql } from 'kysely';
import { writeAudit } from '../auth/audit.js';
import type { Db, DbOrTrx } from '../db/index.js';
import { decodeCursor, encodeCursor } from '../db/cursor.js';
import { ConflictError, ValidationError } from '../errors.js';
import { emitNotification } from '../notifications/emit.js';
import { conversationAudience, conversationUpdated } from './notices.js';
import { appendMessage, type WithNotices } from './conversations.js';
import type { MessageInput, MessageView } from './schemas.js';
import { conversationInScope, visibleKinds, type Viewer } from './scope.js';
import { attachmentsJson, conversationView, messageView } from './views.js';

export class ConversationClosedError extends ConflictError {
  constructor() {
    super('conversation_closed', 'This conversation is closed; open a new one');
  }
}

/**
 * A chat message or (staff only) a note. It goes out at once: no approval, only emailed replies need
 * one. A customer's message reopens a resolved conversation; a closed one refuses messages.
 */
export async function postMessage(db: Db, viewer: Viewer, conversationId: string, input: MessageInput): Promise<WithNotices<MessageView>> {
  const kind = viewer.side === 'customer' ? 'message' : (input.kind ?? 'message');
  return db.transaction().execute(async (trx) => {
    const appended = await appendMessage(trx, conversationId, {
      authorId: viewer.id,
      kind,
      body: input.body,
      attachmentIds: input.attachmentIds,
      reopens: viewer.side === 'customer',
      scope: viewer,
    });
    if (!appended) {
      // Only on the way out: out of scope (404) or closed (409).
      await conversationInScope(trx, viewer, conversationId);
      throw new ConversationClosedError();
    }
    const { conversation, previousStatus, message, notices } = appended;
    if (viewer.side === 'staff') {
      await writeAudit(trx, { actorId: viewer.id, action: kind === 'note' ? 'support.note_added' : 'support.message_sent', targetType: 'support_conversation', targetId: conversationId, after: { messageId: message.id, seq: message.seq } });
    }
    // A customer's message reopened it (the only status an append changes).
    if (previousStatus !== conversation.status) {
      notices.push(conversationUpdated(conversation, conversationView(conversation)));
    }
    if (viewer.side === 'staff' && kind === 'message') {
      await emitNotification(trx, {
        key: `support.message:${message.id}`,
        kind: 'support.reply',
        userIds: [conversation.customerId],
        exceptUserId: viewer.id,
        title: `New reply on ${conversation.number}`,
        // Never the text: this notification may go out by mail, and staff words reach a customer's mailbox
        // only through an approved reply.
        body: `There is a new answer in your conversation “${conversation.subject}”. Open it to read it.`,
        data: { conversationId, number: conversation.number, seq: message.seq },
      });
    }
    return { result: message, notices };
  });
}

/** Messages in seq order (the one order every reader sees); `after` resumes past a seq the client has. */
export async function listMessages(db: DbOrTrx, viewer: Viewer, conversationId: string, page: { limit: number; cursor?: string; after?: number }) {
  await conversationInScope(db, viewer, conversationId);
  let after = page.after ?? 0;
  if (page.cursor) after = Math.max(after, Number(decodeCursor(page.cursor, ['bigint'] as const)[0]));
  const rows = await db
    .selectFrom('supportMessages as m')
    .selectAll('m')
    .select(attachmentsJson.as('attachments'))
    .where('m.conversationId', '=', conversationId)
    .where('m.kind', 'in', visibleKinds(viewer))
    .where('m.seq', '>', after)
    .orderBy('m.seq')
    .limit(page.limit + 1)
    .execute();
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return { items: items.map(messageView), nextCursor: rows.length > page.limit && last ? encodeCursor([String(last.seq)]) : null };
}

/**
 * Moves the viewer's read position forward (never back: a late, older read changes nothing). Returns
 * the `support.read` notice for watchers.
 */
export async function markRead(db: Db, viewer: Viewer, conversationId: string, seq: number): Promise<WithNotices<{ seq: number }>> {
  const c = await conversationInScope(db, viewer, conversationId);
  if (seq > c.lastSeq) throw new ValidationError('seq is past the last message', [{ path: '/seq', message: `must be at most ${c.lastSeq}` }]);
  const row = await db
    .insertInto('supportReads')
    .values({ conversationId, userId: viewer.id, seq })
    .onConflict((oc) => oc.columns(['conversationId', 'userId']).doUpdateSet({ seq: sql`GREATEST(support_reads.seq, excluded.seq)` }))
    .returning('seq')
    .executeTakeFirstOrThrow();
  return {
    result: { seq: row.seq },
    notices: [
      {
        type: 'support.read',
        data: { conversationId, userId: viewer.id, seq: row.seq },
        audience: { ...conversationAudience(c), direct: [], except: viewer.id },
      },
    ],
  };
}
