import { Type, type Static } from 'typebox';

/**
 * The parts of Paystack's answers we rely on, as TypeBox schemas: every answer is checked against
 * these before use, so a changed or truncated answer fails loudly instead of paying an order wrongly.
 * Paystack sends amounts as integers or digit strings (kobo) and ids beyond 2^31; both are normalised.
 */
const Kobo = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: '^[0-9]+$' })]);
const NullableString = Type.Union([Type.String(), Type.Null()]);

export const RawTransaction = Type.Object({
  id: Type.Integer(),
  status: Type.String(),
  reference: Type.String(),
  amount: Kobo,
  requested_amount: Type.Optional(Type.Union([Kobo, Type.Null()])),
  currency: Type.String(),
  paid_at: Type.Optional(NullableString),
  paidAt: Type.Optional(NullableString),
  created_at: Type.Optional(NullableString),
  createdAt: Type.Optional(NullableString),
  channel: Type.Optional(NullableString),
  gateway_response: Type.Optional(NullableString),
  fees: Type.Optional(Type.Union([Kobo, Type.Null()])),
  customer: Type.Optional(Type.Union([Type.Object({ email: Type.Optional(NullableString) }), Type.Null()])),
});
export type RawTransaction = Static<typeof RawTransaction>;

export const RawRefund = Type.Object({
  id: Type.Integer(),
  status: Type.String(),
  amount: Kobo,
  currency: Type.String(),
  expected_at: Type.Optional(NullableString),
  created_at: Type.Optional(NullableString),
  createdAt: Type.Optional(NullableString),
  merchant_note: Type.Optional(NullableString),
  // In refund answers `transaction` is an object; in lists it is sometimes just the id.
  transaction: Type.Optional(
    Type.Union([
      Type.Integer(),
      Type.Object({ id: Type.Optional(Type.Integer()), reference: Type.Optional(NullableString) }),
      Type.Null(),
    ]),
  ),
});
export type RawRefund = Static<typeof RawRefund>;

export const InitializeData = Type.Object({
  authorization_url: Type.String({ minLength: 1 }),
  access_code: Type.String(),
  reference: Type.String({ minLength: 1 }),
});

export const ListMeta = Type.Object({
  total: Type.Optional(Type.Integer()),
  perPage: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
  page: Type.Optional(Type.Union([Type.Integer(), Type.String()])),
  pageCount: Type.Optional(Type.Integer()),
});

/** Paystack's envelope: `status` is the call's outcome, never the payment's. */
export const Envelope = Type.Object({
  status: Type.Boolean(),
  message: Type.Optional(Type.String()),
  data: Type.Optional(Type.Unknown()),
  meta: Type.Optional(Type.Unknown()),
  code: Type.Optional(Type.String()),
  type: Type.Optional(Type.String()),
});

/** Transaction statuses as Paystack documents them; `success` is the only one that gives value. */
export type PaystackTransactionStatus =
  | 'success'
  | 'failed'
  | 'abandoned'
  | 'ongoing'
  | 'pending'
  | 'processing'
  | 'queued'
  | 'reversed'
  | (string & {});

export interface PaystackTransaction {
  /** Paystack's transaction id (beyond 2^31: store as bigint). */
  id: number;
  status: PaystackTransactionStatus;
  reference: string;
  /** What was charged, in kobo (includes fees when the customer pays them). */
  amount: number;
  requestedAmount: number | null;
  currency: string;
  paidAt: string | null;
  createdAt: string | null;
  channel: string | null;
  gatewayResponse: string | null;
  customerEmail: string | null;
}

export type PaystackRefundStatus =
  'pending' | 'processing' | 'processed' | 'failed' | 'needs-attention' | (string & {});

export interface PaystackRefund {
  id: number;
  status: PaystackRefundStatus;
  amount: number;
  currency: string;
  transactionId: number | null;
  transactionReference: string | null;
  expectedAt: string | null;
  createdAt: string | null;
  /** What we wrote when creating it (our refund id): how a refund whose create answer was lost is found again. */
  merchantNote: string | null;
}

export interface InitializeInput {
  email: string;
  /** Kobo, an integer. */
  amount: number;
  currency: string;
  reference: string;
  callbackUrl?: string;
  metadata?: Record<string, unknown>;
  channels?: string[];
}

export interface InitializeResult {
  authorizationUrl: string;
  accessCode: string;
  reference: string;
}

export interface ListTransactionsInput {
  from: Date | string;
  to: Date | string;
  status?: string;
  perPage?: number;
}

export interface CreateRefundInput {
  /** Our reference or Paystack's transaction id. */
  transaction: string | number;
  /** Kobo; omitted refunds the whole remaining amount. */
  amount?: number;
  currency?: string;
  merchantNote?: string;
  customerNote?: string;
}

/** A webhook as Paystack posts it: `{event, data}`, no id, no timestamp. */
export interface PaystackWebhook {
  event: string;
  data: Record<string, unknown>;
}
