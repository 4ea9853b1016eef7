import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type TObject } from 'typebox';
import { resolveRange, todayIn } from '../../shared/reports/range.js';
import {
  dashboard,
  inventoryReport,
  salesReport,
  topProducts,
  type Dashboard,
} from '../../shared/reports/sales.js';
import { readSnapshot, type SnapshotInfo } from '../../shared/reports/snapshot.js';
import {
  Dashboard as DashboardSchema,
  InventoryReport,
  RangeQuery,
  reportIntervals,
  SalesReport,
  SnapshotFields,
  TopProduct,
} from '../../shared/reports/schemas.js';
import { StringEnum } from '../../shared/schemas.js';
import { problemResponses, Uuid } from '../schemas.js';

/** A report answer: the report and the snapshot it was read in. */
const withSnapshot = <T extends TObject>(report: T) => Type.Object({ ...report.properties, ...SnapshotFields });
const TopProducts = Type.Object({ items: Type.Array(TopProduct), nextCursor: Type.Null(), ...SnapshotFields });

/** The dashboard may be this old: it is read once per period per API process, whoever asks. */
const DASHBOARD_MAX_AGE_MS = 30_000;

const reports: FastifyPluginAsyncTypebox = async (app) => {
  const { SHOP_TIMEZONE: timeZone, CURRENCY: currency } = app.config;
  const common = { tags: ['reports'], security: [{ bearerAuth: [] }] };

  app.get(
    '/admin/reports/sales',
    {
      config: { permission: 'report:read' },
      schema: {
        ...common,
        operationId: 'adminSalesReport',
        summary:
          'Sales by day, ISO week or month from the payment ledger (cash basis), optionally with the previous period',
        querystring: Type.Object(
          {
            ...RangeQuery,
            interval: StringEnum(reportIntervals, { default: 'day' }),
            compare: Type.Optional(Type.Literal('previous_period')),
          },
          { additionalProperties: false },
        ),
        response: { 200: withSnapshot(SalesReport), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const range = resolveRange(request.query, timeZone);
      const { value, ...snapshot } = await readSnapshot(app.reads, (trx) =>
        salesReport(trx, {
          range,
          interval: request.query.interval,
          compare: request.query.compare,
          timeZone,
          currency,
        }),
      );
      return { ...value, ...snapshot };
    },
  );

  app.get(
    '/admin/reports/top-products',
    {
      config: { permission: 'report:read' },
      schema: {
        ...common,
        operationId: 'adminTopProductsReport',
        summary: 'Best sellers of a range by revenue (after discount, before VAT) or units',
        querystring: Type.Object(
          {
            ...RangeQuery,
            by: Type.Union([Type.Literal('revenue'), Type.Literal('units')], { default: 'revenue' }),
            limit: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: TopProducts, ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const range = resolveRange(request.query, timeZone);
      const { value, ...snapshot } = await readSnapshot(app.reads, (trx) =>
        topProducts(trx, { range, by: request.query.by, limit: request.query.limit, timeZone, currency }),
      );
      return { items: value, nextCursor: null, ...snapshot };
    },
  );

  app.get(
    '/admin/reports/inventory',
    {
      config: { permission: 'report:read' },
      schema: {
        ...common,
        operationId: 'adminInventoryReport',
        summary: 'Stock now (per category) and stock movements of a range by reason',
        querystring: Type.Object(
          { ...RangeQuery, categoryId: Type.Optional(Uuid) },
          { additionalProperties: false },
        ),
        response: { 200: withSnapshot(InventoryReport), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const range = resolveRange(request.query, timeZone);
      const { value, ...snapshot } = await readSnapshot(app.reads, (trx) =>
        inventoryReport(trx, { range, categoryId: request.query.categoryId, timeZone, currency }),
      );
      return { ...value, ...snapshot };
    },
  );

  let cached: { at: number; value: Dashboard & SnapshotInfo } | undefined;
  let pending: Promise<Dashboard & SnapshotInfo> | undefined;
  const freshDashboard = async () => {
    const { value, ...snapshot } = await readSnapshot(app.reads, (trx) =>
      dashboard(trx, { today: todayIn(timeZone), timeZone, currency }),
    );
    return { ...value, ...snapshot };
  };

  app.get(
    '/admin/dashboard',
    {
      config: { permission: 'report:read' },
      schema: {
        ...common,
        operationId: 'adminDashboard',
        summary:
          'Today vs yesterday, the last 7 days, orders to pay and to ship, stock alerts (at most 30 s old)',
        response: { 200: withSnapshot(DashboardSchema), ...problemResponses(401, 403) },
      },
    },
    async () => {
      if (cached && Date.now() - cached.at < DASHBOARD_MAX_AGE_MS) return cached.value;
      // Many managers opening it at once cause one read, not one each.
      pending ??= freshDashboard()
        .then((value) => {
          cached = { at: Date.parse(value.asOf), value };
          return value;
        })
        .finally(() => {
          pending = undefined;
        });
      return pending;
    },
  );
};

export default reports;
