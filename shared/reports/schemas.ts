import { Type, type Static } from 'typebox';
import { Nullable, StringEnum, Timestamp, Uuid } from '../schemas.js';

/** How a sales report groups days: ISO weeks start on Monday, months on the 1st. */
export const reportIntervals = ['day', 'week', 'month'] as const;
export type Interval = (typeof reportIntervals)[number];
export const IntervalSchema = StringEnum(reportIntervals);

/** Where a report was read (shared/reports/snapshot.ts). */
export const snapshotSources = ['primary', 'replica'] as const;
export type SnapshotSource = (typeof snapshotSources)[number];
/** What every report answer adds: the instant its one snapshot describes, and where it was read. */
export const SnapshotFields = { asOf: Timestamp, source: StringEnum(snapshotSources) };

export const LocalDate = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}$',
  description: 'a date YYYY-MM-DD in SHOP_TIMEZONE',
});
export const RangeQuery = {
  from: Type.Optional(LocalDate),
  to: Type.Optional({ ...LocalDate, description: 'inclusive; default today (from: 29 days earlier)' }),
};

const Kobo = Type.Integer({ description: 'kobo (minor units of `currency`)' });

export const SalesFigures = Type.Object({ orders: Type.Integer(), gross: Kobo, refunded: Kobo, net: Kobo });
export const SalesTotals = Type.Object({
  ...SalesFigures.properties,
  averageOrderValue: Kobo,
  subtotal: Kobo,
  discount: Kobo,
  shipping: Kobo,
  tax: Kobo,
  paystack: Kobo,
  storeCredit: Kobo,
});
/** `start`: the bucket's first day (a Monday for ISO weeks, the 1st for months); `end` its last, inclusive; both clamped to the range. */
export const SalesBucket = Type.Object({ start: LocalDate, end: LocalDate, ...SalesFigures.properties });
export const SalesPeriod = Type.Object({
  from: LocalDate,
  to: LocalDate,
  totals: SalesTotals,
  buckets: Type.Array(SalesBucket),
});
export const SalesReport = Type.Object({
  ...SalesPeriod.properties,
  interval: IntervalSchema,
  currency: Type.String(),
  previous: Type.Optional(SalesPeriod),
});

export const TopProduct = Type.Object({
  productId: Uuid,
  title: Type.String(),
  units: Type.Integer(),
  revenue: Kobo,
  refundedUnits: Type.Integer(),
});

export const StockFigures = Type.Object({
  variants: Type.Integer(),
  outOfStock: Type.Integer(),
  lowStock: Type.Integer(),
  unitsOnHand: Type.Integer(),
  unitsReserved: Type.Integer(),
  retailValue: Kobo,
});
export const InventoryReport = Type.Object({
  ...StockFigures.properties,
  currency: Type.String(),
  categories: Type.Array(
    Type.Object({
      categoryId: Nullable(Uuid),
      name: Nullable(Type.String()),
      ...StockFigures.properties,
    }),
  ),
  movements: Type.Array(
    Type.Object({
      reason: Type.String(),
      movements: Type.Integer(),
      onHand: Type.Integer(),
      reserved: Type.Integer(),
    }),
  ),
});

const Day = Type.Object({ date: LocalDate, ...SalesFigures.properties });
/** Counts of features not built yet are null until they exist. */
const NullableCount = Nullable(Type.Integer());
export const Dashboard = Type.Object({
  currency: Type.String(),
  today: Day,
  yesterday: Day,
  last7Days: SalesPeriod,
  ordersToPay: Type.Integer(),
  ordersToShip: Type.Integer(),
  lowStock: Type.Integer(),
  outOfStock: Type.Integer(),
  openReturns: NullableCount,
  openConversations: NullableCount,
  pendingApprovals: NullableCount,
});

export type SalesFigures = Static<typeof SalesFigures>;
export type SalesTotals = Static<typeof SalesTotals>;
export type SalesBucket = Static<typeof SalesBucket>;
export type SalesPeriod = Static<typeof SalesPeriod>;
export type SalesReport = Static<typeof SalesReport>;
export type TopProduct = Static<typeof TopProduct>;
export type StockFigures = Static<typeof StockFigures>;
export type InventoryReport = Static<typeof InventoryReport>;
export type Dashboard = Static<typeof Dashboard>;
