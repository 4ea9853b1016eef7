import { generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for Google's OAuth token endpoint and FCM HTTP v1, speaking their protocol:
 * - `POST /token` (the service account's token_uri): a JWT-bearer grant whose assertion must be an RS256
 *   JWT signed by the service account's key, with its email as `iss`, this endpoint as `aud` and the
 *   firebase.messaging scope; answers an access token.
 * - `POST /v1/projects/{project}/messages:send`: needs `Authorization: Bearer <that token>` and a body
 *   `{message: {token, notification: {title, body}, data: {string: string}}}`; a token marked
 *   unregistered answers 404 UNREGISTERED like FCM. Everything accepted is kept in `sent`.
 */
export interface FcmEmulator {
  url: string;
  /** FCM_SERVICE_ACCOUNT: a service account JSON whose token_uri points here. */
  serviceAccount: string;
  sent: { token: string; title: string; body: string; data: Record<string, string> }[];
  rejected: string[];
  tokenRequests: number;
  unregister(token: string): void;
  close(): Promise<void>;
}

const read = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => resolve(body));
  });

export async function startFcmEmulator(projectId = 'agape-test'): Promise<FcmEmulator> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const clientEmail = `push@${projectId}.iam.gserviceaccount.com`;
  const issued = new Set<string>();
  const unregistered = new Set<string>();
  const state = { sent: [] as FcmEmulator['sent'], rejected: [] as string[], tokenRequests: 0 };
  let url = '';

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const fcmError = (res: ServerResponse, status: number, code: string, errorCode?: string) =>
    json(res, status, { error: { code: status, status: code, message: code, details: errorCode ? [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] : [] } });

  const server = createServer((req, res) => {
    void (async () => {
      const body = await read(req);
      if (req.method === 'POST' && req.url === '/token') {
        state.tokenRequests++;
        const form = new URLSearchParams(body);
        const assertion = form.get('assertion') ?? '';
        const [h, c, s] = assertion.split('.');
        if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' || !h || !c || !s) return json(res, 400, { error: 'invalid_grant' });
        const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: string };
        const claims = JSON.parse(Buffer.from(c, 'base64url').toString()) as { iss?: string; aud?: string; scope?: string; exp?: number; iat?: number };
        const now = Date.now() / 1000;
        const good =
          header.alg === 'RS256' &&
          verify('RSA-SHA256', Buffer.from(`${h}.${c}`), publicKey, Buffer.from(s, 'base64url')) &&
          claims.iss === clientEmail &&
          claims.aud === `${url}/token` &&
          claims.scope?.split(' ').includes('https://www.googleapis.com/auth/firebase.messaging') &&
          typeof claims.exp === 'number' &&
          claims.exp > now &&
          claims.exp - (claims.iat ?? 0) <= 3600;
        if (!good) return json(res, 400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
        const token = `ya29.${randomBytes(16).toString('hex')}`;
        issued.add(token);
        return json(res, 200, { access_token: token, expires_in: 3599, token_type: 'Bearer' });
      }
      const m = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(req.url ?? '');
      if (req.method === 'POST' && m) {
        const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        if (!bearer || !issued.has(bearer)) return fcmError(res, 401, 'UNAUTHENTICATED');
        if (m[1] !== projectId) return fcmError(res, 403, 'PERMISSION_DENIED');
        let message: { token?: unknown; notification?: { title?: unknown; body?: unknown }; data?: Record<string, unknown> } | undefined;
        try {
          message = (JSON.parse(body) as { message?: typeof message }).message;
        } catch {
          return fcmError(res, 400, 'INVALID_ARGUMENT');
        }
        const data = message?.data ?? {};
        if (
          !message ||
          typeof message.token !== 'string' ||
          typeof message.notification?.title !== 'string' ||
          typeof message.notification.body !== 'string' ||
          Object.values(data).some((v) => typeof v !== 'string')
        ) {
          return fcmError(res, 400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT');
        }
        if (unregistered.has(message.token)) {
          state.rejected.push(message.token);
          return fcmError(res, 404, 'NOT_FOUND', 'UNREGISTERED');
        }
        state.sent.push({ token: message.token, title: message.notification.title, body: message.notification.body, data: data as Record<string, string> });
        return json(res, 200, { name: `projects/${projectId}/messages/${randomBytes(8).toString('hex')}` });
      }
      json(res, 404, { error: 'not found' });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const serviceAccount = JSON.stringify({
    type: 'service_account',
    project_id: projectId,
    private_key_id: randomBytes(8).toString('hex'),
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: clientEmail,
    token_uri: `${url}/token`,
  });
  return {
    url,
    serviceAccount,
    get sent() {
      return state.sent;
    },
    get rejected() {
      return state.rejected;
    },
    get tokenRequests() {
      return state.tokenRequests;
    },
    unregister: (token) => unregistered.add(token),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
