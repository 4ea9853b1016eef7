import type { Redis } from 'ioredis';
import { keyOf } from '../redis.js';

/**
 * The catalog read cache (Redis). Correctness rests on versions, never on TTLs:
 *
 * - A global catalog version `catalog:v` is part of every cache key. Any write that changes what a reader
 *   sees INCRs it after commit, so every API replica misses at once (old entries simply stop being read
 *   and expire). `catalogChanged` is that INCR; the catalog's own writes call it before they answer
 *   (shared/catalog/writes.ts for the API's, the import job in the worker), so a writer never reads its
 *   own change back stale.
 * - Writes made elsewhere (checkout reserving, payments committing stock, inventory PATCH) do not have to
 *   remember it: database triggers keep `products.in_stock`/`price_from` true and NOTIFY
 *   `catalog_changed` / `catalog_stock` on commit; every API replica LISTENs (api/plugins/catalog-cache.ts)
 *   and bumps. That path lags the commit by a notification's flight (milliseconds).
 * - A product detail shows per-variant `available`, which moves on every sale without crossing zero.
 *   Rather than flush every list page on each sale, details also carry a per-product version
 *   `catalog:pv:<id>` bumped on `catalog_stock`. The version is read BEFORE the database query and
 *   stored with the entry, so data read before a change can never be stored as if it were newer.
 * - Reads and their versions come back in one Redis round trip (a Lua script). All keys share the
 *   prefix's hash tag, so this also holds on a Redis Cluster.
 * - Redis unreachable: every call here resolves to "miss" / no-op quickly (fail-fast client), and each
 *   replica bumps the version when its connection comes back, since writes during the outage could not.
 */
const CACHE_TTL_SECONDS = 300;

export const catalogKeys = (prefix: string) => ({
  version: keyOf(prefix, 'catalog', 'v'),
  productVersion: (id: string) => keyOf(prefix, 'catalog', 'pv', id),
  base: keyOf(prefix, 'catalog', ''),
});

/** Makes every cached catalog page stale at once, on every replica. Never throws (Redis down = no cache). */
export async function catalogChanged(redis: Redis, prefix: string, productIds: readonly string[] = []): Promise<void> {
  const keys = catalogKeys(prefix);
  try {
    const multi = redis.multi().incr(keys.version);
    for (const id of productIds) multi.incr(keys.productVersion(id));
    await multi.exec();
  } catch {
    // Redis away: nothing can be served from it either; the replica bumps on reconnect.
  }
}

/** Makes one product's detail stale (stock numbers moved). Never throws. */
async function bumpProductVersion(redis: Redis, prefix: string, productId: string): Promise<void> {
  try {
    await redis.incr(catalogKeys(prefix).productVersion(productId));
  } catch {
    // see catalogChanged
  }
}

// KEYS[1] global version. ARGV[1] key base, ARGV[2] list key suffix. Returns {version, value|false}.
const LIST_GET = `
local v = redis.call('GET', KEYS[1]) or '0'
return {v, redis.call('GET', ARGV[1] .. 'l:' .. v .. ':' .. ARGV[2])}
`;

// KEYS[1] global version. ARGV[1] key base, ARGV[2] id or slug, ARGV[3] '1' when ARGV[2] is a slug.
// Returns {version, productId|false, productVersion|false, value|false}; value only when still current.
const DETAIL_GET = `
local v = redis.call('GET', KEYS[1]) or '0'
local id = ARGV[2]
if ARGV[3] == '1' then
  id = redis.call('GET', ARGV[1] .. 's:' .. v .. ':' .. ARGV[2])
  if not id then return {v, false, false, false} end
end
local pv = redis.call('GET', ARGV[1] .. 'pv:' .. id) or '0'
local entry = redis.call('GET', ARGV[1] .. 'd:' .. v .. ':' .. id)
if entry then
  local sep = string.find(entry, '|', 1, true)
  if sep and string.sub(entry, 1, sep - 1) == pv then return {v, id, pv, string.sub(entry, sep + 1)} end
end
return {v, id, pv, false}
`;

export type CacheOutcome = 'hit' | 'miss' | 'error';

export class CatalogCache {
  private readonly keys: ReturnType<typeof catalogKeys>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly observe: (kind: 'list' | 'detail', outcome: CacheOutcome) => void = () => {},
    private readonly enabled = true,
  ) {
    this.keys = catalogKeys(prefix);
    redis.defineCommand('catalogListGet', { numberOfKeys: 1, lua: LIST_GET });
    redis.defineCommand('catalogDetailGet', { numberOfKeys: 1, lua: DETAIL_GET });
  }

  bump(productIds: readonly string[] = []): Promise<void> {
    return catalogChanged(this.redis, this.prefix, productIds);
  }

  bumpProduct(productId: string): Promise<void> {
    return bumpProductVersion(this.redis, this.prefix, productId);
  }

  /** A cached list page (JSON text) or a loader result stored under the version read before loading. */
  async list(signature: string, load: () => Promise<unknown>): Promise<string> {
    if (!this.enabled) return JSON.stringify(await load());
    let version: string | undefined;
    try {
      const [v, value] = (await (this.redis as unknown as RedisWithScripts).catalogListGet(this.keys.version, this.keys.base, signature)) as [
        string,
        string | null,
      ];
      if (value) {
        this.observe('list', 'hit');
        return value;
      }
      version = v;
      this.observe('list', 'miss');
    } catch {
      this.observe('list', 'error');
    }
    const json = JSON.stringify(await load());
    if (version !== undefined) {
      this.redis.set(`${this.keys.base}l:${version}:${signature}`, json, 'EX', CACHE_TTL_SECONDS).catch(() => {});
    }
    return json;
  }

  /**
   * A cached product detail (JSON text). `load` returns the product's id and JSON, or null. A slug seen for the first time
   * is only mapped to its id: the detail is cached from the next request on, once its version could be
   * read before the query.
   */
  async detail(idOrSlug: string, isSlug: boolean, load: () => Promise<{ id: string; json: string } | null>): Promise<string | null> {
    if (!this.enabled) return (await load())?.json ?? null;
    let state: { v: string; id: string | null; pv: string | null } | undefined;
    try {
      const [v, id, pv, value] = (await (this.redis as unknown as RedisWithScripts).catalogDetailGet(
        this.keys.version,
        this.keys.base,
        idOrSlug,
        isSlug ? '1' : '0',
      )) as [string, string | null, string | null, string | null];
      if (value) {
        this.observe('detail', 'hit');
        return value;
      }
      state = { v, id, pv };
      this.observe('detail', 'miss');
    } catch {
      this.observe('detail', 'error');
    }
    const product = await load();
    if (!product) return null;
    const { json } = product;
    if (state) {
      const writes = this.redis.multi();
      if (isSlug) writes.set(`${this.keys.base}s:${state.v}:${idOrSlug}`, product.id, 'EX', CACHE_TTL_SECONDS);
      // Only when the product version was read before the query and belongs to this very product.
      if (state.id === product.id && state.pv !== null) {
        writes.set(`${this.keys.base}d:${state.v}:${product.id}`, `${state.pv}|${json}`, 'EX', CACHE_TTL_SECONDS);
      }
      writes.exec().catch(() => {});
    }
    return json;
  }
}

interface RedisWithScripts {
  catalogListGet(...args: string[]): Promise<unknown>;
  catalogDetailGet(...args: string[]): Promise<unknown>;
}
