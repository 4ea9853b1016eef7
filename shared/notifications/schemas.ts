import { Type, type Static } from 'typebox';

export const customerNotificationKinds = ['order.status_changed', 'return.status_changed', 'support.reply', 'credit.changed', 'cart.reminder'] as const;
export const staffNotificationKinds = [
  'payment.problem',
  'inventory.low_stock',
  'support.assigned',
  'support.reply_pending',
  'support.reply_approved',
  'support.reply_rejected',
  'return.requested',
  'review.flagged',
] as const;
export const notificationKinds = [...customerNotificationKinds, ...staffNotificationKinds] as const;
export type NotificationKind = (typeof notificationKinds)[number];
export const channels = ['email', 'push', 'inApp'] as const;
/**
 * Kinds whose mail their domain sends itself as a receipt (order confirmation, payment receipt, shipped,
 * refund; the staff payment-problem and low-stock mails), or with what the generic mail lacks (the cart
 * reminder's unsubscribe link, shared/customers/carts.ts): the fan-out adds no second mail for them.
 */
export const kindsWithOwnMail: readonly NotificationKind[] = ['order.status_changed', 'payment.problem', 'inventory.low_stock', 'cart.reminder'];
export const platforms = ['android', 'ios', 'web'] as const;
export type Platform = (typeof platforms)[number];

const Uuid = Type.String({ format: 'uuid' });
const Timestamp = Type.String({ format: 'date-time' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(s: T) => Type.Union([s, Type.Null()]);

export const NotificationKindSchema = Type.Enum(notificationKinds);

export const Notification = Type.Object({
  id: Uuid,
  kind: Type.String(),
  title: Type.String(),
  body: Type.String(),
  data: Type.Record(Type.String(), Type.Unknown()),
  readAt: Nullable(Timestamp),
  createdAt: Timestamp,
});
export type NotificationView = Static<typeof Notification>;

export const ChannelPreference = Type.Object(
  { email: Type.Boolean(), push: Type.Boolean(), inApp: Type.Boolean() },
  { additionalProperties: false },
);
export const ChannelPreferencePatch = Type.Object(
  { email: Type.Optional(Type.Boolean()), push: Type.Optional(Type.Boolean()), inApp: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
/** `{[kind]: {email, push, inApp}}`: every kind, defaults on. */
export const Preferences = Type.Record(Type.String(), ChannelPreference);
/** A patch names kinds and channels; an unknown kind is a 400 (checked against `notificationKinds`). */
export const PreferencesPatch = Type.Record(Type.String(), ChannelPreferencePatch, { minProperties: 1, maxProperties: notificationKinds.length });
export type PreferencesPatchInput = Static<typeof PreferencesPatch>;

export const Device = Type.Object({ id: Uuid, platform: Type.String(), createdAt: Timestamp, current: Type.Boolean() });
export type DeviceView = Static<typeof Device>;
export const RegisterDeviceBody = Type.Object(
  { token: Type.String({ minLength: 8, maxLength: 4096 }), platform: Type.Enum(platforms) },
  { additionalProperties: false },
);

/** What `notify.fanout` carries: one event, its recipients by id or by permission, and its text. */
export const NotificationEvent = Type.Object({
  /** Stable identity of the event: with the recipient, the notification's unique key. */
  key: Type.String({ minLength: 1, maxLength: 200 }),
  kind: NotificationKindSchema,
  userIds: Type.Optional(Type.Array(Uuid)),
  /** Every active user whose role holds this permission is a recipient too. */
  permission: Type.Optional(Type.String()),
  /** Never a recipient (the actor of a change). */
  exceptUserId: Type.Optional(Uuid),
  title: Type.String({ minLength: 1, maxLength: 200 }),
  body: Type.String({ maxLength: 2_000 }),
  data: Type.Record(Type.String(), Type.Unknown()),
});
export type NotificationEvent = Static<typeof NotificationEvent>;
