import t from 'tap';
import { buildTestApp, testEnv } from '../support/harness.js';
import { createUser } from '../support/fixtures.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const uuid = '00000000-0000-4000-8000-000000000001';

/** Cursors a client could craft: right length, wrong contents for the SQL types they are compared with. */
const crafted = {
  twoKeys: [
    'garbage',
    b64(['not a date', uuid]),
    b64(['2026-02-31 10:00:00+00', uuid]),
    b64(['2026-12-06 10:00:00+00', 'not-a-uuid']),
    b64(['2026-12-06 10:00:00+00', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz']),
    b64([1, 2]),
    b64({ c: '2026-12-06T10:00:00Z', i: uuid }),
    b64(['2026-12-06 10:00:00+00']),
  ],
  oneKey: ['garbage', b64(['a\u0000b']), b64([{}]), b64([null]), b64('SKU')],
  products: [
    b64(['newest', 'yesterday', uuid]),
    b64(['newest', '2026-12-06 10:00:00+00', 'x']),
    b64(['price_asc', '1.5', uuid]),
    b64(['price_asc', '99999999999999999999999', uuid]),
    b64(['price_asc', '100', uuid]),
  ],
};

t.test('a malformed or crafted cursor answers 400 invalid_cursor on every list, never 500', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const admin = await createUser(db, { role: 'admin' });
  const customer = await createUser(db, { role: 'customer' });
  const staff = { authorization: `Bearer ${app.signAccessToken({ id: admin.id, role: 'admin' })}` };
  const own = { authorization: `Bearer ${app.signAccessToken({ id: customer.id, role: 'customer' })}` };

  const lists: [string, Record<string, string>, string[]][] = [
    ['/api/v1/orders', own, crafted.twoKeys],
    ['/api/v1/admin/orders', staff, crafted.twoKeys],
    ['/api/v1/admin/users', staff, crafted.twoKeys],
    ['/api/v1/admin/reconciliation/runs', staff, crafted.twoKeys],
    ['/api/v1/inventory', staff, crafted.oneKey],
    ['/api/v1/inventory/alerts', staff, crafted.oneKey],
    ['/api/v1/coupons', staff, crafted.oneKey],
    ['/api/v1/products?sort=newest', {}, crafted.products.slice(0, 2)],
    ['/api/v1/products?sort=price_asc', {}, crafted.products.slice(2, 4)],
  ];
  for (const [url, headers, cursors] of lists) {
    for (const cursor of cursors) {
      const res = await app.inject({
        method: 'GET',
        url: `${url}${url.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}`,
        headers,
      });
      t.equal(
        res.statusCode,
        400,
        `${url} cursor=${Buffer.from(cursor, 'base64url').toString()}: ${res.body}`,
      );
      t.equal(res.json().code, 'invalid_cursor', url);
      t.match(res.headers['content-type'], /application\/problem\+json/);
    }
  }
  // A well-formed cursor of the right types still pages (it is a position, not a row that must exist).
  const ok = await app.inject({
    method: 'GET',
    url: `/api/v1/admin/orders?cursor=${b64(['2026-12-06 10:00:00.123456+00', uuid])}`,
    headers: staff,
  });
  t.equal(ok.statusCode, 200, ok.body);
  const okProducts = await app.inject({
    method: 'GET',
    url: `/api/v1/products?sort=price_asc&cursor=${crafted.products[4]}`,
  });
  t.equal(okProducts.statusCode, 200, okProducts.body);
});
