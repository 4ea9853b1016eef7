import { sql } from 'kysely';
import sharp from 'sharp';
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import { createMediaStorage } from '../media/storage.js';
import { slugify } from './slug.js';

/** What a seed step receives (scripts/seed.ts); kept structural so shared/ does not import scripts/. */
export interface DemoSeedContext {
  db: Db;
  config: Config;
  log: (message: string) => void;
  args: string[];
}

const tree: Record<string, string[]> = {
  Women: ['Dresses', 'Tops', 'Skirts', 'Jumpsuits', 'Two-Piece Sets'],
  Men: ['Agbada', 'Kaftans', 'Shirts', 'Trousers', 'Senator Suits'],
  Accessories: ['Gele & Headwraps', 'Bags', 'Jewellery', 'Caps', 'Scarves'],
  Fabrics: ['Ankara Fabric', 'Adire Fabric', 'Aso Oke Fabric', 'Kente Fabric', 'Lace Fabric'],
};

const fabrics = ['Ankara', 'Adire', 'Aso Oke', 'Kente', 'Lace', 'Batik', 'Akwete', 'George'];
const adjectives = ['Classic', 'Royal', 'Bold', 'Everyday', 'Owambe', 'Festive', 'Heritage', 'Modern', 'Sunday', 'Elegant'];
const styles: Record<string, { names: string[]; price: [number, number]; axis: 'size' | 'color' | 'length' }> = {
  Dresses: { names: ['Maxi Dress', 'Wrap Dress', 'Midi Dress', 'Shift Dress', 'Mermaid Gown'], price: [18_000, 65_000], axis: 'size' },
  Tops: { names: ['Peplum Top', 'Blouse', 'Crop Top', 'Kimono Jacket'], price: [9_000, 28_000], axis: 'size' },
  Skirts: { names: ['Pencil Skirt', 'Flare Skirt', 'Wrap Skirt'], price: [10_000, 30_000], axis: 'size' },
  Jumpsuits: { names: ['Jumpsuit', 'Palazzo Jumpsuit'], price: [20_000, 45_000], axis: 'size' },
  'Two-Piece Sets': { names: ['Two-Piece Set', 'Crop and Skirt Set'], price: [22_000, 55_000], axis: 'size' },
  Agbada: { names: ['Agbada', 'Grand Agbada'], price: [45_000, 150_000], axis: 'size' },
  Kaftans: { names: ['Kaftan', 'Long Kaftan'], price: [18_000, 60_000], axis: 'size' },
  Shirts: { names: ['Shirt', 'Short-Sleeve Shirt', 'Dashiki'], price: [9_000, 25_000], axis: 'size' },
  Trousers: { names: ['Trousers', 'Joggers'], price: [10_000, 26_000], axis: 'size' },
  'Senator Suits': { names: ['Senator Suit'], price: [30_000, 85_000], axis: 'size' },
  'Gele & Headwraps': { names: ['Gele', 'Headwrap', 'Turban'], price: [5_000, 25_000], axis: 'color' },
  Bags: { names: ['Tote Bag', 'Clutch', 'Backpack'], price: [8_000, 35_000], axis: 'color' },
  Jewellery: { names: ['Beaded Necklace', 'Coral Bead Set', 'Earrings'], price: [4_000, 40_000], axis: 'color' },
  Caps: { names: ['Fila Cap', 'Bucket Hat'], price: [4_000, 15_000], axis: 'color' },
  Scarves: { names: ['Scarf', 'Stole'], price: [5_000, 18_000], axis: 'color' },
  'Ankara Fabric': { names: ['Fabric'], price: [8_000, 25_000], axis: 'length' },
  'Adire Fabric': { names: ['Fabric'], price: [9_000, 28_000], axis: 'length' },
  'Aso Oke Fabric': { names: ['Fabric Bundle'], price: [25_000, 90_000], axis: 'length' },
  'Kente Fabric': { names: ['Fabric'], price: [30_000, 120_000], axis: 'length' },
  'Lace Fabric': { names: ['Fabric'], price: [20_000, 80_000], axis: 'length' },
};
const axisValues = {
  size: ['XS', 'S', 'M', 'L', 'XL', 'XXL'],
  color: ['Gold', 'Wine', 'Royal Blue', 'Emerald', 'Coral', 'Silver'],
  length: ['2 yards', '4 yards', '6 yards', '8 yards', '10 yards', '12 yards'],
};

