import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { deleteDevice, listDevices, registerDevice } from '../../shared/notifications/devices.js';
import { listNotifications, readAllNotifications, readNotification, unreadCount } from '../../shared/notifications/inbox.js';
import { getPreferences, updatePreferences } from '../../shared/notifications/preferences.js';
import { Device, Notification, Preferences, PreferencesPatch, RegisterDeviceBody } from '../../shared/notifications/schemas.js';
import { publishNotices } from '../../shared/support/publish.js';
import { IdParams, Page, PageQuery, problemResponses, Timestamp } from '../schemas.js';

/** /me/notifications, /me/notification-preferences, /me/devices (contract: Notifications and devices). */
const notifications: FastifyPluginAsyncTypebox = async (app) => {
  const common = { tags: ['notifications'], security: [{ bearerAuth: [] }] };
  const signedIn = { auth: 'required' as const };
  /** The caller's other devices and tabs learn the new count at once. */
  const announceCount = (userId: string, count: number) =>
    publishNotices(app.redis, app.config.QUEUE_PREFIX, [{ type: 'notification.unread_count', data: { count }, audience: { direct: [userId] } }]).catch((err: unknown) =>
      app.log.warn({ err }, 'unread count not published'),
    );

  app.get(
    '/me/notifications',
    {
      config: signedIn,
      schema: {
        ...common,
        operationId: 'listMyNotifications',
        summary: 'Your in-app notifications, newest first',
        querystring: Type.Object({ ...PageQuery, unread: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: Page(Notification), ...problemResponses(400, 401) },
      },
    },
    async (request) => listNotifications(app.db, request.auth!.id, request.query),
  );

  app.get(
    '/me/notifications/unread-count',
    {
      config: signedIn,
      schema: { ...common, operationId: 'countMyUnreadNotifications', summary: 'How many are unread', response: { 200: Type.Object({ count: Type.Integer({ minimum: 0 }) }), ...problemResponses(401) } },
    },
    async (request) => ({ count: await unreadCount(app.db, request.auth!.id) }),
  );

  app.post(
    '/me/notifications/read-all',
    {
      config: signedIn,
      schema: {
        ...common,
        operationId: 'readAllMyNotifications',
        summary: 'Mark read everything up to `before` (default: now); later arrivals stay unread',
        body: Type.Optional(Type.Object({ before: Type.Optional(Timestamp) }, { additionalProperties: false })),
        response: { 204: Type.Null(), ...problemResponses(400, 401, 415) },
      },
    },
    async (request, reply) => {
      const count = await readAllNotifications(app.db, request.auth!.id, request.body?.before);
      await announceCount(request.auth!.id, count);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/me/notifications/:id/read',
    {
      config: signedIn,
      schema: { ...common, operationId: 'readMyNotification', summary: 'Mark one read', params: IdParams, response: { 204: Type.Null(), ...problemResponses(401, 404) } },
    },
    async (request, reply) => {
      const count = await readNotification(app.db, request.auth!.id, request.params.id);
      await announceCount(request.auth!.id, count);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/me/notification-preferences',
    {
      config: signedIn,
      schema: { ...common, operationId: 'getMyNotificationPreferences', summary: 'Channels per kind (`{[kind]: {email, push, inApp}}`, on by default)', response: { 200: Preferences, ...problemResponses(401) } },
    },
    async (request) => getPreferences(app.db, request.auth!.id),
  );

  app.patch(
    '/me/notification-preferences',
    {
      config: signedIn,
      schema: {
        ...common,
        operationId: 'updateMyNotificationPreferences',
        summary: 'Turn channels of kinds on or off (unknown kind: 400). Receipts and security mail are not affected.',
        body: PreferencesPatch,
        response: { 200: Preferences, ...problemResponses(400, 401, 415) },
      },
    },
    async (request) => updatePreferences(app.db, request.auth!.id, request.body),
  );

  app.post(
    '/me/devices',
    {
      config: signedIn,
      schema: {
        ...common,
        operationId: 'registerMyDevice',
        summary: 'Register a push token for this session (201; 200 if already yours); it is deleted when the session ends',
        body: RegisterDeviceBody,
        response: { 200: Device, 201: Device, ...problemResponses(400, 401, 415) },
      },
    },
    async (request, reply) => {
      const { device, created } = await registerDevice(app.db, request.auth!, request.body);
      return reply.code(created ? 201 : 200).send(device);
    },
  );

  app.get(
    '/me/devices',
    {
      config: signedIn,
      schema: { ...common, operationId: 'listMyDevices', summary: 'Your registered devices (never their tokens)', response: { 200: Type.Object({ items: Type.Array(Device) }), ...problemResponses(401) } },
    },
    async (request) => ({ items: await listDevices(app.db, request.auth!) }),
  );

  app.delete(
    '/me/devices/:id',
    {
      config: signedIn,
      schema: { ...common, operationId: 'deleteMyDevice', summary: 'Stop pushing to a device', params: IdParams, response: { 204: Type.Null(), ...problemResponses(401, 404) } },
    },
    async (request, reply) => {
      await deleteDevice(app.db, request.auth!.id, request.params.id);
      return reply.code(204).send(null);
    },
  );
};
export default notifications;
