import { Type, type Static } from 'typebox';
import { SavedAddress } from '../identity/schemas.js';
import { OrderStatusSchema } from '../orders/schemas.js';
import { Currency, Nullable, StringEnum, Timestamp, Uuid } from '../schemas.js';

/** How the staff's customer list is ordered: recently active, most spent, most orders. */
export const customerSorts = ['recent', 'spent', 'orders'] as const;
export type CustomerSort = (typeof customerSorts)[number];

export const MAX_TAGS = 20;
export const TAG_PATTERN = '^[a-z0-9][a-z0-9 _-]{0,39}$';

const MoneyAmount = Type.Object({ amount: Type.Integer({ description: 'kobo' }), currency: Currency });

export const CustomerListQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'email, name, phone or an order number' })),
    sort: StringEnum(customerSorts, { default: 'recent' }),
    tag: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type CustomerListQuery = Static<typeof CustomerListQuery>;

export const CustomerSummary = Type.Object({
  id: Uuid,
  email: Type.String(),
  name: Type.String(),
  phone: Nullable(Type.String()),
  createdAt: Timestamp,
  ordersCount: Type.Integer({ minimum: 0, description: 'orders that became paid' }),
  totalSpent: Type.Object(
    { amount: Type.Integer({ description: 'paid − refunded, kobo (cash basis, as the sales report counts)' }), currency: Currency },
    { description: 'successful payments less processed refunds of this customer’s orders' },
  ),
  lastOrderAt: Nullable(Timestamp),
  tags: Type.Array(Type.String()),
});
export type CustomerSummary = Static<typeof CustomerSummary>;

export const CustomerList = Type.Object({ items: Type.Array(CustomerSummary), nextCursor: Nullable(Type.String()) });
export type CustomerList = Static<typeof CustomerList>;

export const CustomerOrder = Type.Object({
  id: Uuid,
  number: Type.String(),
  status: OrderStatusSchema,
  total: Type.Integer({ description: 'kobo' }),
  currency: Currency,
  createdAt: Timestamp,
  paidAt: Nullable(Timestamp),
});

export const CustomerReturn = Type.Object({
  id: Uuid,
  orderId: Uuid,
  status: Type.String(),
  createdAt: Timestamp,
});

export const CustomerConversation = Type.Object({
  id: Uuid,
  number: Type.String(),
  subject: Type.String(),
  status: Type.String(),
  lastMessageAt: Timestamp,
});

export const CustomerNote = Type.Object({
  id: Uuid,
  body: Type.String(),
  author: Nullable(Type.Object({ id: Uuid, name: Type.String() })),
  createdAt: Timestamp,
});
export type CustomerNote = Static<typeof CustomerNote>;

export const CustomerProfile = Type.Object({
  ...CustomerSummary.properties,
  addresses: Type.Array(SavedAddress),
  recentOrders: Type.Array(CustomerOrder),
  returns: Type.Array(CustomerReturn),
  conversations: Type.Array(CustomerConversation),
  credit: Type.Object({ balance: MoneyAmount }),
  notes: Type.Array(CustomerNote),
});
export type CustomerProfile = Static<typeof CustomerProfile>;

export const NoteBody = Type.Object({ body: Type.String({ minLength: 1, maxLength: 5000 }) }, { additionalProperties: false });
export const TagsBody = Type.Object(
  { tags: Type.Array(Type.String({ minLength: 1, maxLength: 40 }), { maxItems: MAX_TAGS }) },
  { additionalProperties: false },
);
export const TagsAnswer = Type.Object({ id: Uuid, tags: Type.Array(Type.String()) });

export const AbandonedCartsReport = Type.Object({
  from: Type.String(),
  to: Type.String(),
  reminded: Type.Integer({ minimum: 0, description: 'carts reminded in the range' }),
  recovered: Type.Integer({ minimum: 0, description: 'of those, carts whose customer checked out (an order that was paid) within 7 days of the reminder' }),
  recoveryRate: Type.Number({ minimum: 0, maximum: 1 }),
  remindedValue: MoneyAmount,
  revenue: MoneyAmount,
});
export type AbandonedCartsReport = Static<typeof AbandonedCartsReport>;

export const DataExportAccepted = Type.Object({
  id: Uuid,
  requestedAt: Timestamp,
  status: Type.Literal('pending'),
});

export const EraseBody = Type.Object({ password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false });

export const UnsubscribeAnswer = Type.Object({ kind: Type.String(), email: Type.Boolean() });
