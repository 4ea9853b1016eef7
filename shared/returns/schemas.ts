import { Type, type Static } from 'typebox';
import { Nullable, StringEnum, Timestamp, Uuid } from '../schemas.js';

/**
 * `requested → approved | rejected`; `approved → received → completed`; `requested | approved → cancelled`
 * (the customer) or `expired` (approved and not received within RETURN_SHIP_DAYS).
 */
export const returnStatuses = ['requested', 'approved', 'rejected', 'received', 'completed', 'cancelled', 'expired'] as const;
export type ReturnStatus = (typeof returnStatuses)[number];
/** States that hold units of the order (Σ of their quantities per line ≤ bought). */
export const liveReturnStatuses = ['requested', 'approved', 'received', 'completed'] as const satisfies readonly ReturnStatus[];

export const returnResolutions = ['refund', 'store_credit', 'exchange'] as const;
export type ReturnResolution = (typeof returnResolutions)[number];

export const returnReasons = ['wrong_size', 'damaged', 'defective', 'not_as_described', 'wrong_item', 'changed_mind', 'other'] as const;
export type ReturnReason = (typeof returnReasons)[number];

/** What receiving finds a unit to be: `resellable` goes back on the shelf (once), `damaged` does not. */
export const unitConditions = ['resellable', 'damaged'] as const;
export type UnitCondition = (typeof unitConditions)[number];

/** The refund made for a return, as its last attempt stands (the refunds' own statuses). */
export const returnRefundStatuses = ['pending', 'processing', 'processed', 'failed'] as const;
export type ReturnRefundStatus = (typeof returnRefundStatuses)[number];

/** Photos: images only (the media rules), at most this large and this many per return. */
export const MAX_RETURN_PHOTO_BYTES = 10 * 1024 * 1024;
export const MAX_RETURN_PHOTOS = 10;
/** Photos no return names are deleted after this. */
export const UNATTACHED_PHOTO_HOURS = 24;

const MoneySchema = Type.Object({ amount: Type.Integer({ minimum: 0, description: 'minor units (kobo)' }), currency: Type.String() });

export const ReturnItemInput = Type.Object(
  {
    orderItemId: Uuid,
    quantity: Type.Integer({ minimum: 1, maximum: 10_000 }),
    reason: StringEnum(returnReasons),
    note: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);

export const ReturnRequestBody = Type.Object(
  {
    items: Type.Array(ReturnItemInput, { minItems: 1, maxItems: 100 }),
    resolution: StringEnum(returnResolutions),
    exchange: Type.Optional(
      Type.Array(Type.Object({ orderItemId: Uuid, variantId: Uuid }, { additionalProperties: false }), {
        maxItems: 100,
        description: 'with `resolution: exchange`: for every line asked back, the variant (same product and price) to send instead',
      }),
    ),
    attachmentIds: Type.Optional(Type.Array(Uuid, { maxItems: MAX_RETURN_PHOTOS, description: 'photos uploaded with POST /return-attachments' })),
  },
  { additionalProperties: false },
);
export type ReturnRequestBody = Static<typeof ReturnRequestBody>;

export const ApproveReturnBody = Type.Object(
  {
    resolution: Type.Optional(StringEnum(returnResolutions)),
    refundShipping: Type.Optional(Type.Boolean({ description: 'also refund the order’s shipping (once per order)' })),
  },
  { additionalProperties: false },
);
export type ApproveReturnBody = Static<typeof ApproveReturnBody>;

export const RejectReturnBody = Type.Object({ note: Type.String({ minLength: 1, maxLength: 2000 }) }, { additionalProperties: false });

export const ReceiveReturnBody = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        { orderItemId: Uuid, quantity: Type.Integer({ minimum: 1, maximum: 10_000 }), condition: StringEnum(unitConditions) },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: 200, description: 'every unit of the return, each resellable or damaged (a line may be split)' },
    ),
  },
  { additionalProperties: false },
);
export type ReceiveReturnBody = Static<typeof ReceiveReturnBody>;

export const ReturnAttachment = Type.Object({ id: Uuid, filename: Type.String(), mime: Type.String(), size: Type.Integer(), createdAt: Timestamp });

export const Return = Type.Object({
  id: Uuid,
  orderId: Uuid,
  orderNumber: Type.String(),
  status: StringEnum(returnStatuses),
  resolution: StringEnum(returnResolutions),
  refundShipping: Type.Boolean(),
  items: Type.Array(
    Type.Object({
      orderItemId: Uuid,
      sku: Type.String(),
      title: Type.String(),
      variantTitle: Type.String(),
      quantity: Type.Integer(),
      reason: StringEnum(returnReasons),
      note: Nullable(Type.String()),
      exchangeVariantId: Nullable(Uuid),
      refund: Type.Integer({ description: 'what these units paid (price less discount share, plus VAT), kobo' }),
      resellableQuantity: Type.Integer(),
      damagedQuantity: Type.Integer(),
    }),
  ),
  refundEstimate: Type.Object(
    { ...MoneySchema.properties },
    { description: 'what the resolution is worth: the units as paid, plus shipping when refundShipping' },
  ),
  refundStatus: Nullable(StringEnum(returnRefundStatuses)),
  refundId: Nullable(Uuid),
  refundFailureReason: Nullable(Type.String()),
  creditEntryId: Nullable(Uuid),
  exchangeOrderId: Nullable(Uuid),
  attachments: Type.Array(ReturnAttachment),
  note: Nullable(Type.String({ description: 'staff’s note when rejecting' })),
  expiresAt: Nullable(Timestamp),
  createdAt: Timestamp,
  approvedAt: Nullable(Timestamp),
  receivedAt: Nullable(Timestamp),
  completedAt: Nullable(Timestamp),
  cancelledAt: Nullable(Timestamp),
  expiredAt: Nullable(Timestamp),
  rejectedAt: Nullable(Timestamp),
});
export type ReturnView = Static<typeof Return>;

export const ReturnPage = Type.Object({ items: Type.Array(Return), nextCursor: Nullable(Type.String()) });
export type ReturnPage = Static<typeof ReturnPage>;
