import { sql } from 'kysely';
import t from 'tap';
import { createDb, prepared, queryPrepared } from '../../shared/db/index.js';
import { testEnv } from '../support/harness.js';

const { config } = await testEnv(t);
// One connection: the statements it has prepared are the ones this test ran.
const db = createDb(config.DATABASE_URL, { poolSize: 1, applicationName: 'agape-test-prepared' });
t.teardown(() => db.destroy());

const statementsOf = async () =>
  (await sql<{ name: string; statement: string }>`SELECT name, statement FROM pg_prepared_statements`.execute(db)).rows;

t.test('registered texts run as named statements, through the pool and through Kysely', async (t) => {
  const direct = 'SELECT $1::int + 1 AS n /* prepared-test direct */';
  t.same(await queryPrepared<{ n: number }>(db, direct, [41]), [{ n: 42 }]);
  t.same(await queryPrepared<{ n: number }>(db, direct, [1]), [{ n: 2 }], 'again, with other values');
  const viaKysely = 'SELECT $1::text AS word /* prepared-test kysely */';
  t.same((await db.executeQuery<{ word: string }>(prepared(viaKysely, ['naira']))).rows, [{ word: 'naira' }]);
  await db.transaction().execute(async (trx) => t.same(await queryPrepared<{ n: number }>(trx, direct, [9]), [{ n: 10 }], 'inside a transaction'));

  const names = await statementsOf();
  for (const text of [direct, viaKysely]) {
    const found = names.filter((s) => s.statement === text);
    t.equal(found.length, 1, `prepared once: ${text}`);
    t.match(found[0]?.name, /^agape_/);
  }
  await sql`SELECT 1 AS unregistered`.execute(db);
  t.notOk((await statementsOf()).some((s) => s.statement.includes('unregistered')), 'other texts stay unnamed');
});

t.test('a failing prepared statement rejects with the database error and a stack from the caller', async (t) => {
  const text = 'SELECT $1::uuid AS id /* prepared-test failing */';
  const err = (await queryPrepared(db, text, ['not a uuid']).catch((e: unknown) => e)) as Error & { code?: string };
  t.equal(err.code, '22P02', 'invalid_text_representation');
  t.match(err.stack, /prepared\.test\.ts/);
  t.same(await queryPrepared<{ id: string }>(db, text, ['00000000-0000-4000-8000-000000000001']), [{ id: '00000000-0000-4000-8000-000000000001' }], 'and the connection goes on');
});
