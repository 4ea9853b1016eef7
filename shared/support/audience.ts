import { Type, type Static } from 'typebox';

/**
 * Who may receive a support socket notice, computed where the change is made (in its transaction) and
 * carried with the notice: the hub in each API replica only filters, it never asks the database.
 *
 * - `direct`: users whose every socket gets it (the customer, the assignee, the author of a reply).
 * - `members` / `permission`: who may receive it as a watcher of `conversationId` (support.watch); a
 *   socket watching is sent it only if its user is a member or its role holds `permission`.
 * - `broadcast`: every socket whose role holds `permission` gets it (approvers, managers).
 * - `version`: the conversation's assign_version when the notice was made. A hub that has seen a newer
 *   version already sends it only to holders of `permission`: an agent taken off the conversation gets
 *   nothing computed before the change, whatever order replicas see the two in.
 * - `exclude`: never these users, though members (the customer, for staff notes).
 * - `except`: the sender (typing is not echoed).
 *
 * `members` is always the conversation's people (customer, assignee): a hub keeps the newest membership
 * it saw per conversation and ends the watches of sockets no longer in it.
 */
export const NoticeAudience = Type.Object({
  conversationId: Type.Optional(Type.String({ format: 'uuid' })),
  version: Type.Optional(Type.Integer({ minimum: 0 })),
  direct: Type.Array(Type.String({ format: 'uuid' })),
  members: Type.Optional(Type.Array(Type.String({ format: 'uuid' }))),
  permission: Type.Optional(Type.String()),
  broadcast: Type.Optional(Type.Boolean()),
  exclude: Type.Optional(Type.Array(Type.String({ format: 'uuid' }))),
  except: Type.Optional(Type.String({ format: 'uuid' })),
});
export type NoticeAudience = Static<typeof NoticeAudience>;

/** A notice for websocket clients with its audience (see api/plugins/realtime.ts). */
export interface AudienceNotice {
  type: string;
  data: Record<string, unknown>;
  audience: NoticeAudience;
}
