import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sentBody } from '../../../shared/catalog/cache.js';
import { Type } from 'typebox';
import { can } from '../../../shared/auth/permissions.js';
import { listProducts, suggest, type ListQuery as DomainListQuery } from '../../../shared/catalog/listing.js';
import { findProductJson } from '../../../shared/catalog/products.js';
import { isUuid } from '../../../shared/catalog/slug.js';
import type { CatalogWrites } from '../../../shared/catalog/writes.js';
import { ForbiddenError, NotFoundError } from '../../../shared/errors.js';
import { IdParams, problemResponses } from '../../schemas.js';
import { sendCatalog } from './send.js';
import { ListQuery, Product, ProductInput, ProductPage, ProductPatch, Suggestion, Variant, VariantInput, VariantPatch } from '../../../shared/catalog/schemas.js';

const isCatalogStaff = (request: FastifyRequest) => !!request.auth && can(request.auth.role, 'product:write');
const staffOnly = { permission: 'product:write' as const };
const bearer = [{ bearerAuth: [] }];

// The page's cache key is the query itself (bounded: q, category and cursor have maximum lengths), not a hash of
// it: hashing every cached read cost ~3% of a cached list's CPU for nothing an unambiguous JSON text lacks.
const listSignature = (query: DomainListQuery) =>
  JSON.stringify([query.q, query.category, query.minPrice, query.maxPrice, query.inStock, query.sort, query.limit, query.cursor, query.facets]);

const SIGNATURES_MAX = 1000;
const SIGNATURE_URL_MAX = 512;

/**
 * The signature of a public list, remembered by the request's URL: the validated query (coerced, defaults
 * filled) is a function of the URL's query string, so the same URL always has the same signature, and the hot
 * pages are a handful of URLs asked again and again (stringifying the query was ~1% of a cached list's CPU).
 * Bounded: long URLs are not remembered, and the memo starts over once it holds SIGNATURES_MAX of them.
 */
function signatureMemo() {
  const byUrl = new Map<string, string>();
  return (url: string, query: DomainListQuery): string => {
    let signature = byUrl.get(url);
    if (signature !== undefined) return signature;
    signature = listSignature(query);
    if (url.length <= SIGNATURE_URL_MAX) {
      if (byUrl.size >= SIGNATURES_MAX) byUrl.clear();
      byUrl.set(url, signature);
    }
    return signature;
  };
}

/**
 * Products and variants. Public reads go through the catalog cache (this process, then Redis; see
 * shared/catalog/cache.ts) and carry an ETag; `writes` bump it.
 */
