import type { Redis } from 'ioredis';
import { hash } from 'node:crypto';
import { keyOf } from '../redis.js';
import { keptBytes } from '../kept-bytes.js';

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
 *
 * In front of Redis, each process keeps the hottest answers itself (`LocalCatalogCache`): the serialized
 * bytes and their ETag, bounded in entries and bytes. A hit costs no round trip at all, so it can only be
 * trusted while this process hears about every change: the writing process drops its entries before it
 * answers the write (`bump`), the others on the database's NOTIFY (triggers, any writer) or the Redis
 * message `catalogChanged` publishes (writes outside those tables), within milliseconds. While either
 * channel is down the local level is off and reads go to Redis as before.
 */
const CACHE_TTL_SECONDS = 300;

export const catalogKeys = (prefix: string) => ({
  version: keyOf(prefix, 'catalog', 'v'),
  productVersion: (id: string) => keyOf(prefix, 'catalog', 'pv', id),
  base: keyOf(prefix, 'catalog', ''),
  /** Every bump is also published here: the other processes drop their local entries. */
  channel: keyOf(prefix, 'catalog', 'changed'),
});

/**
 * Makes every cached catalog page stale at once, on every replica. Never throws (Redis down = no cache).
 * `publish: false` only for a process reacting to the database's NOTIFY, which every replica hears itself.
 */
