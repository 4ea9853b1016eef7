import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import {
  forgotPassword,
  login,
  register,
  resendVerification,
  resetPassword,
  verifyEmail,
  type TokenSubject,
} from '../../../shared/auth/accounts.js';
import { normalizeEmail } from '../../../shared/auth/passwords.js';
import { listSessions, logout, revokeOwnSession, rotateRefreshToken, type ClientMeta } from '../../../shared/auth/sessions.js';
import { disableTwoFactor, enableTwoFactor, setupTwoFactor } from '../../../shared/auth/two-factor.js';
import { ACCESS_TOKEN_TTL_SECONDS } from '../../plugins/auth.js';
import { IdParams, Page, problemResponses, Timestamp, Uuid } from '../../schemas.js';
import { attemptCounter } from './attempts.js';
import { accountLimit, ipLimit } from './limits.js';
import { Accepted, AuthResult, Email, Password, TokenPair, UserSchema } from '../../../shared/auth/schemas.js';

const meta = (request: FastifyRequest): ClientMeta => ({ ip: request.ip, userAgent: request.headers['user-agent'] });
const bodyField = (field: string) => (request: FastifyRequest) => {
  const value = (request.body as Record<string, unknown> | undefined)?.[field];
  return typeof value === 'string' ? value : undefined;
};
const emailOf = (request: FastifyRequest) => {
  const email = bodyField('email')(request);
  return email === undefined ? undefined : normalizeEmail(email);
};

const SessionSchema = Type.Object({
  id: Uuid,
  device: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  lastUsedAt: Timestamp,
});
const CodeField = Type.String({ minLength: 1, maxLength: 64 });
const Code = Type.Object({ code: CodeField }, { additionalProperties: false });
const tags = ['auth'];

