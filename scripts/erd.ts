/**
 * docs/erd.md: a mermaid entity-relationship diagram read from the migrated schema's information_schema,
 * so it stays true. Migrates a scratch database, renders, drops it; never touches the development one.
 *   npm run docs:erd               write docs/erd.md
 *   npm run docs:erd -- --check    fail if docs/erd.md is out of date
 * test/ops/erd.test.ts renders from the test template and fails while the committed file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { repoRoot } from '../shared/config.js';
import { withScratchDatabase } from './scratch-database.js';

export const erdFile = path.join(repoRoot, 'docs/erd.md');

interface Column {
  table_name: string;
  column_name: string;
  udt_name: string;
  is_nullable: 'YES' | 'NO';
}
interface Constraint {
  table_name: string;
  constraint_name: string;
  constraint_type: 'PRIMARY KEY' | 'UNIQUE';
  columns: string[];
}
interface ForeignKey {
  child: string;
  parent: string;
  constraint_name: string;
  child_columns: string[];
}

// Kysely's bookkeeping, not the application's.
const skip = (table: string) => table.startsWith('kysely_');

/** `_text` is PostgreSQL's name for text[]; mermaid accepts word characters and []. */
const typeName = (udt: string) => (udt.startsWith('_') ? `${udt.slice(1)}[]` : udt);

export async function renderErd(connectionString: string): Promise<string> {
  const client = new pg.Client({ connectionString, application_name: 'agape-erd' });
  await client.connect();
  try {
    const columns = await client.query<Column>(`
      SELECT c.table_name, c.column_name, c.udt_name, c.is_nullable
        FROM information_schema.columns c
        JOIN information_schema.tables t USING (table_schema, table_name)
       WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
       ORDER BY c.table_name, c.ordinal_position`);
    const keys = await client.query<Constraint>(`
      SELECT tc.table_name, tc.constraint_name, tc.constraint_type,
             array_agg(k.column_name::text ORDER BY k.ordinal_position) AS columns
        FROM information_schema.table_constraints tc
        JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name, table_name)
       WHERE tc.table_schema = 'public' AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE')
       GROUP BY tc.table_name, tc.constraint_name, tc.constraint_type`);
    const foreign = await client.query<ForeignKey>(`
      SELECT k.table_name AS child, p.table_name AS parent, k.constraint_name,
             array_agg(k.column_name::text ORDER BY k.ordinal_position) AS child_columns
        FROM information_schema.referential_constraints rc
        JOIN information_schema.key_column_usage k
          ON k.constraint_schema = rc.constraint_schema AND k.constraint_name = rc.constraint_name
        JOIN information_schema.key_column_usage p
          ON p.constraint_schema = rc.unique_constraint_schema AND p.constraint_name = rc.unique_constraint_name
         AND p.ordinal_position = k.position_in_unique_constraint
       WHERE rc.constraint_schema = 'public'
       GROUP BY k.table_name, p.table_name, k.constraint_name`);

    const same = (a: string[], b: string[]) => a.length === b.length && a.every((c) => b.includes(c));
    const markers = (table: string, column: string) => {
      const out: string[] = [];
      const own = keys.rows.filter((k) => k.table_name === table && k.columns.includes(column));
      if (own.some((k) => k.constraint_type === 'PRIMARY KEY')) out.push('PK');
      if (foreign.rows.some((f) => f.child === table && f.child_columns.includes(column))) out.push('FK');
      // UK only for a column unique on its own; composite uniques would read as each column unique.
      if (own.some((k) => k.constraint_type === 'UNIQUE' && k.columns.length === 1)) out.push('UK');
      return out.length ? ` ${out.join(', ')}` : '';
    };

    const lines = ['erDiagram'];
    const tables = [...new Set(columns.rows.map((c) => c.table_name))].filter((t) => !skip(t)).sort();
    for (const table of tables) {
      lines.push(`  ${table} {`);
      for (const c of columns.rows.filter((r) => r.table_name === table)) {
        lines.push(`    ${typeName(c.udt_name)} ${c.column_name}${markers(table, c.column_name)}`);
      }
      lines.push('  }');
    }
    const relations = foreign.rows
      .filter((f) => !skip(f.child) && !skip(f.parent))
      .map((f) => {
        const optional = f.child_columns.some(
          (col) =>
            columns.rows.find((c) => c.table_name === f.child && c.column_name === col)?.is_nullable ===
            'YES',
        );
        // At most one child per parent when the foreign key is itself the child's key or unique.
        const single = keys.rows.some((k) => k.table_name === f.child && same(k.columns, f.child_columns));
        return `  ${f.parent} ${optional ? '|o' : '||'}--${single ? 'o|' : 'o{'} ${f.child} : "${f.child_columns.join(', ')}"`;
      })
      .sort();
    lines.push(...relations);

    return `# Entity-relationship diagram

Generated by \`npm run docs:erd\` from the migrated schema (information_schema): do not edit by hand.
\`test/ops/erd.test.ts\` fails while this file differs from what the migrations produce; after adding a
migration, run \`npm run docs:erd\` and commit the result. Relationships are labelled with the foreign-key
column; \`|o\` on the parent side means the column is nullable, \`o|\` on the child side that it is unique.

\`\`\`mermaid
${lines.join('\n')}
\`\`\`
`;
  } finally {
    await client.end();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const markdown = await withScratchDatabase('agape_erd', renderErd);
  const relative = path.relative(repoRoot, erdFile);
  if (process.argv.includes('--check')) {
    if (readFileSync(erdFile, 'utf8') !== markdown) {
      console.error(`${relative} is out of date: run npm run docs:erd`);
      process.exitCode = 1;
    } else console.log(`${relative} is up to date`);
  } else {
    writeFileSync(erdFile, markdown);
    console.log(`wrote ${relative}`);
  }
}
