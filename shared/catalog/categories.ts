import { sql } from 'kysely';
import { writeAudit } from '../auth/audit.js';
import type { Db, DbOrTrx } from '../db/index.js';
import { BadRequestError, ConflictError, NotFoundError, isUniqueViolation } from '../errors.js';
import type { CategoryInput, CategoryNode } from './schemas.js';
import { slugify } from './slug.js';

export type { CategoryInput, CategoryNode } from './schemas.js';

const columns = ['id', 'parentId', 'name', 'slug', 'description', 'position'] as const;

/** The whole tree in one query, children ordered by position then name. */
export async function categoryTree(db: DbOrTrx): Promise<CategoryNode[]> {
  const rows = await db.selectFrom('categories').select(columns).orderBy('position').orderBy('name').execute();
  const byId = new Map<string, CategoryNode>(rows.map((r) => [r.id, { ...r, children: [] }]));
  const roots: CategoryNode[] = [];
  for (const node of byId.values()) {
    const parent = node.parentId ? byId.get(node.parentId) : undefined;
    if (parent) parent.children.push(node);
    else roots.push(node);
  }
  return roots;
}

async function getCategory(db: DbOrTrx, id: string) {
  const row = await db.selectFrom('categories').select(columns).where('id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError('Category');
  return row;
}

async function assertParent(db: DbOrTrx, parentId: string | null | undefined, selfId?: string) {
  if (!parentId) return;
  const parent = await db.selectFrom('categories').select('id').where('id', '=', parentId).executeTakeFirst();
  if (!parent) throw new BadRequestError('unknown_category', 'The parent category does not exist', [{ path: '/parentId', message: 'does not exist' }]);
  if (!selfId) return;
  // The new parent must not be the category itself or one of its descendants.
  const cycle = await sql<{ id: string }>`
    WITH RECURSIVE sub AS (SELECT id FROM categories WHERE id = ${selfId}
      UNION ALL SELECT c.id FROM categories c JOIN sub ON c.parent_id = sub.id)
    SELECT id FROM sub WHERE id = ${parentId}`.execute(db);
  if (cycle.rows.length) throw new BadRequestError('category_cycle', 'A category cannot be placed under itself or its descendants');
}

const slugTaken = () => new ConflictError('slug_taken', 'Another category already uses this slug');

export async function createCategory(db: Db, input: CategoryInput, actorId: string | null = null) {
  await assertParent(db, input.parentId);
  try {
    return await db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('categories')
        .values({
          name: input.name,
          slug: input.slug ?? slugify(input.name),
          parentId: input.parentId ?? null,
          description: input.description ?? null,
          position: input.position ?? 0,
        })
        .returning(columns)
        .executeTakeFirstOrThrow();
      await writeAudit(trx, { actorId, action: 'category.created', targetType: 'category', targetId: row.id, after: row });
      return row;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw slugTaken();
    throw err;
  }
}

export async function updateCategory(db: Db, id: string, input: Partial<CategoryInput>, actorId: string | null = null) {
  await getCategory(db, id);
  if (input.parentId !== undefined) await assertParent(db, input.parentId, id);
  const changes = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  if (!Object.keys(changes).length) return getCategory(db, id);
  try {
    return await db.transaction().execute(async (trx) => {
      const before = await trx.selectFrom('categories').select(columns).where('id', '=', id).forUpdate().executeTakeFirst();
      if (!before) throw new NotFoundError('Category');
      const row = await trx.updateTable('categories').set(changes).where('id', '=', id).returning(columns).executeTakeFirstOrThrow();
      const keys = Object.keys(changes) as (keyof typeof before)[];
      const was = Object.fromEntries(keys.map((k) => [k, before[k]]));
      await writeAudit(trx, { actorId, action: 'category.updated', targetType: 'category', targetId: id, before: was, after: changes });
      return row;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw slugTaken();
    throw err;
  }
}

/** Refused (409) while products or sub-categories still point at it: nothing is orphaned silently. */
export async function deleteCategory(db: Db, id: string, actorId: string | null = null): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('categories').select(columns).where('id', '=', id).forUpdate().executeTakeFirst();
    if (!row) throw new NotFoundError('Category');
    const used = await sql<{ products: boolean; children: boolean }>`
      SELECT EXISTS (SELECT 1 FROM products WHERE category_id = ${id}) AS products,
             EXISTS (SELECT 1 FROM categories WHERE parent_id = ${id}) AS children`.execute(trx);
    const { products, children } = used.rows[0];
    if (products || children) {
      throw new ConflictError('category_not_empty', `The category still has ${products ? 'products' : 'sub-categories'}`);
    }
    await trx.deleteFrom('categories').where('id', '=', id).execute();
    await writeAudit(trx, { actorId, action: 'category.deleted', targetType: 'category', targetId: id, before: row });
  });
}

/** Finds or creates a category path by names ("Women > Dresses"), for imports. Returns the leaf id. */
export async function ensureCategoryPath(db: DbOrTrx, names: string[]): Promise<string | null> {
  let parentId: string | null = null;
  let parentSlug = '';
  for (const name of names.map((n) => n.trim()).filter(Boolean)) {
    let query = db.selectFrom('categories').select(['id', 'slug']).where('name', '=', name);
    query = parentId ? query.where('parentId', '=', parentId) : query.where('parentId', 'is', null);
    let row = await query.executeTakeFirst();
    if (!row) {
      const base = slugify(name) || 'category';
      const taken = await db.selectFrom('categories').select('id').where('slug', '=', base).executeTakeFirst();
      const slug = taken ? `${parentSlug ? `${parentSlug}-` : ''}${base}` : base;
      row = await db
        .insertInto('categories')
        .values({ name, slug, parentId })
        .onConflict((oc) => oc.column('slug').doUpdateSet({ name }))
        .returning(['id', 'slug'])
        .executeTakeFirstOrThrow();
    }
    parentId = row.id;
    parentSlug = row.slug;
  }
  return parentId;
}

/** "Women > Dresses" for each category id (exports). */
export async function categoryPaths(db: DbOrTrx): Promise<Map<string, string>> {
  const rows = await db.selectFrom('categories').select(['id', 'parentId', 'name']).execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  const paths = new Map<string, string>();
  for (const row of rows) {
    const names: string[] = [];
    for (let c: typeof row | undefined = row; c && names.length < 20; c = c.parentId ? byId.get(c.parentId) : undefined) names.unshift(c.name);
    paths.set(row.id, names.join(' > '));
  }
  return paths;
}
