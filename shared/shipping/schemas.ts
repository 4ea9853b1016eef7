import { Type, type Static } from 'typebox';
import { Money, Nullable, Uuid } from '../schemas.js';

/** Shipping methods: a flat price, free at or above `freeOver` (discounted subtotal), an ETA in days. */
export const ShippingMethod = Type.Object({
  id: Uuid,
  name: Type.String(),
  price: Money,
  currency: Type.String(),
  freeOver: Nullable(Money),
  etaDays: Type.Integer(),
  active: Type.Boolean(),
  position: Type.Integer(),
});

export const ShippingMethodInput = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    price: Type.Integer({ minimum: 0, maximum: 100_000_000 }),
    freeOver: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
    etaDays: Type.Integer({ minimum: 0, maximum: 90 }),
    active: Type.Optional(Type.Boolean()),
    position: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
  },
  { additionalProperties: false },
);

export type ShippingMethodInput = Static<typeof ShippingMethodInput>;
