import { Type, type Static } from 'typebox';

export const conversationStatuses = ['open', 'resolved', 'closed'] as const;
export type ConversationStatus = (typeof conversationStatuses)[number];
export const messageKinds = ['message', 'note'] as const;
export type MessageKind = (typeof messageKinds)[number];
/** `draft → pending_approval → approved → sent`; `pending_approval → rejected → draft` (on edit). */
export const replyStatuses = ['draft', 'pending_approval', 'approved', 'sent', 'rejected'] as const;
export type ReplyStatus = (typeof replyStatuses)[number];

/** A resolved conversation closes this long after it was resolved (unless the customer writes again). */
export const RESOLVED_CLOSE_DAYS = 7;
/** Uploads never attached to a message are deleted after this. */
export const UNATTACHED_UPLOAD_HOURS = 24;
/** A client's typing notices are relayed at most this often per conversation. */
export const TYPING_INTERVAL_MS = 3_000;
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;
export const MAX_ATTACHMENTS_PER_MESSAGE = 10;

const Uuid = Type.String({ format: 'uuid' });
const Timestamp = Type.String({ format: 'date-time' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(s: T) => Type.Union([s, Type.Null()]);

export const ConversationStatusSchema = Type.Enum(conversationStatuses);
export const MessageKindSchema = Type.Enum(messageKinds);
export const ReplyStatusSchema = Type.Enum(replyStatuses);

export const Conversation = Type.Object({
  id: Uuid,
  number: Type.String(),
  customerId: Uuid,
  orderId: Nullable(Uuid),
  subject: Type.String(),
  status: ConversationStatusSchema,
  assigneeId: Nullable(Uuid),
  unread: Type.Integer({ minimum: 0, description: 'others’ messages past the caller’s last read seq' }),
  lastSeq: Type.Integer({ minimum: 0 }),
  lastMessageAt: Timestamp,
  createdAt: Timestamp,
});
export type ConversationView = Static<typeof Conversation>;

export const Attachment = Type.Object({
  id: Uuid,
  filename: Type.String(),
  mime: Type.String(),
  size: Type.Integer(),
  url: Type.String({ description: 'GET it with the bearer token; served only to participants' }),
  createdAt: Timestamp,
});
export type AttachmentView = Static<typeof Attachment>;

export const Message = Type.Object({
  id: Uuid,
  conversationId: Uuid,
  seq: Type.Integer({ minimum: 1 }),
  kind: MessageKindSchema,
  authorId: Uuid,
  body: Type.String(),
  replyId: Nullable(Uuid),
  attachments: Type.Array(Attachment),
  createdAt: Timestamp,
});
export type MessageView = Static<typeof Message>;

export const Reply = Type.Object({
  id: Uuid,
  conversationId: Uuid,
  authorId: Uuid,
  status: ReplyStatusSchema,
  body: Type.String(),
  submittedBody: Nullable(Type.String({ description: 'frozen at submit: exactly what the mail carries' })),
  version: Type.Integer({ minimum: 1 }),
  rejectionNote: Nullable(Type.String()),
  decidedBy: Nullable(Uuid),
  submittedAt: Nullable(Timestamp),
  decidedAt: Nullable(Timestamp),
  sentAt: Nullable(Timestamp),
  createdAt: Timestamp,
});
export type ReplyView = Static<typeof Reply>;

const Body = Type.String({ minLength: 1, maxLength: 10_000 });
const AttachmentIds = Type.Array(Uuid, { maxItems: MAX_ATTACHMENTS_PER_MESSAGE, uniqueItems: true });

export const OpenConversationBody = Type.Object(
  {
    subject: Type.String({ minLength: 1, maxLength: 200 }),
    body: Body,
    orderId: Type.Optional(Uuid),
    attachmentIds: Type.Optional(AttachmentIds),
  },
  { additionalProperties: false },
);
export type OpenConversationInput = Static<typeof OpenConversationBody>;

export const CustomerMessageBody = Type.Object({ body: Body, attachmentIds: Type.Optional(AttachmentIds) }, { additionalProperties: false });
export const StaffMessageBody = Type.Object(
  { body: Body, kind: Type.Optional(MessageKindSchema), attachmentIds: Type.Optional(AttachmentIds) },
  { additionalProperties: false },
);
export type MessageInput = Static<typeof StaffMessageBody>;

export const ReadBody = Type.Object({ seq: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 }) }, { additionalProperties: false });

export const UpdateConversationBody = Type.Object(
  { status: Type.Optional(ConversationStatusSchema), assigneeId: Type.Optional(Nullable(Uuid)) },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateConversationInput = Static<typeof UpdateConversationBody>;

export const DraftBody = Type.Object({ body: Type.String({ minLength: 1, maxLength: 20_000 }) }, { additionalProperties: false });
export const EditReplyBody = Type.Object(
  { body: Type.String({ minLength: 1, maxLength: 20_000 }), version: Type.Integer({ minimum: 1 }) },
  { additionalProperties: false },
);
export const RejectBody = Type.Object({ note: Type.String({ minLength: 1, maxLength: 2_000 }) }, { additionalProperties: false });

export const AdminConversationQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
    status: Type.Optional(ConversationStatusSchema),
    assignee: Type.Optional(
      Type.Union([Type.Literal('me'), Type.Literal('unassigned'), Uuid], { description: '`me`, `unassigned` or a user id' }),
    ),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'number, subject, or words in a message' })),
  },
  { additionalProperties: false },
);
export type ConversationFilter = Static<typeof AdminConversationQuery>;
