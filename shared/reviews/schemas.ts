import { Type, type Static } from 'typebox';

/** The review states of the contract, in one list. */
export const reviewStates = ['pending', 'published', 'flagged', 'rejected'] as const;
export type ReviewState = (typeof reviewStates)[number];

/**
 * What a moderator may do from each state (an author's edit and the report threshold are the only other
 * ways a state changes, see shared/reviews/write.ts).
 */
export const moderatorTransitions: Readonly<Record<ReviewState, readonly ReviewState[]>> = {
  pending: ['published', 'rejected'],
  published: ['rejected', 'flagged'],
  flagged: ['published', 'rejected'],
  rejected: ['published'],
};

export const reportReasons = ['spam', 'abuse', 'off_topic', 'personal_data', 'other'] as const;
export type ReportReason = (typeof reportReasons)[number];

export const reviewSorts = ['newest', 'helpful', 'rating_desc', 'rating_asc'] as const;
export type ReviewSort = (typeof reviewSorts)[number];

export const moderationModes = ['pre', 'post'] as const;
export type ModerationMode = (typeof moderationModes)[number];

const Uuid = Type.String({ format: 'uuid' });
const Timestamp = Type.String({ format: 'date-time' });

export const TITLE_MAX = 200;
export const BODY_MAX = 5000;

export const ReviewStateSchema = Type.Enum(reviewStates);
export const ReportReasonSchema = Type.Enum(reportReasons);
export const ReviewSortSchema = Type.Enum(reviewSorts);

export const ReviewInput = Type.Object(
  {
    rating: Type.Integer({ minimum: 1, maximum: 5 }),
    title: Type.Optional(Type.String({ maxLength: TITLE_MAX, description: 'plain text; markup is removed' })),
    body: Type.Optional(Type.String({ maxLength: BODY_MAX, description: 'plain text; markup is removed' })),
  },
  { additionalProperties: false },
);
export type ReviewInput = Static<typeof ReviewInput>;

export const ReviewPatch = Type.Partial(ReviewInput, { additionalProperties: false, minProperties: 1 });
export type ReviewPatch = Static<typeof ReviewPatch>;

export const ModerationInput = Type.Object(
  {
    state: ReviewStateSchema,
    note: Type.Optional(
      Type.String({ maxLength: 2000, description: 'staff only, never shown to the author or the public' }),
    ),
    version: Type.Integer({
      minimum: 1,
      description: 'the version the moderator read; a newer one answers 409 version_conflict',
    }),
  },
  { additionalProperties: false },
);
export type ModerationInput = Static<typeof ModerationInput>;

export const ReplyInput = Type.Object(
  { body: Type.String({ minLength: 1, maxLength: BODY_MAX }) },
  { additionalProperties: false },
);
export const ReportInput = Type.Object({ reason: ReportReasonSchema }, { additionalProperties: false });

const StaffReply = Type.Object({ body: Type.String(), repliedAt: Timestamp });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

/** A published review as anyone sees it. */
export const PublicReview = Type.Object({
  id: Uuid,
  rating: Type.Integer({ minimum: 1, maximum: 5 }),
  title: Nullable(Type.String()),
  body: Nullable(Type.String()),
  author: Type.Object({ displayName: Type.String() }),
  verifiedPurchase: Type.Boolean(),
  helpfulCount: Type.Integer({ minimum: 0 }),
  staffReply: Type.Optional(StaffReply),
  createdAt: Timestamp,
});
export type PublicReview = Static<typeof PublicReview>;

export const ReviewSummary = Type.Object({
  average: Nullable(Type.Number({ description: 'one decimal; null without published reviews' })),
  count: Type.Integer({ minimum: 0 }),
  distribution: Type.Object({
    '1': Type.Integer(),
    '2': Type.Integer(),
    '3': Type.Integer(),
    '4': Type.Integer(),
    '5': Type.Integer(),
  }),
});
export type ReviewSummary = Static<typeof ReviewSummary>;

export const PublicReviewPage = Type.Object({
  items: Type.Array(PublicReview),
  nextCursor: Nullable(Type.String()),
  summary: Type.Optional(ReviewSummary),
});

/** The author's own view: every state, with the version an edit moves. */
export const OwnReview = Type.Object({
  id: Uuid,
  product: Type.Object({ id: Uuid, slug: Type.String(), title: Type.String() }),
  rating: Type.Integer(),
  title: Nullable(Type.String()),
  body: Nullable(Type.String()),
  state: ReviewStateSchema,
  version: Type.Integer(),
  helpfulCount: Type.Integer(),
  staffReply: Type.Optional(StaffReply),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type OwnReview = Static<typeof OwnReview>;

/** The moderator's view. */
export const AdminReview = Type.Object({
  ...OwnReview.properties,
  author: Type.Object({ id: Uuid, email: Type.String(), name: Type.String() }),
  orderId: Nullable(Uuid),
  reportCount: Type.Integer(),
  moderationNote: Nullable(Type.String()),
  moderatedAt: Nullable(Timestamp),
  publishedAt: Nullable(Timestamp),
});
export type AdminReview = Static<typeof AdminReview>;

export const ProductReviewQuery = Type.Object(
  {
    rating: Type.Optional(Type.Integer({ minimum: 1, maximum: 5 })),
    sort: Type.Optional(ReviewSortSchema),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type ProductReviewQuery = Static<typeof ProductReviewQuery>;

export const AdminReviewQuery = Type.Object(
  {
    state: Type.Optional(ReviewStateSchema),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type AdminReviewQuery = Static<typeof AdminReviewQuery>;

export const PageQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
