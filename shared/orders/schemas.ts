import { Type, type Static } from 'typebox';
import { PaymentMethodSchema, PaymentStatusSchema, RefundStatusSchema } from '../payments/schemas.js';
import { Money, Nullable, StringEnum, Timestamp, Uuid } from '../schemas.js';

/** Every order status; the transitions between them are shared/orders/state.ts. */
export const orderStatuses = [
  'pending_payment',
  'paid',
  'processing',
  'shipped',
  'delivered',
  'cancelled',
  'partially_refunded',
  'refunded',
] as const;
export type OrderStatus = (typeof orderStatuses)[number];
export const OrderStatusSchema = StringEnum(orderStatuses);

/** What staff may set by hand (PATCH /admin/orders/:id/status); paid and the refund states come from payments. */
export const staffOrderStatuses = [
  'processing',
  'shipped',
  'delivered',
  'cancelled',
] as const satisfies readonly OrderStatus[];
export type StaffOrderStatus = (typeof staffOrderStatuses)[number];

export const OrderItem = Type.Object({
  id: Uuid,
  variantId: Nullable(Uuid),
  productId: Nullable(Uuid),
  title: Type.String(),
  variantTitle: Type.String(),
  sku: Type.String(),
  unitPrice: Money,
  quantity: Type.Integer(),
  lineTotal: Money,
  currency: Type.String(),
});

/** The shipping address checkout takes and the order keeps. */
export const Address = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    phone: Type.String({ minLength: 5, maxLength: 30, pattern: '^[+0-9 ()-]+$' }),
    line1: Type.String({ minLength: 1, maxLength: 200 }),
    line2: Type.Optional(Type.String({ maxLength: 200 })),
    city: Type.String({ minLength: 1, maxLength: 100 }),
    state: Type.String({ minLength: 1, maxLength: 100 }),
    postalCode: Type.Optional(Type.String({ maxLength: 20 })),
    country: Type.String({ pattern: '^[A-Z]{2}$', default: 'NG', description: 'ISO 3166-1 alpha-2' }),
  },
  { additionalProperties: false },
);

/**
 * GET /orders/:id. Payments, refunds and the invoice are read from the payments domain's tables; to add
 * a field, extend this schema and shared/orders/read.ts (buildOrderView is typed by it).
 */
export const Order = Type.Object({
  id: Uuid,
  number: Type.String(),
  status: OrderStatusSchema,
  email: Type.String(),
  customerName: Nullable(Type.String()),
  userId: Nullable(Uuid),
  currency: Type.String(),
  subtotal: Money,
  discount: Money,
  shipping: Money,
  tax: Money,
  total: Money,
  couponCode: Nullable(Type.String()),
  shippingMethod: Nullable(Type.Object({ id: Nullable(Uuid), name: Type.String() })),
  shippingAddress: Address,
  trackingNumber: Nullable(Type.String()),
  carrier: Nullable(Type.String()),
  reservationExpiresAt: Nullable(Timestamp),
  paidAt: Nullable(Timestamp),
  cancelledAt: Nullable(Timestamp),
  amountPaid: Money,
  amountRefunded: Money,
  createdAt: Timestamp,
  updatedAt: Timestamp,
  items: Type.Array(OrderItem),
  history: Type.Array(
    Type.Object({
      from: Nullable(OrderStatusSchema),
      to: OrderStatusSchema,
      actorId: Nullable(Uuid),
      note: Nullable(Type.String()),
      at: Timestamp,
    }),
  ),
  /**
   * Every tender and attempt: `method: store_credit` is the credit spent at checkout (`reversed` once an unpaid
   * order's cancel gave it back), `paystack` each Paystack attempt, asked for the total less that credit.
   */
  payments: Type.Array(
    Type.Object({
      id: Uuid,
      reference: Type.String(),
      attempt: Type.Integer({ description: 'Paystack attempts from 1; the store credit spent at checkout is attempt 0' }),
      method: PaymentMethodSchema,
      status: PaymentStatusSchema,
      amount: Money,
      currency: Type.String(),
      authorizationUrl: Nullable(Type.String()),
      paidAt: Nullable(Timestamp),
      createdAt: Timestamp,
    }),
  ),
  refunds: Type.Array(
    Type.Object({
      id: Uuid,
      amount: Money,
      currency: Type.String(),
      reason: Type.String(),
      status: RefundStatusSchema,
      restock: Type.Boolean(),
      createdAt: Timestamp,
      settledAt: Nullable(Timestamp),
    }),
  ),
  invoice: Nullable(Type.Object({ number: Type.String(), url: Type.String() })),
  invoiceUrl: Nullable(Type.String()),
});

export const OrderSummary = Type.Object({
  id: Uuid,
  number: Type.String(),
  status: OrderStatusSchema,
  email: Type.String(),
  customerName: Nullable(Type.String()),
  currency: Type.String(),
  total: Money,
  itemCount: Type.Integer(),
  createdAt: Timestamp,
});

export type ShippingAddress = Static<typeof Address>;
export type OrderView = Static<typeof Order>;
export type OrderSummary = Static<typeof OrderSummary>;
