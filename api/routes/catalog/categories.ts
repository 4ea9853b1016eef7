import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { categoryTree } from '../../../shared/catalog/categories.js';
import type { CatalogWrites } from '../../../shared/catalog/writes.js';
import { IdParams, problemResponses } from '../../schemas.js';
import { Category, CategoryInput, CategoryNode, CategoryPatch } from '../../../shared/catalog/schemas.js';

const staffOnly = { permission: 'product:write' as const };
const bearer = [{ bearerAuth: [] }];

const categories: FastifyPluginAsyncTypebox<{ writes: CatalogWrites }> = async (app, { writes }) => {
  app.get(
    '/categories',
    {
      schema: {
        tags: ['catalog'],
        operationId: 'listCategories',
        security: [],
        summary: 'The category tree (each node has `children`)',
        response: { 200: Type.Object({ items: Type.Array(CategoryNode) }) },
      },
    },
    async () => ({ items: await categoryTree(app.db) }),
  );

  app.post(
    '/categories',
    {
      config: staffOnly,
      schema: {
        tags: ['catalog'],
        operationId: 'createCategory',
        summary: 'Create a category',
        security: bearer,
        body: CategoryInput,
        response: { 201: Category, ...problemResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const category = await writes.createCategory(request.body, request.auth?.id ?? null);
      return reply.code(201).send(category);
    },
  );

  app.patch(
    '/categories/:id',
    {
      config: staffOnly,
      schema: {
        tags: ['catalog'],
        operationId: 'updateCategory',
        summary: 'Rename, move or reorder a category',
        security: bearer,
        params: IdParams,
        body: CategoryPatch,
        response: { 200: Category, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => writes.updateCategory(request.params.id, request.body, request.auth?.id ?? null),
  );

  app.delete(
    '/categories/:id',
    {
      config: staffOnly,
      schema: {
        tags: ['catalog'],
        operationId: 'deleteCategory',
        summary: 'Delete an empty category (409 while it has products or sub-categories)',
        security: bearer,
        params: IdParams,
        response: { 204: Type.Null(), ...problemResponses(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      await writes.deleteCategory(request.params.id, request.auth?.id ?? null);
      return reply.code(204).send(null);
    },
  );
};

export default categories;
