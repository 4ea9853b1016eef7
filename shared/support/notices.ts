import type { AudienceNotice, NoticeAudience } from './audience.js';
import type { ConversationView, MessageKind } from './schemas.js';

interface ConversationKeys {
  id: string;
  customerId: string;
  assigneeId: string | null;
  assignVersion: number;
}

/**
 * Who hears about a conversation: its customer (not for staff notes), its assignee, and watchers in
 * scope; the version pins the assignee it was computed for.
 */
export function conversationAudience(c: ConversationKeys, opts: { kind?: MessageKind; except?: string } = {}): NoticeAudience {
  const people = [c.customerId, ...(c.assigneeId ? [c.assigneeId] : [])];
  const note = opts.kind === 'note';
  return {
    conversationId: c.id,
    version: c.assignVersion,
    direct: note ? people.filter((id) => id !== c.customerId) : people,
    members: people,
    permission: 'support:read:any',
    ...(note ? { exclude: [c.customerId] } : {}),
    ...(opts.except ? { except: opts.except } : {}),
  };
}

/** `support.conversation_updated`: the customer, the (new) assignee and every holder of support:read:any. */
export function conversationUpdated(c: ConversationKeys, view: Omit<ConversationView, 'unread'>): AudienceNotice {
  return {
    type: 'support.conversation_updated',
    data: { conversation: view },
    audience: { ...conversationAudience(c), broadcast: true },
  };
}
