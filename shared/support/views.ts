import { sql } from 'kysely';
import type { AttachmentView, ConversationStatus, ConversationView, MessageKind, MessageView } from './schemas.js';
import type { Viewer } from './scope.js';
import { visibleKinds } from './scope.js';

export const attachmentUrl = (id: string) => `/api/v1/support/attachments/${id}`;

interface ConversationRowLike {
  id: string;
  number: string;
  customerId: string;
  orderId: string | null;
  subject: string;
  status: string;
  assigneeId: string | null;
  lastSeq: number;
  lastMessageAt: Date;
  createdAt: Date;
}

export function conversationView(r: ConversationRowLike, unread = 0): ConversationView {
  return {
    id: r.id,
    number: r.number,
    customerId: r.customerId,
    orderId: r.orderId,
    subject: r.subject,
    status: r.status as ConversationStatus,
    assigneeId: r.assigneeId,
    unread,
    lastSeq: r.lastSeq,
    lastMessageAt: r.lastMessageAt.toISOString(),
    createdAt: r.createdAt.toISOString(),
  };
}

/**
 * `unread` as one correlated count: others' messages the viewer may see past the viewer's last read seq.
 * Used as a select expression on a query over `support_conversations as c`.
 */
export const unreadCount = (viewer: Viewer) =>
  sql<number>`(SELECT count(*)::int FROM support_messages m
     WHERE m.conversation_id = c.id AND m.author_id <> ${viewer.id} AND m.kind = ANY(${visibleKinds(viewer)}::text[])
       AND m.seq > coalesce((SELECT r.seq FROM support_reads r WHERE r.conversation_id = c.id AND r.user_id = ${viewer.id}), 0))`;

/** The attachments of a message as one JSON array (a select expression on `support_messages as m`). */
export const attachmentsJson = sql<{ id: string; filename: string; mime: string; size: number; createdAt: string }[]>`(
  SELECT coalesce(json_agg(json_build_object('id', a.id, 'filename', a.filename, 'mime', a.mime, 'size', a.size,
    'createdAt', a.created_at) ORDER BY a.created_at, a.id), '[]'::json)
  FROM support_attachments a WHERE a.message_id = m.id)`;

export function attachmentView(a: { id: string; filename: string; mime: string; size: number; createdAt: string | Date }): AttachmentView {
  return { id: a.id, filename: a.filename, mime: a.mime, size: a.size, url: attachmentUrl(a.id), createdAt: new Date(a.createdAt).toISOString() };
}

export function messageView(m: {
  id: string;
  conversationId: string;
  seq: number;
  kind: string;
  authorId: string;
  body: string;
  replyId: string | null;
  createdAt: Date;
  attachments?: Parameters<typeof attachmentView>[0][];
}): MessageView {
  return {
    id: m.id,
    conversationId: m.conversationId,
    seq: m.seq,
    kind: m.kind as MessageKind,
    authorId: m.authorId,
    body: m.body,
    replyId: m.replyId,
    attachments: (m.attachments ?? []).map(attachmentView),
    createdAt: m.createdAt.toISOString(),
  };
}
