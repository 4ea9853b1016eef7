import { Type, type Static } from 'typebox';

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
