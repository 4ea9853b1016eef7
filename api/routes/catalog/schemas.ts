import { Type } from 'typebox';
import { SLUG_PATTERN } from '../../../shared/catalog/slug.js';
import { Timestamp, Uuid } from '../../schemas.js';
import { ProductStatusSchema, productSorts, productStatuses } from '../../../shared/catalog/schemas.js';
import { StringEnum } from '../../../shared/schemas.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const Kobo = Type.Integer({ minimum: 0, maximum: 1_000_000_000_000, description: 'minor units (kobo)' });
export const Currency = Type.String({ pattern: '^[A-Z]{3}$' });
export const Slug = Type.String({ pattern: SLUG_PATTERN, minLength: 1, maxLength: 120 });
export const Status = ProductStatusSchema;

export const ImageUrls = Type.Object({ thumb: Type.String(), card: Type.String(), zoom: Type.String() });
export const Image = Type.Object({ id: Uuid, urls: ImageUrls, alt: Type.String(), position: Type.Integer() });

export const ListItem = Type.Object({
  id: Uuid,
  slug: Type.String(),
  title: Type.String(),
  priceFrom: Nullable(Type.Integer()),
  currency: Type.String(),
  images: Type.Array(Image),
  rating: Type.Number(),
  inStock: Type.Boolean(),
});

export const Facets = Type.Object({
  categories: Type.Array(Type.Object({ slug: Type.String(), count: Type.Integer() })),
  priceBands: Type.Array(Type.Object({ min: Type.Integer(), max: Nullable(Type.Integer()), count: Type.Integer() })),
});

export const ProductPage = Type.Object({
  items: Type.Array(ListItem),
  nextCursor: Nullable(Type.String()),
  facets: Type.Optional(Facets),
});

export const ListQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    category: Type.Optional(Type.String({ minLength: 1, maxLength: 120 })),
    minPrice: Type.Optional(Kobo),
    maxPrice: Type.Optional(Kobo),
    inStock: Type.Optional(Type.Boolean()),
    sort: Type.Optional(
      StringEnum(productSorts),
    ),
    facets: Type.Optional(Type.Boolean()),
    status: Type.Optional(StringEnum([...productStatuses, 'any'], { description: 'staff only' })),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);

export const Variant = Type.Object({
  id: Uuid,
  sku: Type.String(),
  title: Type.String(),
  options: Type.Record(Type.String(), Type.String()),
  price: Type.Integer(),
  compareAtPrice: Nullable(Type.Integer()),
  currency: Type.String(),
  weightGrams: Nullable(Type.Integer()),
  available: Type.Integer({ minimum: 0 }),
});

export const Product = Type.Object({
  id: Uuid,
  slug: Type.String(),
  title: Type.String(),
  description: Type.String(),
  status: Status,
  category: Nullable(Type.Object({ id: Uuid, slug: Type.String(), name: Type.String() })),
  tags: Type.Array(Type.String()),
  attributes: Type.Record(Type.String(), Type.Unknown()),
  vendor: Nullable(Type.String()),
  productType: Nullable(Type.String()),
  seoTitle: Nullable(Type.String()),
  seoDescription: Nullable(Type.String()),
  priceFrom: Nullable(Type.Integer()),
  currency: Type.String(),
  inStock: Type.Boolean(),
  rating: Type.Number(),
  ratingCount: Type.Integer(),
  variants: Type.Array(Variant),
  images: Type.Array(Image),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

const Options = Type.Record(Type.String({ maxLength: 50 }), Type.String({ maxLength: 100 }), { maxProperties: 3 });

export const VariantInput = Type.Object(
  {
    sku: Type.String({ minLength: 1, maxLength: 64, pattern: '^\\S+$' }),
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    options: Type.Optional(Options),
    price: Kobo,
    compareAtPrice: Type.Optional(Nullable(Kobo)),
    currency: Type.Optional(Currency),
    weightGrams: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 1_000_000 }))),
    position: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
  },
  { additionalProperties: false },
);
export const VariantPatch = Type.Partial(VariantInput, { additionalProperties: false, minProperties: 1 });

const productFields = {
  title: Type.String({ minLength: 1, maxLength: 200 }),
  slug: Type.Optional(Slug),
  description: Type.Optional(Type.String({ maxLength: 20_000 })),
  status: Type.Optional(Status),
  categoryId: Type.Optional(Nullable(Uuid)),
  tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 50 }), { maxItems: 50 })),
  attributes: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  vendor: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
  productType: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
  seoTitle: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
  seoDescription: Type.Optional(Nullable(Type.String({ maxLength: 500 }))),
};
export const ProductInput = Type.Object(
  { ...productFields, variants: Type.Optional(Type.Array(VariantInput, { maxItems: 100 })) },
  { additionalProperties: false },
);
export const ProductPatch = Type.Partial(Type.Object(productFields), { additionalProperties: false, minProperties: 1 });

export const Category = Type.Object({
  id: Uuid,
  parentId: Nullable(Uuid),
  name: Type.String(),
  slug: Type.String(),
  description: Nullable(Type.String()),
  position: Type.Integer(),
});
export const CategoryNode = Type.Object({
  ...Category.properties,
  // The tree is any depth; nested nodes have this same shape.
  children: Type.Array(Type.Unknown()),
});
export const CategoryInput = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 120 }),
    slug: Type.Optional(Slug),
    parentId: Type.Optional(Nullable(Uuid)),
    description: Type.Optional(Nullable(Type.String({ maxLength: 2_000 }))),
    position: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  },
  { additionalProperties: false },
);
export const CategoryPatch = Type.Partial(CategoryInput, { additionalProperties: false, minProperties: 1 });

export const Suggestion = Type.Object({
  type: Type.Union([Type.Literal('product'), Type.Literal('category')]),
  text: Type.String(),
  slug: Type.String(),
});
