import { sql } from 'kysely';
import t from 'tap';
import { enumColumns } from '../../scripts/enum-columns.js';
import { testEnv } from '../support/harness.js';

/**
 * Each status or kind is one `as const` list in its domain; the database enforces it with a CHECK. Read
 * every CHECK of the migrated schema and hold the two equal, so a value added to a list without a
 * migration (or the other way round) fails here instead of in production.
 */
const { db } = await testEnv(t);

const { rows } = await sql<{ tbl: string; col: string; def: string }>`
  SELECT cl.relname AS tbl, a.attname AS col, pg_get_constraintdef(co.oid) AS def
  FROM pg_constraint co
  JOIN pg_class cl ON cl.oid = co.conrelid
  JOIN pg_namespace n ON n.oid = cl.relnamespace
  JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = co.conkey[1]
  WHERE co.contype = 'c' AND n.nspname = 'public' AND cardinality(co.conkey) = 1
`.execute(db);

// `col IN ('a', 'b')` comes back as `col = ANY (ARRAY['a'::text, 'b'::text])`, a one-value list as `col = 'a'::text`.
const listCheck = /^CHECK \(\((\w+) = (?:ANY \(ARRAY\[((?:'[^']*'::text(?:, )?)+)\]\)|('[^']*'::text))\)\)$/;
const allowed = new Map<string, string[][]>();
for (const r of rows) {
  const m = listCheck.exec(r.def);
  if (!m || m[1] !== r.col) continue;
  const values = [...(m[2] ?? m[3]).matchAll(/'([^']*)'::text/g)].map((v) => v[1]);
  const key = `${r.tbl}.${r.col}`;
  allowed.set(key, [...(allowed.get(key) ?? []), values]);
}

t.test('every enumerated column has one CHECK allowing exactly its list', async (t) => {
  for (const c of enumColumns) {
    const checks = allowed.get(c.column) ?? [];
    t.equal(checks.length, 1, `${c.column}: one list CHECK`);
    t.same(
      [...(checks[0] ?? [])].sort(),
      [...c.values].sort(),
      `${c.column}: the CHECK allows the list's values`,
    );
  }
});

t.test('every list CHECK in the schema belongs to a list in scripts/enum-columns.ts', async (t) => {
  const mapped = new Set(enumColumns.map((c) => c.column));
  t.ok(allowed.size >= enumColumns.length, 'the CHECKs were read');
  t.same(
    [...allowed.keys()].filter((k) => !mapped.has(k)),
    [],
    'no enumerated column left out of the map',
  );
});

t.test('the database refuses a value outside the list', async (t) => {
  await t.rejects(
    sql`INSERT INTO outbox (queue, name, payload) VALUES ('email', 'email.unknown', '{}')`.execute(db),
    { code: '23514' },
    'an unknown job name',
  );
  await t.rejects(
    sql`INSERT INTO outbox (queue, name, payload) VALUES ('mail', 'email.send', '{}')`.execute(db),
    { code: '23514' },
    'an unknown queue',
  );
});
