import { Type, type Static } from 'typebox';
import { paymentStatuses } from '../payments/schemas.js';
import { Nullable, StringEnum } from '../schemas.js';

/** A payment attempt as checkout and POST /orders/:id/pay start it. */
export const PaymentStart = Type.Object({
  reference: Type.String(),
  authorizationUrl: Nullable(Type.String()),
  accessCode: Nullable(Type.String()),
  status: StringEnum(paymentStatuses, {
    description: 'initialized | init_failed | initializing (the latter only when recovered after a crash)',
  }),
  /** Why the authorization URL is missing, for the customer. */
  message: Nullable(Type.String()),
});

export type PaymentStart = Static<typeof PaymentStart>;