export async function catalogChanged(redis: Redis, prefix: string, productIds: readonly string[] = [], opts: { publish?: boolean } = {}): Promise<void> {
  const keys = catalogKeys(prefix);
  try {
    const multi = redis.multi().incr(keys.version);
    for (const id of productIds) multi.incr(keys.productVersion(id));
    // In the same transaction as the INCR: whoever hears the message finds the new version in place.
    if (opts.publish !== false) multi.publish(keys.channel, '');
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

/** A catalog answer ready to send: the JSON bytes and their strong ETag (a hash of the bytes). */
export interface CachedBody {
  body: Buffer;
  etag: string;
  /** The product a detail shows (stock notifications drop it). */
  productId?: string;
  /** The gzip form, made once on first demand (large bodies only; see api/routes/catalog/send.ts). */
  gzip?: Buffer;
}

// One-shot hash: no Hash object a request (an uncached detail or page hashes every answer it sends).
export const etagOf = (body: Buffer | string) => `"${hash('sha1', body, 'base64url')}"`;

/** An answer a cache keeps: its bytes in an allocation of their own (see keptBytes). */
export const cachedBody = (json: string, productId?: string): CachedBody => answer(keptBytes(json), productId);

/** An answer sent once and dropped (staff reads, the cache turned off): Node's pooled allocation is the cheap one. */
export const sentBody = (json: string, productId?: string): CachedBody => answer(Buffer.from(json), productId);

// Two literal shapes: a spread of a conditional object went through V8's slow path on every uncached answer.
const answer = (body: Buffer, productId: string | undefined): CachedBody =>
  productId ? { body, etag: etagOf(body), productId } : { body, etag: etagOf(body) };

/**
 * What an entry holds besides its body's bytes and its key's characters, measured on the read bench's product
 * details (~1.6 KB; heap snapshot of the cache and process.memoryUsage over 3,000 entries): ~500 bytes of JS heap
 * (the Buffer and its ArrayBuffer ~180, the ETag string ~50, the CachedBody object ~40, the key's string header
 * and its slot in `entries` ~70, a detail's product id string with its Set and slot in `keysByProduct` ~150) and
 * ~200 of the allocator's own bookkeeping for the separately allocated body (backing-store record, chunk header).
 * A gzip form made later (send.ts: bodies of 8 KB and up, once per entry on a gzip request) is not counted: the
 * detail pages that fill the cache are smaller.
 */
const ENTRY_OVERHEAD = 700;

const entrySize = (key: string, entry: CachedBody) => entry.body.length + key.length + ENTRY_OVERHEAD;

/**
 * The process-local level: a bounded map of answers, dropped on every change this process hears of.
 *
 * Never stale beyond the notification's flight rests on three rules:
 * - `live` only while both invalidation channels are connected (the plugin says so); off, nothing is
 *   served or stored here.
 * - A load notes `mark()` BEFORE it reads (Redis or the database) and may store its answer only if no
 *   change was heard since: data read before a change is never kept as if it were newer.
 * - While a change's Redis bump is still on its way (`pending`), the Redis level may still answer the old
 *   version: nothing is stored until the bump has landed.
 */
export class LocalCatalogCache {
  private readonly entries = new Map<string, CachedBody>();
  private readonly keysByProduct = new Map<string, Set<string>>();
  private bytes = 0;
  private seq = 0;
  private globalAt = 0;
  private globalPending = 0;
  private readonly productAt = new Map<string, number>();
  private readonly productPending = new Map<string, number>();
  live = false;

  /**
   * Bounded for the process's memory (issue 16: API RSS under load < 150 MB): 4 MB of what the entries really
   * hold (see ENTRY_OVERHEAD) keeps every list page people actually request and the ~1,700 most recent product
   * details; a miss is one Redis round trip. (The 8 MB before, counted at 200 bytes an entry, held ~11 MB.)
   */
  constructor(
    readonly maxEntries = 5_000,
    readonly maxBytes = 4 * 1024 * 1024,
  ) {}

  get size() {
    return this.entries.size;
  }

  get(key: string): CachedBody | undefined {
    return this.live ? this.entries.get(key) : undefined;
  }

  /** Note before loading; pass to `set`. */
  mark(): number {
    return this.seq;
  }

  set(key: string, entry: CachedBody, since: number): void {
    if (!this.live || this.globalPending > 0 || this.globalAt > since) return;
    const pid = entry.productId;
    if (pid !== undefined && (this.productPending.has(pid) || (this.productAt.get(pid) ?? 0) > since)) return;
    const size = entrySize(key, entry);
    if (size > this.maxBytes / 4) return;
    this.delete(key);
    this.entries.set(key, entry);
    this.bytes += size;
    if (pid !== undefined) {
      let keys = this.keysByProduct.get(pid);
      if (!keys) this.keysByProduct.set(pid, (keys = new Set()));
      keys.add(key);
    }
    // Oldest first (insertion order): a miss only costs a Redis round trip.
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.delete(oldest);
    }
  }

  private delete(key: string) {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entrySize(key, entry);
    if (entry.productId !== undefined) {
      const keys = this.keysByProduct.get(entry.productId);
      keys?.delete(key);
      if (keys?.size === 0) this.keysByProduct.delete(entry.productId);
    }
  }

  /** Drops everything now; with `bump`, stores nothing until it has landed (the shared level moves on). */
  async changed(bump?: () => Promise<void>): Promise<void> {
    this.globalAt = ++this.seq;
    this.entries.clear();
    this.keysByProduct.clear();
    this.productAt.clear();
    this.bytes = 0;
    if (!bump) return;
    this.globalPending++;
    try {
      await bump();
    } finally {
      this.globalPending--;
      this.globalAt = ++this.seq;
    }
  }

  /** Drops one product's details now; stores none of them until `bump` has landed. */
  async productChanged(productId: string, bump: () => Promise<void>): Promise<void> {
    this.productAt.set(productId, ++this.seq);
    for (const key of this.keysByProduct.get(productId) ?? []) this.delete(key);
    this.productPending.set(productId, (this.productPending.get(productId) ?? 0) + 1);
    try {
      await bump();
    } finally {
      const left = (this.productPending.get(productId) ?? 1) - 1;
      if (left > 0) this.productPending.set(productId, left);
      else this.productPending.delete(productId);
      this.productAt.set(productId, ++this.seq);
      // Bounded: past the limit, forget them all by treating it as a global change (nothing older stores).
      if (this.productAt.size > 50_000) {
        this.productAt.clear();
        this.globalAt = this.seq;
      }
    }
  }

  /** Whether answers may be served and kept here (both invalidation channels connected). */
  setLive(live: boolean): void {
    if (live === this.live) return;
    // Whatever was kept may have missed a change while a channel was down; whatever loads is older.
    void this.changed();
    this.live = live;
  }
}

export class CatalogCache {
  private readonly keys: ReturnType<typeof catalogKeys>;
  /** The process-local level (off until the plugin's invalidation channels are connected). */
  readonly local = new LocalCatalogCache();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly observe: (kind: 'list' | 'detail', outcome: CacheOutcome | 'local') => void = () => {},
    private readonly enabled = true,
  ) {
    this.keys = catalogKeys(prefix);
    redis.defineCommand('catalogListGet', { numberOfKeys: 1, lua: LIST_GET });
    redis.defineCommand('catalogDetailGet', { numberOfKeys: 1, lua: DETAIL_GET });
  }

  get channel(): string {
    return this.keys.channel;
  }

  /** A write of this process: local entries dropped at once, then the shared version bumped (and published). */
  bump(productIds: readonly string[] = []): Promise<void> {
    return this.local.changed(() => catalogChanged(this.redis, this.prefix, productIds));
  }

  /**
   * Something else changed the catalog: a database notification (`bumpShared`: every replica hears it and
   * moves the shared version itself, since the writer may not have) or another process's message (its
   * version is already in place).
   */
  heard(bumpShared: boolean): Promise<void> {
    return this.local.changed(bumpShared ? () => catalogChanged(this.redis, this.prefix, [], { publish: false }) : undefined);
  }

  bumpProduct(productId: string): Promise<void> {
    return this.local.productChanged(productId, () => bumpProductVersion(this.redis, this.prefix, productId));
  }

  /** The local entry of a list page, if any (no await: the hot path). */
  peekList(signature: string): CachedBody | undefined {
    const hit = this.local.get(`l:${signature}`);
    if (hit) this.observe('list', 'local');
    return hit;
  }

  /** A cached list page or a loader result stored under the version read before loading. */
  async list(signature: string, load: () => Promise<unknown>): Promise<CachedBody> {
    if (!this.enabled) return sentBody(JSON.stringify(await load()));
    const key = `l:${signature}`;
    const local = this.local.get(key);
    if (local) {
      this.observe('list', 'local');
      return local;
    }
    const since = this.local.mark();
    let version: string | undefined;
    try {
      const [v, value] = (await (this.redis as unknown as RedisWithScripts).catalogListGet(this.keys.version, this.keys.base, signature)) as [
        string,
        string | null,
      ];
      if (value) {
        this.observe('list', 'hit');
        const entry = cachedBody(value);
        this.local.set(key, entry, since);
        return entry;
      }
      version = v;
      this.observe('list', 'miss');
    } catch {
      this.observe('list', 'error');
    }
    const json = JSON.stringify(await load());
    const entry = cachedBody(json);
    if (version !== undefined) {
      this.redis.set(`${this.keys.base}l:${version}:${signature}`, json, 'EX', CACHE_TTL_SECONDS).catch(() => {});
      this.local.set(key, entry, since);
    }
    return entry;
  }

  /** The local entry of a product detail (by id or slug), if any. */
  peekDetail(idOrSlug: string): CachedBody | undefined {
    const hit = this.local.get(`d:${idOrSlug}`);
    if (hit) this.observe('detail', 'local');
    return hit;
  }

  /**
   * A cached product detail. `load` returns the product's id and JSON, or null. A slug seen for the first time
   * is only mapped to its id: the detail is cached from the next request on, once its version could be
   * read before the query.
   */
  async detail(idOrSlug: string, isSlug: boolean, load: () => Promise<{ id: string; json: string } | null>): Promise<CachedBody | null> {
    if (!this.enabled) {
      const found = await load();
      return found ? sentBody(found.json, found.id) : null;
    }
    const key = `d:${idOrSlug}`;
    const local = this.local.get(key);
    if (local) {
      this.observe('detail', 'local');
      return local;
    }
    const since = this.local.mark();
    let state: { v: string; id: string | null; pv: string | null } | undefined;
    try {
      const [v, id, pv, value] = (await (this.redis as unknown as RedisWithScripts).catalogDetailGet(
        this.keys.version,
        this.keys.base,
        idOrSlug,
        isSlug ? '1' : '0',
      )) as [string, string | null, string | null, string | null];
      if (value && id) {
        this.observe('detail', 'hit');
        const entry = cachedBody(value, id);
        this.local.set(key, entry, since);
        return entry;
      }
      state = { v, id, pv };
      this.observe('detail', 'miss');
    } catch {
      this.observe('detail', 'error');
    }
    const product = await load();
    if (!product) return null;
    const { json } = product;
    const entry = cachedBody(json, product.id);
    if (state) {
      const writes = this.redis.multi();
      if (isSlug) writes.set(`${this.keys.base}s:${state.v}:${idOrSlug}`, product.id, 'EX', CACHE_TTL_SECONDS);
      // Only when the product version was read before the query and belongs to this very product.
      if (state.id === product.id && state.pv !== null) {
        writes.set(`${this.keys.base}d:${state.v}:${product.id}`, `${state.pv}|${json}`, 'EX', CACHE_TTL_SECONDS);
      }
      writes.exec().catch(() => {});
      // Locally it may be kept at once: `since` was noted before the database read.
      this.local.set(key, entry, since);
    }
    return entry;
  }
}

interface RedisWithScripts {
  catalogListGet(...args: string[]): Promise<unknown>;
  catalogDetailGet(...args: string[]): Promise<unknown>;
}
