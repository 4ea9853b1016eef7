import { sql } from 'kysely';
import { can, type Role } from '../auth/permissions.js';
import type { DbOrTrx } from '../db/index.js';
import { NotFoundError } from '../errors.js';
import type { MessageKind } from './schemas.js';

/**
 * Who is looking, and from which side: `customer` routes (/support/...) show a user their own
 * conversations; `staff` routes (/admin/support/...) show what their permissions reach.
 */
export interface Viewer {
  id: string;
  role: Role;
  side: 'customer' | 'staff';
}

/**
 * THE scoping rule of the inbox, and the only place it is written: every read of a conversation (lists,
 * search, detail, messages, replies, attachments, socket watches) starts from this query.
 * - a customer: their own conversations;
 * - `support:read:any` (managers, admins): all;
 * - `support:read` (support agents): only those assigned to them;
 * - anyone else on the staff side: none.
 */
export function conversationsInScope(db: DbOrTrx, viewer: Viewer) {
  const q = db.selectFrom('supportConversations as c');
  if (viewer.side === 'customer') return q.where('c.customerId', '=', viewer.id);
  if (can(viewer.role, 'support:read:any')) return q;
  if (can(viewer.role, 'support:read')) return q.where('c.assigneeId', '=', viewer.id);
  return q.where(sql<boolean>`false`);
}

/** The message kinds a viewer may see: staff notes never reach the customer side. */
export const visibleKinds = (viewer: Viewer): MessageKind[] => (viewer.side === 'customer' ? ['message'] : ['message', 'note']);

/** The conversation if it is in the viewer's scope (optionally row-locked), else 404 — never 403. */
export async function conversationInScope(db: DbOrTrx, viewer: Viewer, id: string, opts: { lock?: boolean } = {}) {
  let q = conversationsInScope(db, viewer).selectAll('c').where('c.id', '=', id);
  if (opts.lock) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  if (!row) throw new NotFoundError('Conversation');
  return row;
}
export type ConversationRow = Awaited<ReturnType<typeof conversationInScope>>;

/**
 * For socket messages, which name a conversation but not a side: the user as its customer, else as
 * staff (if their role reads support at all). Null when neither scope holds it.
 */
export async function conversationForUser(db: DbOrTrx, user: { id: string; role: Role }, id: string): Promise<{ viewer: Viewer; conversation: ConversationRow } | null> {
  const sides: Viewer[] = [{ ...user, side: 'customer' }];
  if (can(user.role, 'support:read')) sides.push({ ...user, side: 'staff' });
  for (const viewer of sides) {
    const conversation = await conversationsInScope(db, viewer).selectAll('c').where('c.id', '=', id).executeTakeFirst();
    if (conversation) return { viewer, conversation };
  }
  return null;
}
