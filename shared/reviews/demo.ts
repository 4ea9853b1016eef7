import { sql } from 'kysely';
import { hashPassword } from '../auth/passwords.js';
import { randomToken } from '../crypto.js';
import { demoProduct, type DemoSeedContext } from '../catalog/demo.js';

/**
 * Seed step "demo reviews": ratings come from reviews, and reviews from purchases. Demo customers (who
 * cannot sign in: their password is random and thrown away) place delivered, paid orders of the demo
 * catalog, often two pieces that go together, and review some of what they received; the product
 * counters move by the published reviews' sums. Deterministic; runs once (a second run finds the demo
 * orders and adds nothing).
 */

export const DEMO_CUSTOMER_DOMAIN = 'customers.demo.agape.local';
const CUSTOMERS = 40;
const REVIEWED_PRODUCTS = 120;

const firstNames = [
  'Ada',
  'Bola',
  'Chidi',
  'Dayo',
  'Emeka',
  'Funke',
  'Gbenga',
  'Halima',
  'Ifeoma',
  'Jide',
  'Kemi',
  'Lami',
  'Musa',
  'Ngozi',
  'Obi',
  'Tolu',
  'Uche',
  'Yemi',
  'Zainab',
  'Segun',
];
const lastNames = [
  'Okafor',
  'Adeyemi',
  'Bello',
  'Eze',
  'Ibrahim',
  'Nwosu',
  'Ogunleye',
  'Usman',
  'Afolabi',
  'Okoro',
];
const praise: Record<number, [string, string][]> = {
  5: [
    ['Absolutely beautiful', 'The fabric is rich and the finish is neat. I got compliments all evening.'],
    ['Worth every naira', 'True to size and the colours are even better in person.'],
  ],
  4: [
    ['Very nice', 'Good quality and fast delivery to Lagos. Slightly longer than I expected.'],
    ['Happy with it', 'Lovely pattern; the stitching could be a little tidier.'],
  ],
  3: [['Okay', 'Decent for the price, but the colour is a bit duller than the photos.']],
  2: [['Not quite', 'The fit was off and the fabric feels thinner than described.']],
  1: [['Disappointed', 'It arrived late and did not look like the pictures.']],
};

