import { Type, type Static } from 'typebox';
import { StringEnum } from '../schemas.js';

/** What moves a balance. Credits: refund, grant, spend_reversal; debits: debit, spend (the ledger's CHECK). */
export const creditEntryKinds = ['refund', 'grant', 'debit', 'spend', 'spend_reversal'] as const;
export type CreditEntryKind = (typeof creditEntryKinds)[number];

const Kobo = (description: string) => Type.Integer({ description });
const NullableUuid = Type.Union([Type.String({ format: 'uuid' }), Type.Null()]);

export const CreditBalanceSchema = Type.Object({
  balance: Type.Object({ amount: Kobo('kobo, never negative'), currency: Type.String() }),
});
export type CreditBalance = Static<typeof CreditBalanceSchema>;

export const CreditEntrySchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  seq: Type.Integer({ description: 'gap-free per account, from 1' }),
  amount: Kobo('kobo, signed: positive adds to the balance'),
  balanceAfter: Kobo('the balance once this entry was written'),
  currency: Type.String(),
  kind: Type.Enum(creditEntryKinds),
  orderId: NullableUuid,
  reason: Type.String(),
  actorId: NullableUuid,
  createdAt: Type.String({ format: 'date-time' }),
});
export type CreditEntry = Static<typeof CreditEntrySchema>;

export const CreditEntryListSchema = Type.Object({
  items: Type.Array(CreditEntrySchema),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

export const CreditStatementSchema = Type.Object({
  from: Type.String({ format: 'date' }),
  to: Type.String({ format: 'date' }),
  currency: Type.String(),
  opening: Kobo('the balance at the start of `from` (shop time)'),
  credits: Kobo('the sum of positive entries in the range'),
  debits: Kobo('the sum of negative entries in the range, as a positive number'),
  closing: Kobo('opening + credits − debits: the balance at the end of `to`'),
  entries: Type.Array(CreditEntrySchema, { description: 'the range’s entries, oldest first' }),
});
export type CreditStatement = Static<typeof CreditStatementSchema>;

export const CreditGrantBodySchema = Type.Object(
  {
    amount: Type.Integer({
      minimum: -(2 ** 53 - 1),
      maximum: 2 ** 53 - 1,
      description: 'kobo, not 0: positive grants credit, negative takes it back (a `debit`)',
    }),
    reason: Type.String({ minLength: 1, maxLength: 500 }),
  },
  { additionalProperties: false },
);
export type CreditGrantBody = Static<typeof CreditGrantBodySchema>;

export const AccountCreditSchema = Type.Object({
  userId: Type.String({ format: 'uuid' }),
  balance: CreditBalanceSchema.properties.balance,
  entries: Type.Array(CreditEntrySchema, { description: 'the latest 20 entries, newest first' }),
});
export type AccountCredit = Static<typeof AccountCreditSchema>;

/** POST /checkout's `storeCredit`: kobo to spend (at most the total), or "max" = as much as the balance and total allow. */
export const StoreCreditRequestSchema = Type.Union(
  [Type.Integer({ minimum: 0, maximum: 2 ** 53 - 1 }), Type.Literal('max')],
  {
    description:
      'store credit to spend on this order: kobo (at most the total; more than the balance is 409 `insufficient_credit`), ' +
      'or "max" for as much as the balance covers. Paystack is asked for the rest; a full cover is paid at once (`payment: null`)',
  },
);
export type StoreCreditRequest = Static<typeof StoreCreditRequestSchema>;

/** What the nightly ledger check (shared/credit/ledger-checks.ts) can find. */
export const creditDiscrepancyKinds = [
  /** The account's balance is not Σ entries, not the last balance_after, or seq has a gap. */
  'balance_mismatch',
  /** A spend not tied to an order. */
  'spend_without_order',
  /** The spend's order was cancelled unpaid and its credit never came back. */
  'spend_unresolved',
  /** The order was paid AND its credit came back: the customer has both. */
  'spend_resolved_twice',
  /** The reversal gave back another amount than was spent. */
  'reversal_amount_mismatch',
  /** The credit payment row of the spend is missing, of another amount, or its status disagrees with the ledger. */
  'spend_payment_mismatch',
  /** A reversal for an order that spent nothing. */
  'reversal_without_spend',
  /** A refund part paid as credit whose entry is not a `refund` of its amount, or that is not processed. */
  'refund_entry_mismatch',
] as const;
export type CreditDiscrepancyKind = (typeof creditDiscrepancyKinds)[number];


/** A finding of the nightly ledger check, as a reconciliation run lists it (`creditDiscrepancies`). */
export const CreditDiscrepancySchema = Type.Object({
  kind: StringEnum(creditDiscrepancyKinds),
  userId: NullableUuid,
  orderId: NullableUuid,
  entryId: NullableUuid,
  detail: Type.String(),
});
export type CreditDiscrepancy = Static<typeof CreditDiscrepancySchema>;

