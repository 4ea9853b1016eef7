import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import type { Logger } from '../logger.js';

export interface PushMessage {
  title: string;
  body: string;
  data: Record<string, string>;
}

/** `invalid`: the provider says the token is dead (uninstalled app, bad token): it is deleted. */
export type PushOutcome = { ok: true; providerId: string } | { ok: false; invalid: true };

export interface PushTransport {
  readonly kind: 'fcm' | 'log';
  send(device: { token: string; platform: string }, message: PushMessage): Promise<PushOutcome>;
}

interface ServiceAccount {
  project_id: string;
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri: string;
}

const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

function readServiceAccount(value: string): ServiceAccount {
  const json = value.trim().startsWith('{') ? value : readFileSync(value, 'utf8');
  const account = JSON.parse(json) as Partial<ServiceAccount>;
  for (const field of ['project_id', 'client_email', 'private_key'] as const) {
    if (typeof account[field] !== 'string' || !account[field]) throw new Error(`FCM_SERVICE_ACCOUNT: missing ${field}`);
  }
  return { token_uri: 'https://oauth2.googleapis.com/token', ...account } as ServiceAccount;
}

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A push failure worth retrying (network, 5xx, 429): the job throws and BullMQ backs off. */
export class PushRetryableError extends Error {
  override name = 'PushRetryableError';
}

/**
 * FCM HTTP v1: an OAuth access token from the service account (a signed JWT exchanged at its token_uri,
 * kept until a minute before it expires), then `POST {FCM_BASE_URL}/v1/projects/{id}/messages:send`.
 */
export function createFcmTransport(config: Pick<Config, 'FCM_SERVICE_ACCOUNT' | 'FCM_BASE_URL'>): PushTransport {
  const account = readServiceAccount(config.FCM_SERVICE_ACCOUNT!);
  let cached: { token: string; until: number } | undefined;

  async function accessToken(): Promise<string> {
    if (cached && Date.now() < cached.until) return cached.token;
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${b64url({ alg: 'RS256', typ: 'JWT', ...(account.private_key_id ? { kid: account.private_key_id } : {}) })}.${b64url({
      iss: account.client_email,
      scope: FCM_SCOPE,
      aud: account.token_uri,
      iat: now,
      exp: now + 3600,
    })}`;
    const signature = createSign('RSA-SHA256').update(unsigned).sign(account.private_key).toString('base64url');
    const res = await fetch(account.token_uri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: `${unsigned}.${signature}` }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new PushRetryableError(`FCM token exchange answered ${res.status}`);
    const body = (await res.json()) as { access_token?: string; expires_in?: number };
    if (!body.access_token) throw new PushRetryableError('FCM token exchange gave no access_token');
    cached = { token: body.access_token, until: Date.now() + Math.max(60, (body.expires_in ?? 3600) - 60) * 1000 };
    return cached.token;
  }

  return {
    kind: 'fcm',
    async send(device, message) {
      const token = await accessToken();
      const res = await fetch(`${config.FCM_BASE_URL.replace(/\/$/, '')}/v1/projects/${encodeURIComponent(account.project_id)}/messages:send`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ message: { token: device.token, notification: { title: message.title, body: message.body }, data: message.data } }),
        signal: AbortSignal.timeout(10_000),
      });
      if (res.ok) return { ok: true, providerId: ((await res.json()) as { name?: string }).name ?? '' };
      const error = (await res.json().catch(() => ({}))) as { error?: { status?: string; details?: { errorCode?: string }[] } };
      const codes = [error.error?.status, ...(error.error?.details ?? []).map((d) => d.errorCode)];
      if (res.status === 404 || codes.includes('UNREGISTERED') || (res.status === 400 && codes.includes('INVALID_ARGUMENT'))) return { ok: false, invalid: true };
      if (res.status === 401) cached = undefined;
      throw new PushRetryableError(`FCM answered ${res.status} ${codes.filter(Boolean).join(',')}`);
    },
  };
}

/** Without FCM_SERVICE_ACCOUNT: the push is logged (never the token), for development. */
export function createLogPushTransport(log: Logger): PushTransport {
  return {
    kind: 'log',
    async send(device, message) {
      log.info({ platform: device.platform, title: message.title }, 'push (log transport)');
      return { ok: true, providerId: `log-${Date.now()}` };
    },
  };
}

export const createPushTransport = (config: Config, log: Logger): PushTransport =>
  config.FCM_SERVICE_ACCOUNT ? createFcmTransport(config) : createLogPushTransport(log);

/**
 * `push.send`: the notification to each of its recipient's devices as they are now, once per device
 * (a `push_deliveries` claim; a failed send gives the claim back and the job retries). A token the
 * provider rejects is deleted.
 */
export async function sendPush(db: Db, transport: PushTransport, notificationId: string): Promise<{ sent: number; removed: number }> {
  const n = await db.selectFrom('notifications').select(['id', 'userId', 'kind', 'title', 'body', 'data']).where('id', '=', notificationId).executeTakeFirst();
  if (!n) return { sent: 0, removed: 0 };
  // Only devices whose session still lives: an expired session's device gets nothing (cleanup deletes it).
  const devices = await db
    .selectFrom('devices as d')
    .innerJoin('sessions as s', 's.id', 'd.sessionId')
    .select(['d.id', 'd.token', 'd.platform'])
    .where('d.userId', '=', n.userId)
    .where('s.revokedAt', 'is', null)
    .where('s.expiresAt', '>', sql<Date>`now()`)
    .execute();
  const data = Object.fromEntries(
    Object.entries({ ...((n.data ?? {}) as Record<string, unknown>), kind: n.kind, notificationId: n.id }).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
  );
  let sent = 0;
  let removed = 0;
  for (const d of devices) {
    const claim = await db
      .insertInto('pushDeliveries')
      .values({ notificationId: n.id, deviceId: d.id })
      .onConflict((oc) => oc.columns(['notificationId', 'deviceId']).doNothing())
      .returning('deviceId')
      .executeTakeFirst();
    if (!claim) continue;
    let outcome: PushOutcome;
    try {
      outcome = await transport.send(d, { title: n.title, body: n.body, data });
    } catch (err) {
      await db.deleteFrom('pushDeliveries').where('notificationId', '=', n.id).where('deviceId', '=', d.id).execute();
      throw err;
    }
    if (outcome.ok) {
      sent++;
      await db.updateTable('pushDeliveries').set({ providerId: outcome.providerId }).where('notificationId', '=', n.id).where('deviceId', '=', d.id).execute();
    } else {
      removed++;
      // The token as it was sent: if it was claimed by someone else meanwhile, theirs stays.
      await db.deleteFrom('devices').where('id', '=', d.id).where('token', '=', d.token).execute();
    }
  }
  return { sent, removed };
}