const products: FastifyPluginAsyncTypebox<{ writes: CatalogWrites }> = async (app, { writes }) => {
  const signatureOf = signatureMemo();
  app.get(
    '/products',
    {
      config: { auth: 'optional', workContext: false },
      schema: {
        tags: ['catalog'],
        operationId: 'listProducts',
        security: [{}, ...bearer],
        summary: 'List, filter, sort and search products (cursor pages, optional facets)',
        querystring: ListQuery,
        response: { 200: ProductPage, ...problemResponses(400, 401, 403) },
      },
    },
    // Not async: a page this process holds is sent without a promise (and, with the request's async context
    // tracked, without the hooks every promise runs); anything else goes on in listPage.
    (request, reply) => {
      const query: DomainListQuery = request.query;
      if ((query.status ?? 'active') !== 'active') return listPage(request, reply, query);
      const signature = signatureOf(request.url, query);
      const entry = app.catalogCache.peekList(signature);
      if (entry === undefined) return listPage(request, reply, query, signature);
      const sent = sendCatalog(request, reply, entry, { public: true });
      // A large page gzipped for the first time answers later: Fastify waits for it (and sees its error).
      if (sent instanceof Promise) return sent.then(() => undefined);
    },
  );

  /** A list page this process does not hold: a public one by its signature (shared cache, database), or staff's by status. */
  async function listPage(request: FastifyRequest, reply: FastifyReply, query: DomainListQuery, signature?: string): Promise<void> {
    if (signature === undefined) {
      if (!isCatalogStaff(request)) throw new ForbiddenError('Only catalog staff can list products by status');
      await sendCatalog(request, reply, sentBody(JSON.stringify(await listProducts(app.db, query))), { public: false });
      return;
    }
    const entry = await app.catalogCache.list(signature, () => listProducts(app.db, { ...query, status: 'active' }));
    await sendCatalog(request, reply, entry, { public: true });
  }

  app.get(
    // One parameter name per position under /products (OpenAPI treats /products/{a} and /products/{b} as one path).
    '/products/:id',
    {
      config: { auth: 'optional', workContext: false },
      schema: {
        tags: ['catalog'],
        operationId: 'getProduct',
        security: [{}, ...bearer],
        summary: 'A product with its variants (stock as `available`), images and category',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 120, description: 'The product id (UUID) or its slug' }) }),
        response: { 200: Product, ...problemResponses(401, 404) },
      },
    },
    async (request, reply) => {
      const { id: idOrSlug } = request.params;
      if (isCatalogStaff(request)) {
        const found = await findProductJson(app.db, idOrSlug, { publicOnly: false });
        if (!found) throw new NotFoundError('Product');
        return sendCatalog(request, reply, sentBody(found.json, found.id), { public: false });
      }
      const entry =
        app.catalogCache.peekDetail(idOrSlug) ??
        (await app.catalogCache.detail(idOrSlug, !isUuid(idOrSlug), () => findProductJson(app.db, idOrSlug, { publicOnly: true })));
      if (entry === null) throw new NotFoundError('Product');
      return sendCatalog(request, reply, entry, { public: true });
    },
  );

  app.post(
    '/products',
    {
      config: staffOnly,
      schema: {
        tags: ['catalog'],
        operationId: 'createProduct',
        summary: 'Create a product (optionally with variants)',
        security: bearer,
        body: ProductInput,
        response: { 201: Product, ...problemResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const product = await writes.createProduct(request.body, request.auth?.id ?? null);
      return reply.code(201).header('location', `/api/v1/products/${product.id}`).send(product);
    },
  );

  app.patch(
    '/products/:id',
    {
      config: staffOnly,
      schema: {
        tags: ['catalog'],
        operationId: 'updateProduct',
        summary: 'Change a product',
        security: bearer,
        params: IdParams,
        body: ProductPatch,
        response: { 200: Product, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => writes.updateProduct(request.params.id, request.body, request.auth?.id ?? null),
  );

  app.delete(
    '/products/:id',
    {
      config: staffOnly,
      schema: {
        tags: ['catalog'],
        operationId: 'archiveProduct',
        summary: 'Archive a product (orders keep referring to it)',
        security: bearer,
        params: IdParams,
        response: { 204: Type.Null(), ...problemResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await writes.archiveProduct(request.params.id, request.auth?.id ?? null);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/products/:id/variants',
    {
      config: staffOnly,
      schema: {
        tags: ['catalog'],
        operationId: 'createVariant',
        summary: 'Add a variant (its stock row starts at onHand 0)',
        security: bearer,
        params: IdParams,
        body: VariantInput,
        response: { 201: Variant, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const variant = await writes.createVariant(request.params.id, request.body, request.auth?.id ?? null);
      return reply.code(201).send(variant);
    },
  );

  app.patch(
    '/variants/:id',
    {
      config: staffOnly,
      schema: {
        tags: ['catalog'],
        operationId: 'updateVariant',
        summary: 'Change a variant (price, SKU, options, ...)',
        security: bearer,
        params: IdParams,
        body: VariantPatch,
        response: { 200: Variant, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => writes.updateVariant(request.params.id, request.body, request.auth?.id ?? null),
  );

  app.get(
    '/search/suggestions',
    {
      schema: {
        tags: ['catalog'],
        operationId: 'listSearchSuggestions',
        security: [],
        summary: 'Type-ahead suggestions (typo tolerant) from product titles and category names',
        querystring: Type.Object({ q: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(Suggestion) }), ...problemResponses(400) },
      },
    },
    async (request) => ({ items: await suggest(app.db, request.query.q) }),
  );
};

export default products;
