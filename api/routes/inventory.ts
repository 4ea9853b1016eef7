import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { isStaff } from '../../shared/auth/permissions.js';
import { ForbiddenError } from '../../shared/errors.js';
import { bulkAdjust, changeStock, listInventory } from '../../shared/inventory/index.js';
import { Page, PageQuery, problemResponses, Uuid } from '../schemas.js';
import { InventoryItem, StockRow } from '../../shared/inventory/schemas.js';

const tags = ['inventory'];
const security = [{ bearerAuth: [] }];
const Threshold = Type.Integer({ minimum: 0, maximum: 1_000_000 });
const Reason = Type.String({ minLength: 1, maxLength: 200 });
const Delta = Type.Integer({ minimum: -1_000_000, maximum: 1_000_000, not: { const: 0 } });

function requireStaff(request: FastifyRequest) {
  if (!request.auth || !isStaff(request.auth.role)) throw new ForbiddenError();
}

/** Stock levels for staff (reads: any staff role; changes: `inventory:write`). */
const inventoryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, config } = app;
  const ListQuery = Type.Object(
    {
      ...PageQuery,
      lowStock: Type.Optional(Type.Boolean({ description: 'only variants at or below their threshold' })),
      sku: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'SKU prefix, case-insensitive' })),
    },
    { additionalProperties: false },
  );

  app.get(
    '/inventory',
    {
      config: { auth: 'required' },
      schema: { tags, operationId: 'listInventory', summary: 'Stock per variant', security, querystring: ListQuery, response: { 200: Page(InventoryItem), ...problemResponses(400, 401, 403) } },
    },
    async (request) => {
      requireStaff(request);
      return listInventory(db, request.query);
    },
  );

  app.get(
    '/inventory/alerts',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        operationId: 'listInventoryAlerts',
        summary: 'Variants at or below their low-stock threshold',
        security,
        querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
        response: { 200: Page(InventoryItem), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      requireStaff(request);
      return listInventory(db, { ...request.query, lowStock: true });
    },
  );

  app.patch(
    '/inventory/:variantId',
    {
      config: { permission: 'inventory:write' },
      schema: {
        tags,
        operationId: 'updateInventory',
        summary: 'Set a count ({onHand, version}; stale version → 409 version_conflict) or adjust ({delta, reason})',
        security,
        params: Type.Object({ variantId: Uuid }),
        body: Type.Union([
          Type.Object({ onHand: Type.Integer({ minimum: 0, maximum: 10_000_000 }), version: Type.Integer({ minimum: 0 }), lowStockThreshold: Type.Optional(Threshold) }, { additionalProperties: false }),
          Type.Object({ delta: Delta, reason: Reason, lowStockThreshold: Type.Optional(Threshold) }, { additionalProperties: false }),
        ]),
        response: { 200: StockRow, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => changeStock(db, request.params.variantId, request.body, request.auth!.id, config.PUBLIC_URL),
  );

  app.post(
    '/inventory/bulk-adjust',
    {
      config: { permission: 'inventory:write' },
      schema: {
        tags,
        operationId: 'bulkAdjustInventory',
        summary: 'Adjust many SKUs at once, all or nothing (409 bulk_adjust_failed names the failing SKUs)',
        security,
        body: Type.Object(
          {
            items: Type.Array(Type.Object({ sku: Type.String({ minLength: 1, maxLength: 100 }), delta: Delta }, { additionalProperties: false }), {
              minItems: 1,
              maxItems: 1000,
            }),
            reason: Reason,
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(StockRow) }), ...problemResponses(400, 401, 403, 409) },
      },
    },
    async (request) => ({ items: await bulkAdjust(db, request.body.items, request.body.reason, request.auth!.id, config.PUBLIC_URL) }),
  );
};
export default inventoryRoutes;
