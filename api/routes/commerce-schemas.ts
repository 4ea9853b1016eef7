import { Type } from 'typebox';
import { Timestamp, Uuid } from '../schemas.js';

/** Response schemas shared by the commerce routes (cart, checkout, orders, inventory). */
// Null first: fast-json-stringify picks the first matching branch and would coerce null to 0 or "".
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([Type.Null(), t]);
const Money = Type.Integer({ minimum: 0, description: 'minor units (kobo)' });

export const CartLine = Type.Object({
  id: Uuid,
  variantId: Uuid,
  productId: Uuid,
  productSlug: Type.String(),
  title: Type.String(),
  variantTitle: Type.String(),
  sku: Type.String(),
  quantity: Type.Integer(),
  unitPrice: Type.Integer({ description: 'price when the line was added or last changed' }),
  price: Type.Integer({ description: 'current price (charged at checkout)' }),
  priceChanged: Type.Boolean(),
  lineTotal: Money,
  available: Type.Integer(),
  purchasable: Type.Boolean(),
  currency: Type.String(),
});

export const Cart = Type.Object({
  id: Uuid,
  token: Nullable(Type.String({ description: 'the guest cart secret; only in the answer that created it' })),
  items: Type.Array(CartLine),
  itemCount: Type.Integer(),
  subtotal: Money,
  discount: Money,
  shipping: Money,
  tax: Money,
  total: Money,
  currency: Type.String(),
  coupon: Nullable(
    Type.Object({
      code: Type.String(),
      kind: Type.String(),
      value: Type.Integer(),
      applied: Type.Boolean(),
      reason: Nullable(Type.String()),
      message: Nullable(Type.String()),
    }),
  ),
  shippingMethod: Nullable(
    Type.Object({ id: Uuid, name: Type.String(), price: Money, freeOver: Nullable(Money), etaDays: Type.Integer() }),
  ),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const PaymentStart = Type.Object({
  reference: Type.String(),
  authorizationUrl: Nullable(Type.String()),
  accessCode: Nullable(Type.String()),
  status: Type.String({ description: 'initialized | init_failed | initializing' }),
  message: Nullable(Type.String()),
});

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
 * a field, extend shared/orders/read.ts and this schema together.
 */
export const Order = Type.Object({
  id: Uuid,
  number: Type.String(),
  status: Type.String(),
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
  shippingAddress: Type.Object({
    name: Type.String(),
    phone: Type.String(),
    line1: Type.String(),
    line2: Type.Optional(Type.String()),
    city: Type.String(),
    state: Type.String(),
    postalCode: Type.Optional(Type.String()),
    country: Type.String(),
  }),
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
    Type.Object({ from: Nullable(Type.String()), to: Type.String(), actorId: Nullable(Uuid), note: Nullable(Type.String()), at: Timestamp }),
  ),
  payments: Type.Array(
    Type.Object({
      id: Uuid,
      reference: Type.String(),
      attempt: Type.Integer(),
      status: Type.String(),
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
      status: Type.String(),
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
  status: Type.String(),
  email: Type.String(),
  customerName: Nullable(Type.String()),
  currency: Type.String(),
  total: Money,
  itemCount: Type.Integer(),
  createdAt: Timestamp,
});

export const StockRow = Type.Object({
  variantId: Uuid,
  sku: Type.String(),
  onHand: Type.Integer(),
  reserved: Type.Integer(),
  available: Type.Integer(),
  lowStockThreshold: Type.Integer(),
  lowStockAlerted: Type.Boolean(),
  version: Type.Integer(),
});

export const InventoryItem = Type.Object({
  ...StockRow.properties,
  productId: Uuid,
  productTitle: Type.String(),
  variantTitle: Type.String(),
  updatedAt: Timestamp,
});

export const CartTokenHeaders = Type.Object({
  'x-cart-token': Type.Optional(Type.String({ minLength: 10, maxLength: 200, description: 'guest cart secret' })),
});

export { Nullable, Money };