/** /api/v1/auth: accounts, tokens, sessions, password reset and two-factor authentication. */
const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, config } = app;
  const { revoker } = app.revocation;
  const observe = attemptCounter(app);
  const tokens = (subject: TokenSubject) => ({ accessToken: app.signAccessToken(subject), expiresIn: ACCESS_TOKEN_TTL_SECONDS });
  const signedInUser = (request: FastifyRequest) => request.auth?.id;

  app.post(
    '/auth/register',
    {
      config: { rateLimit: ipLimit('register') },
      preHandler: accountLimit(app, 'register', emailOf),
      schema: {
        tags,
        operationId: 'register',
        security: [],
        summary: 'Create an account (a verification email is sent)',
        body: Type.Object(
          { email: Email, password: Password, name: Type.String({ minLength: 1, maxLength: 200 }) },
          { additionalProperties: false },
        ),
        response: { 201: AuthResult, ...problemResponses(400, 409, 429) },
      },
    },
    async (request, reply) => {
      const { user, refreshToken, subject } = await register(db, config, request.body, meta(request));
      return reply.code(201).send({ user, refreshToken, ...tokens(subject) });
    },
  );

  app.post(
    '/auth/verify-email',
    {
      schema: {
        tags,
        operationId: 'verifyEmail',
        security: [],
        summary: 'Confirm the email address with the token from the verification mail',
        body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ user: UserSchema }), ...problemResponses(400) },
      },
    },
    async (request) => verifyEmail(db, request.body.token),
  );

  app.post(
    '/auth/resend-verification',
    {
      config: {
        auth: 'required',
        rateLimit: { ...ipLimit('resend'), keyGenerator: (request: FastifyRequest) => `resend:${request.auth?.id ?? request.ip}` },
      },
      schema: {
        tags,
        operationId: 'resendVerificationEmail',
        summary: 'Send a new verification mail (nothing happens once verified)',
        security: [{ bearerAuth: [] }],
        response: { 202: Accepted, ...problemResponses(401, 429) },
      },
    },
    async (request, reply) => {
      await resendVerification(db, config, request.auth!.id);
      return reply.code(202).send({ status: 'accepted' as const });
    },
  );

  app.post(
    '/auth/login',
    {
      config: { rateLimit: ipLimit('login') },
      preHandler: accountLimit(app, 'login', emailOf),
      schema: {
        tags,
        operationId: 'login',
        security: [],
        summary: 'Sign in with email and password (and a TOTP or recovery code when 2FA is on)',
        body: Type.Object(
          { email: Email, password: Password, totp: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) },
          { additionalProperties: false },
        ),
        response: { 200: AuthResult, ...problemResponses(400, 401, 403, 423, 429) },
      },
    },
    async (request) => {
      const { user, refreshToken, subject } = await login(db, config, request.body, meta(request), observe);
      return { user, refreshToken, ...tokens(subject) };
    },
  );

  app.post(
    '/auth/refresh',
    {
      config: { rateLimit: ipLimit('refresh') },
      preHandler: accountLimit(app, 'refresh', bodyField('refreshToken')),
      schema: {
        tags,
        operationId: 'refreshTokens',
        security: [],
        summary: 'Exchange a refresh token for a new pair (the old one is spent; within the reuse grace it answers the same pair again)',
        body: Type.Object({ refreshToken: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        response: { 200: TokenPair, ...problemResponses(400, 401, 429) },
      },
    },
    async (request) => {
      const pair = await rotateRefreshToken(db, request.body.refreshToken, meta(request), {
        graceSeconds: config.REFRESH_REUSE_GRACE_SECONDS,
        signAccessToken: (subject) => app.signAccessToken(subject),
        revoker,
      });
      return { ...pair, expiresIn: ACCESS_TOKEN_TTL_SECONDS };
    },
  );

  app.post(
    '/auth/logout',
    {
      schema: {
        tags,
        operationId: 'logout',
        security: [],
        summary: 'End the session of this refresh token (its access tokens stop at once)',
        body: Type.Object({ refreshToken: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...problemResponses(400) },
      },
    },
    async (request, reply) => {
      await logout(db, revoker, request.body.refreshToken);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/auth/sessions',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        operationId: 'listSessions',
        summary: "The caller's active sessions",
        security: [{ bearerAuth: [] }],
        response: { 200: Page(SessionSchema), ...problemResponses(401) },
      },
    },
    async (request) => ({ items: await listSessions(db, request.auth!.id), nextCursor: null }),
  );

  app.delete(
    '/auth/sessions/:id',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        operationId: 'revokeSession',
        summary: 'Revoke one of your sessions (signs that device out)',
        security: [{ bearerAuth: [] }],
        params: IdParams,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      await revokeOwnSession(db, revoker, request.auth!.id, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/auth/password/forgot',
    {
      config: { rateLimit: ipLimit('forgot') },
      preHandler: accountLimit(app, 'forgot', emailOf),
      schema: {
        tags,
        operationId: 'forgotPassword',
        security: [],
        summary: 'Send a password reset mail if the account exists (always 202)',
        body: Type.Object({ email: Email }, { additionalProperties: false }),
        response: { 202: Accepted, ...problemResponses(400, 429) },
      },
    },
    async (request, reply) => {
      await forgotPassword(db, config, request.body.email);
      return reply.code(202).send({ status: 'accepted' as const });
    },
  );

  app.post(
    '/auth/password/reset',
    {
      config: { rateLimit: ipLimit('forgot') },
      schema: {
        tags,
        operationId: 'resetPassword',
        security: [],
        summary: 'Set a new password with the token from the reset mail; every session ends',
        body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }), password: Password }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...problemResponses(400, 429) },
      },
    },
    async (request, reply) => {
      await resetPassword(db, config, revoker, request.body.token, request.body.password);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/auth/2fa/setup',
    {
      config: { auth: 'required', rateLimit: ipLimit('twoFactor') },
      preHandler: accountLimit(app, 'twoFactor', signedInUser),
      schema: {
        tags,
        operationId: 'setupTwoFactor',
        summary: 'Start two-factor setup with the password: secret, otpauth URL and QR code (PNG data URL)',
        description: 'A wrong password answers 401 invalid_credentials and counts towards the lockout.',
        security: [{ bearerAuth: [] }],
        body: Type.Object({ password: Password }, { additionalProperties: false }),
        response: {
          200: Type.Object({ secret: Type.String(), otpauthUrl: Type.String(), qrCode: Type.String() }),
          ...problemResponses(400, 401, 409, 423, 429),
        },
      },
    },
    async (request) => setupTwoFactor(db, config, request.auth!.id, request.body.password, observe),
  );

  app.post(
    '/auth/2fa/enable',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        operationId: 'enableTwoFactor',
        summary: 'Turn two-factor on with a code from the app; returns 10 single-use recovery codes',
        security: [{ bearerAuth: [] }],
        body: Code,
        response: { 200: Type.Object({ recoveryCodes: Type.Array(Type.String()) }), ...problemResponses(400, 401, 409) },
      },
    },
    async (request) => enableTwoFactor(db, config, request.auth!.id, request.body.code),
  );

  app.post(
    '/auth/2fa/disable',
    {
      config: { auth: 'required', rateLimit: ipLimit('twoFactor') },
      preHandler: accountLimit(app, 'twoFactor', signedInUser),
      schema: {
        tags,
        operationId: 'disableTwoFactor',
        summary: 'Turn two-factor off (needs the password and a current code or a recovery code)',
        description: 'A wrong password (401 invalid_credentials) or code (400 invalid_totp) counts towards the lockout.',
        security: [{ bearerAuth: [] }],
        body: Type.Object({ code: CodeField, password: Password }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...problemResponses(400, 401, 409, 423, 429) },
      },
    },
    async (request, reply) => {
      await disableTwoFactor(db, config, request.auth!.id, request.body.code, request.body.password, observe);
      return reply.code(204).send(null);
    },
  );
};
export default authRoutes;
