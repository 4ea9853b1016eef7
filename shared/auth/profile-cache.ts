/**
 * GET /me answers kept in this process's memory (issue 16): the serialized bytes of the signed-in user's view,
 * by user id, bounded. One PostgreSQL statement per request costs more than the rest of the request, so a
 * hit answers with no round trip at all; it must therefore never be stale beyond a notification's flight:
 *
 * - Every change to a user row is announced by the database: a trigger on `users`
 *   (migrations/2026121100_user_changed_notify.ts) NOTIFYs `user_changed` with the id on commit, whoever
 *   wrote it (API, worker, a script, psql). Each process LISTENs (api/plugins/profile-cache.ts) and drops it.
 * - `live` only while that LISTEN connection is up; off, nothing is served or kept, and going off or coming
 *   back drops everything (notifications sent meanwhile are lost).
 * - A load notes `mark()` BEFORE its statement and may store its answer only if no change to that user (nor
 *   a drop of everything) was heard since: a row read before a change is never kept as if it were newer.
 * - The process that writes drops the entry itself before it answers (`changed`), so it never serves its
 *   own write back stale while the notification is still on its way.
 */
const ENTRY_OVERHEAD = 150;
/** Past this many remembered per-user changes, they are forgotten as one global change (nothing older stores). */
const CHANGES_MAX = 50_000;

export class LocalProfileCache {
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;
  private seq = 0;
  private globalAt = 0;
  private readonly changedAt = new Map<string, number>();
  private live = false;

  /** ~10,000 signed-in users' answers (each ~250 bytes): a few MB at most; a miss is one statement. */
  constructor(
    readonly maxEntries = 10_000,
    readonly maxBytes = 4 * 1024 * 1024,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get isLive(): boolean {
    return this.live;
  }

  get(userId: string): Buffer | undefined {
    return this.live ? this.entries.get(userId) : undefined;
  }

  /** Note before loading; pass to `set`. */
  mark(): number {
    return this.seq;
  }

  set(userId: string, body: Buffer, since: number): void {
    if (!this.live || this.globalAt > since || (this.changedAt.get(userId) ?? 0) > since) return;
    this.delete(userId);
    this.entries.set(userId, body);
    this.bytes += body.length + userId.length + ENTRY_OVERHEAD;
    // Oldest first (insertion order): a miss only costs one statement.
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.delete(oldest);
    }
  }

  private delete(userId: string) {
    const body = this.entries.get(userId);
    if (!body) return;
    this.entries.delete(userId);
    this.bytes -= body.length + userId.length + ENTRY_OVERHEAD;
  }

  /** One user's row changed (or may have): drop the answer, and refuse any load that started before now. */
  changed(userId: string): void {
    this.changedAt.set(userId, ++this.seq);
    this.delete(userId);
    if (this.changedAt.size > CHANGES_MAX) this.changedAll();
  }

  /** Anything may have changed: drop everything, and refuse every load that started before now. */
  changedAll(): void {
    this.globalAt = ++this.seq;
    this.changedAt.clear();
    this.entries.clear();
    this.bytes = 0;
  }

  /** Whether answers may be served and kept here (the LISTEN connection is up). Either way, everything goes. */
  setLive(live: boolean): void {
    this.changedAll();
    this.live = live;
  }
}