/** A small deterministic PRNG (mulberry32): the same N gives the same catalog on every machine. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface DemoProduct {
  slug: string;
  title: string;
  description: string;
  category: string;
  tags: string[];
  /** How the demo reviews step treats it: its leaning (0 = lukewarm, 1 = loved) and how often it sells (0–1). */
  demand: { leaning: number; volume: number };
  variants: { sku: string; title: string; options: Record<string, string>; price: number; compareAtPrice: number | null; onHand: number }[];
}

const leaves = Object.values(tree).flat();

/** Product `i` of the demo catalog (pure: depends only on i). */
export function demoProduct(i: number): DemoProduct {
  const rnd = random(i + 1);
  const pick = <T>(list: readonly T[]) => list[Math.floor(rnd() * list.length)];
  const category = leaves[i % leaves.length];
  const style = styles[category];
  const fabric = category.endsWith(' Fabric') ? category.replace(' Fabric', '') : pick(fabrics);
  const title = `${pick(adjectives)} ${fabric} ${pick(style.names)}`;
  const [lo, hi] = style.price;
  const base = Math.round((lo + rnd() * (hi - lo)) / 500) * 500 * 100;
  const count = 2 + Math.floor(rnd() * 5);
  const values = axisValues[style.axis];
  const start = Math.floor(rnd() * (values.length - count + 1));
  const axisName = style.axis === 'size' ? 'Size' : style.axis === 'color' ? 'Color' : 'Length';
  const number = String(i + 1).padStart(5, '0');
  return {
    slug: `${slugify(title)}-${number}`,
    title,
    description: `${title} from our Lagos workshop: ${fabric.toLowerCase()} ${category.toLowerCase()}, hand-finished. Tailored fit, true to Nigerian sizing.`,
    category,
    tags: [slugify(fabric), slugify(category), ...(rnd() < 0.3 ? ['owambe'] : []), ...(rnd() < 0.2 ? ['new-arrival'] : [])],
    demand: { leaning: rnd(), volume: rnd() },
    variants: values.slice(start, start + count).map((value, j) => {
      const step = style.axis === 'length' ? j * Math.round(base / 4 / 100) * 100 : j >= 4 ? 100_000 : 0;
      return {
        sku: `AGP-${number}-${j + 1}`,
        title: value,
        options: { [axisName]: value },
        price: base + step,
        compareAtPrice: rnd() < 0.2 ? Math.round((base * 1.25) / 10_000) * 10_000 : null,
        onHand: rnd() < 0.15 ? 0 : Math.floor(rnd() * 25),
      };
    }),
  };
}

async function seedCategories(db: Db): Promise<Map<string, string>> {
  let position = 0;
  for (const [parent, children] of Object.entries(tree)) {
    const p = await db
      .insertInto('categories')
      .values({ name: parent, slug: slugify(parent), position: position++ })
      .onConflict((oc) => oc.column('slug').doUpdateSet({ name: parent }))
      .returning('id')
      .executeTakeFirstOrThrow();
    for (const [i, child] of children.entries()) {
      await db
        .insertInto('categories')
        .values({ name: child, slug: slugify(child), parentId: p.id, position: i })
        .onConflict((oc) => oc.column('slug').doNothing())
        .execute();
    }
  }
  const rows = await db.selectFrom('categories').select(['id', 'name']).execute();
  return new Map(rows.map((r) => [r.name, r.id]));
}

