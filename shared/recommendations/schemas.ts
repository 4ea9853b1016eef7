import { Type, type Static } from 'typebox';

export const recommendationKinds = ['bought_together', 'similar'] as const;
export type RecommendationKind = (typeof recommendationKinds)[number];

/** Where an answer's items came from: the nightly computation, the fill (category, best sellers), or both. */
export const recommendationSources = ['computed', 'fallback', 'mixed'] as const;
export type RecommendationSource = (typeof recommendationSources)[number];

export const runStatuses = ['queued', 'running', 'completed', 'failed'] as const;
export type RunStatus = (typeof runStatuses)[number];

export const runTriggers = ['schedule', 'manual'] as const;
export type RunTrigger = (typeof runTriggers)[number];

/** How many of each kind a generation keeps per product (the contract's top 20). */
export const TOP_PER_PRODUCT = 20;
/** Pairs need this many distinct customers: no lone basket is ever revealed. */
export const MIN_DISTINCT_CUSTOMERS = 2;
/** Similar products cost within this fraction of the product's price. */
export const SIMILAR_PRICE_BAND = 0.3;

const Uuid = Type.String({ format: 'uuid' });
const Timestamp = Type.String({ format: 'date-time' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const RecommendationQuery = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: TOP_PER_PRODUCT, default: 8 }) },
  { additionalProperties: false },
);
export type RecommendationQuery = Static<typeof RecommendationQuery>;

export const RecommendationRun = Type.Object({
  id: Uuid,
  trigger: Type.Enum(runTriggers),
  status: Type.Enum(runStatuses),
  requestedBy: Nullable(Uuid),
  generationId: Nullable(Type.Integer()),
  counts: Nullable(
    Type.Object({ boughtTogether: Type.Integer(), similar: Type.Integer(), bestSellers: Type.Integer() }),
  ),
  error: Nullable(Type.String()),
  createdAt: Timestamp,
  startedAt: Nullable(Timestamp),
  finishedAt: Nullable(Timestamp),
});
export type RecommendationRun = Static<typeof RecommendationRun>;
