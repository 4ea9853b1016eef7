/** docs/erd.md is generated from the schema (npm run docs:erd): it must be what the migrations produce today. */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import t from 'tap';
import { erdFile, renderErd } from '../../scripts/erd.js';
import { testDatabase } from '../support/harness.js';

t.test('the committed ERD is the one the migrated schema renders (else: npm run docs:erd)', async (t) => {
  const url = await testDatabase(t);
  const rendered = await renderErd(url);
  const committed = readFileSync(erdFile, 'utf8');
  const [ours, theirs] = [rendered.split('\n'), committed.split('\n')];
  const at = ours.findIndex((line, i) => line !== theirs[i]);
  t.ok(
    rendered === committed,
    'docs/erd.md is current',
    at === -1 ? {} : { line: at + 1, rendered: ours[at], committed: theirs[at] },
  );
  t.match(rendered, /^ {2}orders \|\|--o\{ payments : "order_id"$/m, 'a foreign key is a relationship');

  // A table a migration would add shows up, with its key and relationship.
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  t.teardown(() => client.end());
  await client.query(
    'CREATE TABLE wishlists (id uuid PRIMARY KEY, user_id uuid REFERENCES users (id), note text)',
  );
  const after = await renderErd(url);
  t.not(after, committed);
  t.match(after, /^ {2}wishlists \{\n {4}uuid id PK\n {4}uuid user_id FK\n {4}text note\n {2}\}$/m);
  t.match(
    after,
    /^ {2}users \|o--o\{ wishlists : "user_id"$/m,
    'a nullable foreign key is optional on the parent side',
  );
});
