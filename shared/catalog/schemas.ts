import { StringEnum } from '../schemas.js';

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
