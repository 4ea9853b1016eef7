import cookie from '@fastify/cookie';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { authenticate } from '../../../shared/auth/accounts.js';
import { can } from '../../../shared/auth/permissions.js';
import { DomainError } from '../../../shared/errors.js';
import { escapeHtml } from '../../../shared/mail/html.js';
import { ACCESS_TOKEN_TTL_SECONDS } from '../../plugins/auth.js';
import { DASHBOARD_COOKIE, DASHBOARD_PATH } from '../../plugins/queue-dashboard.js';
import { attemptCounter } from './attempts.js';
import { accountLimit, ipLimit } from './limits.js';

const LOGIN_PATH = `${DASHBOARD_PATH}/login`;

function page(message?: string) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Queue dashboard sign-in</title>
<style>body{font-family:system-ui,sans-serif;background:#f4f4f5;display:grid;place-items:center;min-height:100vh;margin:0}
form{background:#fff;padding:32px;border-radius:8px;box-shadow:0 1px 4px #0002;display:grid;gap:12px;width:300px}
input,button{font:inherit;padding:8px}button{background:#111;color:#fff;border:0;border-radius:4px}.err{color:#b00020}</style>
</head><body>
<form method="post" action="${LOGIN_PATH}">
<h1 style="font-size:18px;margin:0">Queue dashboard</h1>
${message ? `<p class="err" role="alert">${escapeHtml(message)}</p>` : ''}
<label>Email <input name="email" type="email" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<label>Code (if 2FA is on) <input name="totp" inputmode="numeric" autocomplete="one-time-code"></label>
<button type="submit">Sign in</button>
</form></body></html>`;
}

const sendPage = (reply: FastifyReply, status: number, message?: string) =>
  reply
    .code(status)
    .header('cache-control', 'no-store')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
    .type('text/html; charset=utf-8')
    .send(page(message));

/**
 * The browser's way into /admin/queues: an admin signs in with email + password (+ code) and gets the
 * access token as a short-lived HttpOnly, SameSite=Strict cookie scoped to the dashboard's path.
 */
const dashboardLogin: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(cookie);
  // HTML forms post urlencoded bodies; only this scope accepts them.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  const secure = app.config.PUBLIC_URL.startsWith('https://');
  const observe = attemptCounter(app);

  app.get(
    LOGIN_PATH,
    { schema: { tags: ['operations'], summary: 'Sign-in form of the queue dashboard (HTML)', hide: true } },
    async (_request, reply) => sendPage(reply, 200),
  );

  app.post(
    LOGIN_PATH,
    {
      config: { rateLimit: ipLimit('dashboard') },
      preHandler: accountLimit(app, 'dashboard', (r) => (r.body as { email?: string } | undefined)?.email?.toLowerCase()),
      schema: {
        tags: ['operations'],
        summary: 'Sign in to the queue dashboard (sets the dashboard cookie)',
        hide: true,
        body: Type.Object({
          email: Type.String({ maxLength: 320 }),
          password: Type.String({ maxLength: 1024 }),
          totp: Type.Optional(Type.String({ maxLength: 64 })),
        }),
      },
      // A bad form answers with the form again, not problem+json.
      attachValidation: true,
    },
    async (request, reply) => {
      if (request.validationError) return sendPage(reply, 400, 'Enter your email and password.');
      const { email, password, totp } = request.body;
      let user;
      try {
        user = await authenticate(app.db, app.config, { email, password, ...(totp ? { totp } : {}) }, observe);
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        const messages: Record<string, string> = {
          totp_required: 'Enter the code from your authenticator app.',
          invalid_totp: 'The code is not valid.',
          account_locked: 'Too many failed sign-ins: try again later.',
          rate_limited: 'Too many attempts: try again in a moment.',
        };
        return sendPage(reply, err.status, messages[err.code] ?? 'Email or password is wrong.');
      }
      if (!can(user.role, 'queue:admin')) {
        return sendPage(reply, 403, 'The queue dashboard is for admins.');
      }
      // No session behind this cookie: it stops with the user's token generation (disable, role, reset).
      const token = app.signAccessToken({ id: user.id, role: user.role, generation: user.tokenGeneration });
      reply.setCookie(DASHBOARD_COOKIE, token, {
        path: DASHBOARD_PATH,
        httpOnly: true,
        sameSite: 'strict',
        secure,
        maxAge: ACCESS_TOKEN_TTL_SECONDS,
      });
      return reply.redirect(`${DASHBOARD_PATH}/`, 303);
    },
  );
};
export default dashboardLogin;
