import { Type, type Static } from 'typebox';
import { Currency, Kobo, Nullable, StringEnum, Timestamp, Uuid } from '../schemas.js';
import { SLUG_PATTERN } from './slug.js';

export const productStatuses = ['draft', 'active', 'archived'] as const;
export type ProductStatus = (typeof productStatuses)[number];
export const ProductStatusSchema = StringEnum(productStatuses);

export const productSorts = ['relevance', 'newest', 'price_asc', 'price_desc', 'rating'] as const;
export type ProductSort = (typeof productSorts)[number];

/** Where a product image's files are kept (shared/media). */
export const imageStorages = ['local', 'cloudinary'] as const;
export type ImageStorage = (typeof imageStorages)[number];

/** A product CSV import job. */
export const importStatuses = ['queued', 'running', 'completed', 'failed'] as const;
export type ImportStatus = (typeof importStatuses)[number];
export const ImportStatusSchema = StringEnum(importStatuses);

export const Slug = Type.String({ pattern: SLUG_PATTERN, minLength: 1, maxLength: 120 });

export const ImageUrls = Type.Object({ thumb: Type.String(), card: Type.String(), zoom: Type.String() });
export const Image = Type.Object({ id: Uuid, urls: ImageUrls, alt: Type.String(), position: Type.Integer() });

export const ListItem = Type.Object({
  id: Uuid,
  slug: Type.String(),
  title: Type.String(),
  priceFrom: Nullable(Type.Integer()),
  currency: Type.String(),
  images: Type.Array(Image),
  rating: Nullable(Type.Number({ description: 'average of the published reviews, one decimal; null without any' })),
  reviewCount: Type.Integer({ minimum: 0 }),
  inStock: Type.Boolean(),
});

export const Facets = Type.Object({
  categories: Type.Array(Type.Object({ slug: Type.String(), count: Type.Integer() })),
  priceBands: Type.Array(
    Type.Object({ min: Type.Integer(), max: Nullable(Type.Integer()), count: Type.Integer() }),
  ),
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
    sort: Type.Optional(StringEnum(productSorts)),
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
  status: ProductStatusSchema,
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
  rating: Nullable(Type.Number({ description: 'average of the published reviews, one decimal; null without any' })),
  reviewCount: Type.Integer({ minimum: 0 }),
  ratingCount: Type.Integer({ description: 'the same as reviewCount (kept for older clients)' }),
  variants: Type.Array(Variant),
  images: Type.Array(Image),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

const Options = Type.Record(Type.String({ maxLength: 50 }), Type.String({ maxLength: 100 }), {
  maxProperties: 3,
});

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
  status: Type.Optional(ProductStatusSchema),
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
export const ProductPatch = Type.Partial(Type.Object(productFields), {
  additionalProperties: false,
  minProperties: 1,
});

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

/** A row of a product import the file could not take (csv.ts reports at most MAX_REPORTED_ERRORS). */
export const RowError = Type.Object({
  line: Type.Integer(),
  handle: Type.Optional(Type.String()),
  reason: Type.String(),
});

export const ImportView = Type.Object({
  id: Uuid,
  status: ImportStatusSchema,
  filename: Type.String(),
  totalRows: Type.Integer(),
  processedRows: Type.Integer(),
  productsCreated: Type.Integer(),
  productsUpdated: Type.Integer(),
  errors: Type.Array(RowError),
  createdAt: Timestamp,
  finishedAt: Nullable(Timestamp),
});

export type ListQuery = Static<typeof ListQuery>;
export type ListItem = Static<typeof ListItem>;
export type Facets = Static<typeof Facets>;
export type ListPage = Static<typeof ProductPage>;
export type Suggestion = Static<typeof Suggestion>;
export type ImageView = Static<typeof Image>;
export type VariantView = Static<typeof Variant>;
export type ProductView = Static<typeof Product>;
export type VariantInput = Static<typeof VariantInput>;
export type ProductInput = Static<typeof ProductInput>;
export type CategoryInput = Static<typeof CategoryInput>;
/** The tree is any depth: a node's children are nodes (the schema says `unknown` there, to stay flat). */
export type CategoryNode = Static<typeof Category> & { children: CategoryNode[] };
export type RowError = Static<typeof RowError>;
export type ImportView = Static<typeof ImportView>;
