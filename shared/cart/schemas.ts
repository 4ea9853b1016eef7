import { Type, type Static } from 'typebox';
import { CouponKindSchema, couponRejections } from '../coupons/schemas.js';
import { Money, Nullable, StringEnum, Timestamp, Uuid } from '../schemas.js';

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
  purchasable: Type.Boolean({
    description: 'false when the product was archived or unpublished since it was added',
  }),
  currency: Type.String(),
});

export const CartCoupon = Type.Object({
  code: Type.String(),
  kind: CouponKindSchema,
  value: Type.Integer(),
  applied: Type.Boolean(),
  reason: Nullable(
    StringEnum(couponRejections, { description: 'why it stopped applying (null while it applies)' }),
  ),
  message: Nullable(Type.String()),
});

/** GET /cart and every cart mutation; totals are those checkout would charge now. */
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
  coupon: Nullable(CartCoupon),
  shippingMethod: Nullable(
    Type.Object({
      id: Uuid,
      name: Type.String(),
      price: Money,
      freeOver: Nullable(Money),
      etaDays: Type.Integer(),
    }),
  ),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const CartTokenHeaders = Type.Object({
  'x-cart-token': Type.Optional(
    Type.String({ minLength: 10, maxLength: 200, description: 'guest cart secret' }),
  ),
});

export type CartLine = Static<typeof CartLine>;
export type CartCoupon = Static<typeof CartCoupon>;
export type CartView = Static<typeof Cart>;