/** A patterned square (stripes in the product's palette), made locally: no downloads, no binaries. */
function patternSvg(i: number): Buffer {
  const palette = ['#c0392b', '#f39c12', '#16a085', '#2c3e50', '#8e44ad', '#d35400', '#27ae60', '#1f3a93'];
  const stripes = Array.from({ length: 12 }, (_, k) => `<rect x="${k * 100}" y="0" width="60" height="1200" fill="${palette[(i + k) % palette.length]}" transform="rotate(${(i % 4) * 15} 600 600)"/>`).join('');
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="1200"><rect width="1200" height="1200" fill="${palette[(i + 3) % palette.length]}"/>${stripes}<circle cx="600" cy="600" r="${200 + (i % 5) * 40}" fill="#fdf6e3" opacity="0.85"/></svg>`);
}

const CHUNK = 1_000;

/**
 * Seed step: the demo catalog of a Nigerian fashion store. `--products N` (default 200) products with
 * 2–6 variants, stock and categories (ratings come from the demo reviews step); deterministic and idempotent (existing slugs and SKUs are
 * left alone); bulk inserts, so `--products 10000` (~40,000 variants) takes seconds.
 */
export async function seedCatalog({ db, config, log, args }: DemoSeedContext): Promise<void> {
  const flag = args.findIndex((a) => a === '--products' || a.startsWith('--products='));
  const raw = flag < 0 ? undefined : args[flag].includes('=') ? args[flag].split('=')[1] : args[flag + 1];
  const total = raw === undefined ? 200 : Number(raw);
  if (!Number.isInteger(total) || total < 0 || total > 1_000_000) throw new Error(`--products must be a whole number (got ${raw})`);
  const started = Date.now();
  const categories = await seedCategories(db);
  let createdProducts = 0;
  let createdVariants = 0;
  for (let from = 0; from < total; from += CHUNK) {
    const batch = Array.from({ length: Math.min(CHUNK, total - from) }, (_, k) => demoProduct(from + k));
    await db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('products')
        .values(
          batch.map((p) => ({
            slug: p.slug,
            title: p.title,
            description: p.description,
            status: 'active',
            categoryId: categories.get(p.category) ?? null,
            tags: p.tags,
            vendor: config.SHOP_NAME,
            productType: p.category,
          })),
        )
        .onConflict((oc) => oc.column('slug').doNothing())
        .returning(['id', 'slug'])
        .execute();
      createdProducts += inserted.length;
      if (!inserted.length) return;
      const ids = new Map(inserted.map((r) => [r.slug, r.id]));
      const variants = batch.flatMap((p) =>
        ids.has(p.slug)
          ? p.variants.map((v, position) => ({
              productId: ids.get(p.slug)!,
              sku: v.sku,
              title: v.title,
              options: JSON.stringify(v.options),
              price: v.price,
              compareAtPrice: v.compareAtPrice,
              position,
              onHand: v.onHand,
            }))
          : [],
      );
      const stock = new Map(variants.map((v) => [v.sku, v.onHand]));
      const saved = await trx
        .insertInto('productVariants')
        .values(variants.map(({ onHand: _onHand, ...v }) => v))
        .onConflict((oc) => oc.column('sku').doNothing())
        .returning(['id', 'sku'])
        .execute();
      createdVariants += saved.length;
      if (saved.length) {
        await trx
          .insertInto('inventory')
          .values(saved.map((v) => ({ variantId: v.id, onHand: stock.get(v.sku) ?? 0 })))
          .onConflict((oc) => oc.column('variantId').doNothing())
          .execute();
      }
    });
  }

  // A few images for the first products that have none yet.
  const storage = await createMediaStorage(config);
  const needImages = await db
    .selectFrom('products as p')
    .select(['p.id', 'p.title'])
    .where('p.slug', 'in', Array.from({ length: Math.min(12, total) }, (_, i) => demoProduct(i).slug).concat(['__none__']))
    .where((eb) => eb.not(eb.exists(eb.selectFrom('productImages as m').select('m.id').whereRef('m.productId', '=', 'p.id'))))
    .orderBy('p.slug')
    .execute();
  for (const [i, p] of needImages.entries()) {
    const png = await sharp(patternSvg(i)).png().toBuffer();
    const stored = await storage.put(png, { folder: `products/${p.id}`, name: `demo-${i}` });
    await db
      .insertInto('productImages')
      .values({
        productId: p.id,
        storage: stored.storage,
        storageKey: stored.key,
        version: stored.version,
        urls: JSON.stringify(stored.urls),
        alt: p.title,
        width: stored.width,
        height: stored.height,
        position: 0,
      })
      .execute();
  }
  const { count } = await db.selectFrom('products').select(sql<number>`count(*)::int`.as('count')).executeTakeFirstOrThrow();
  log(
    `catalog: ${createdProducts} products and ${createdVariants} variants added, ${needImages.length} images (${count} products in total, ${Date.now() - started} ms)`,
  );
}
