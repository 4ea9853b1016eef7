/**
 * `boundaries/no-domain-cycle`: the folders of shared/ (its domains: orders, payments, mail, ...) import
 * each other without a cycle. `import-x/no-cycle` sees cycles between files only; two domains can still
 * depend on each other through different files (orders/lifecycle.ts → payments/refunds.ts while
 * payments/expiry.ts → orders/lifecycle.ts), which is the tangle this rule refuses. An import of another
 * domain is reported when that domain already reaches back, naming one file per step of the way back.
 * Files directly in shared/ (errors.ts, outbox.ts, ...) are the base every domain uses, not a domain.
 * The generated table types (shared/db/types.ts) name each domain's status unions by design (type-only,
 * from kysely-codegen's overrides), so they are no edge from db to the domains. A domain's schemas.ts
 * (TypeBox shapes and status lists) is the shape layer beneath every domain's logic: importing another
 * domain's schemas (an order view holding refunds, a price naming a coupon kind) is no edge either.
 * The graph comes from the import statements of shared/ as they are on disk (re-read when a file changes).
 */
import fs from 'node:fs';
import path from 'node:path';

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

function sourceFiles(dir, out = []) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) sourceFiles(full, out);
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

/** The domain (first folder under shared/) a path belongs to, or null. */
function domainOf(sharedDir, file) {
  const rel = path.relative(sharedDir, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
  const parts = rel.split(path.sep);
  return parts.length > 1 ? parts[0] : null;
}

/** A domain's shape module (shared/<domain>/schemas.ts), by its import specifier resolved. */
const isSchemas = (target) => /[\\/]schemas(\.js|\.ts)?$/.test(target);

let cached = { key: '', graph: new Map() };

/** domain → (imported domain → one importing file and what it imports). */
function domainGraph(sharedDir) {
  const files = sourceFiles(sharedDir);
  const key = files.map((f) => `${f}:${fs.statSync(f).mtimeMs}`).join('|');
  if (cached.key === key) return cached.graph;
  const graph = new Map();
  for (const file of files) {
    const from = domainOf(sharedDir, file);
    if (!from || file === path.join(sharedDir, 'db', 'types.ts')) continue;
    for (const [, spec] of fs.readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = path.resolve(path.dirname(file), spec);
      const to = domainOf(sharedDir, target);
      if (!to || to === from || isSchemas(target)) continue;
      if (!graph.has(from)) graph.set(from, new Map());
      if (!graph.get(from).has(to)) graph.get(from).set(to, { file, target });
    }
  }
  cached = { key, graph };
  return graph;
}

/** The steps from domain `start` to domain `goal`, or null when `goal` is not reachable. */
function pathBetween(graph, start, goal) {
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length) {
    const domain = queue.shift();
    if (domain === goal) {
      const steps = [];
      for (let d = goal; previous.get(d); d = previous.get(d).from) steps.unshift(previous.get(d));
      return steps;
    }
    for (const [next, edge] of graph.get(domain) ?? []) {
      if (previous.has(next)) continue;
      previous.set(next, { from: domain, to: next, ...edge });
      queue.push(next);
    }
  }
  return null;
}

/** @type {import('eslint').Rule.RuleModule} */
export const noDomainCycle = {
  meta: {
    type: 'problem',
    docs: { description: 'Forbid import cycles between the domain folders of shared/' },
    schema: [],
    messages: {
      cycle:
        'shared/{{from}} → shared/{{to}} closes an import cycle between domains; the way back: {{back}}. Move what both need to a lower module (shared/db/, shared/format.ts, ...) or let the higher domain call the lower one.',
    },
  },
  create(context) {
    const sharedDir = path.join(context.cwd, 'shared');
    const from = domainOf(sharedDir, context.filename);
    if (!from || context.filename === path.join(sharedDir, 'db', 'types.ts')) return {};
    const check = (node) => {
      const source = node.source;
      if (
        !source ||
        source.type !== 'Literal' ||
        typeof source.value !== 'string' ||
        !source.value.startsWith('.')
      )
        return;
      const target = path.resolve(path.dirname(context.filename), source.value);
      const to = domainOf(sharedDir, target);
      if (!to || to === from || isSchemas(target)) return;
      const back = pathBetween(domainGraph(sharedDir), to, from);
      if (!back) return;
      const rel = (f) => path.relative(sharedDir, f);
      context.report({
        node: source,
        messageId: 'cycle',
        data: { from, to, back: back.map((s) => `${rel(s.file)} imports ${rel(s.target)}`).join(', ') },
      });
    };
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};

export default { meta: { name: 'boundaries' }, rules: { 'no-domain-cycle': noDomainCycle } };