function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function seedReviews({ db, log }: DemoSeedContext): Promise<void> {
  const seeded = await db
    .selectFrom('orders')
    .select('id')
    .where('email', 'like', `%@${DEMO_CUSTOMER_DOMAIN}`)
    .limit(1)
    .executeTakeFirst();
  if (seeded) {
    log('demo reviews: already seeded, nothing added');
    return;
  }
  const demo = Array.from({ length: REVIEWED_PRODUCTS }, (_, i) => demoProduct(i));
  const rows = await db
    .selectFrom('products as p')
    .innerJoin('productVariants as v', 'v.productId', 'p.id')
    .select([
      'p.id',
      'p.slug',
      'p.title',
      'v.id as variantId',
      'v.sku',
      'v.title as variantTitle',
      'v.price',
      'v.currency',
    ])
    .where(
      'p.slug',
      'in',
      demo.map((d) => d.slug),
    )
    .where('p.status', '=', 'active')
    .orderBy('p.slug')
    .orderBy('v.position')
    .execute();
  const bySlug = new Map<string, (typeof rows)[number]>();
  for (const r of rows) if (!bySlug.has(r.slug)) bySlug.set(r.slug, r);
  const products = demo
    .map((d, i) => ({ index: i, demo: d, row: bySlug.get(d.slug) }))
    .filter((p) => p.row !== undefined);
  if (products.length < 2) {
    log('demo reviews: no demo catalog to buy from (run the demo catalog step first)');
    return;
  }

  const rnd = random(2026);
  const pick = <T>(list: readonly T[]) => list[Math.floor(rnd() * list.length)];
  const passwordHash = await hashPassword(randomToken());
  let orders = 0;
  let reviews = 0;
  await db.transaction().execute(async (trx) => {
    const customers = await trx
      .insertInto('users')
      .values(
        Array.from({ length: CUSTOMERS }, (_, i) => ({
          email: `customer${String(i + 1).padStart(2, '0')}@${DEMO_CUSTOMER_DOMAIN}`,
          name: `${firstNames[i % firstNames.length]} ${lastNames[(i * 7) % lastNames.length]}`,
          passwordHash,
          role: 'customer',
          emailVerifiedAt: new Date(),
        })),
      )
      .onConflict((oc) => oc.column('email').doUpdateSet({ name: sql`users.name` }))
      .returning(['id', 'email', 'name'])
      .execute();

    for (const customer of customers) {
      const reviewed = new Set<string>();
      const orderCount = 1 + Math.floor(rnd() * 4);
      for (let k = 0; k < orderCount; k++) {
        // Popular products sell more; pieces sold as a pair (neighbours in the catalog) often go together.
        let first = pick(products);
        for (let tries = 0; tries < 3 && rnd() > first.demo.demand.volume; tries++) first = pick(products);
        const companion = products.find((p) => p.index === (first.index ^ 1));
        const lines = [first, ...(companion && rnd() < 0.6 ? [companion] : [])];
        const subtotal = lines.reduce((sum, l) => sum + l.row!.price, 0);
        const daysAgo = 5 + Math.floor(rnd() * 85);
        const paidAt = sql<Date>`now() - make_interval(days => ${daysAgo})`;
        const order = await trx
          .insertInto('orders')
          .values({
            userId: customer.id,
            email: customer.email,
            customerName: customer.name,
            status: 'delivered',
            currency: 'NGN',
            subtotal,
            total: subtotal,
            amountPaid: subtotal,
            paidAt,
            createdAt: paidAt,
            shippingAddress: JSON.stringify({
              name: customer.name,
              phone: '+2348030000000',
              line1: '12 Broad Street',
              city: 'Lagos',
              state: 'Lagos',
              country: 'NG',
            }),
          })
          .returning(['id', 'number'])
          .executeTakeFirstOrThrow();
        await trx
          .insertInto('orderItems')
          .values(
            lines.map((l) => ({
              orderId: order.id,
              productId: l.row!.id,
              variantId: l.row!.variantId,
              title: l.row!.title,
              variantTitle: l.row!.variantTitle,
              sku: l.row!.sku,
              unitPrice: l.row!.price,
              quantity: 1,
              lineTotal: l.row!.price,
              currency: l.row!.currency,
            })),
          )
          .execute();
        await trx
          .insertInto('payments')
          .values({
            orderId: order.id,
            reference: `demo-${order.number}`,
            amount: subtotal,
            currency: 'NGN',
            status: 'success',
            paidAmount: subtotal,
            paidCurrency: 'NGN',
            paidAt,
          })
          .execute();
        const path = ['pending_payment', 'paid', 'processing', 'shipped', 'delivered'] as const;
        await trx
          .insertInto('orderStatusHistory')
          .values(
            path.map((to, i) => ({
              orderId: order.id,
              fromStatus: i === 0 ? null : path[i - 1],
              toStatus: to,
              createdAt: sql<Date>`now() - make_interval(days => ${daysAgo - i})`,
            })),
          )
          .execute();
        orders++;
        for (const l of lines) {
          if (reviewed.has(l.row!.id) || rnd() > 0.6) continue;
          reviewed.add(l.row!.id);
          const leaning = 2.5 + 2.5 * l.demo.demand.leaning;
          const rating = Math.min(5, Math.max(1, Math.round(leaning + (rnd() - 0.5) * 2)));
          const [title, body] = pick(praise[rating]);
          await trx
            .insertInto('reviews')
            .values({
              productId: l.row!.id,
              authorId: customer.id,
              orderId: order.id,
              rating,
              title,
              body,
              state: 'published',
              publishedAt: sql`now() - make_interval(days => ${Math.max(0, daysAgo - 6)})`,
              createdAt: sql`now() - make_interval(days => ${Math.max(0, daysAgo - 6)})`,
            })
            .execute();
          reviews++;
        }
      }
    }
    // The counters move by the published reviews just written, as every review write moves them.
    await sql`
      UPDATE products p SET rating_sum = p.rating_sum + a.sum, rating_count = p.rating_count + a.count
      FROM (SELECT r.product_id, sum(r.rating)::bigint AS sum, count(*)::int AS count FROM reviews r
            JOIN users u ON u.id = r.author_id WHERE u.email LIKE ${`%@${DEMO_CUSTOMER_DOMAIN}`} AND r.state = 'published'
            GROUP BY r.product_id) a
      WHERE p.id = a.product_id`.execute(trx);
  });
  log(`demo reviews: ${CUSTOMERS} demo customers, ${orders} delivered orders, ${reviews} published reviews`);
}
