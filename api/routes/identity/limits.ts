import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { listOf } from '../../../shared/config.js';
import { TooManyRequestsError } from '../../../shared/errors.js';

/**
 * Brute-force limits of the identity routes: per client address (route `config.rateLimit`, checked in
 * onRequest) and per account (checked in preHandler, once the body names the email or token).
 */
const AUTH_LIMITS = {
  login: { ip: 30, account: 20, windowMs: 60_000 },
  register: { ip: 20, account: 5, windowMs: 60_000 },
  forgot: { ip: 10, account: 5, windowMs: 15 * 60_000 },
  refresh: { ip: 60, account: 10, windowMs: 60_000 },
  resend: { ip: 5, account: 5, windowMs: 15 * 60_000 },
  dashboard: { ip: 10, account: 10, windowMs: 60_000 },
  /** 2FA setup and disable (both need the password); the account is the signed-in user. */
  twoFactor: { ip: 20, account: 10, windowMs: 15 * 60_000 },
} as const;
export type LimitName = keyof typeof AUTH_LIMITS;

const digest = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 22);

/** The per-address part, for `config: { rateLimit: ipLimit('login') }`. */
export const ipLimit = (name: LimitName) => ({ max: AUTH_LIMITS[name].ip, timeWindow: AUTH_LIMITS[name].windowMs });

/**
 * The per-account part: a second counter in the same Redis store, keyed by a digest of the email (or
 * token), as a preHandler. Allow-listed addresses (load tests, internal callers) skip it like the first.
 */
export function accountLimit(app: FastifyInstance, name: LimitName, accountOf: (request: FastifyRequest) => string | undefined) {
  const allow = listOf(app.config.RATE_LIMIT_ALLOWLIST);
  const limiter = app.createRateLimit({
    max: AUTH_LIMITS[name].account,
    timeWindow: AUTH_LIMITS[name].windowMs,
    keyGenerator: (request) => `${name}:acct:${digest(accountOf(request) ?? '')}`,
    allowList: (request) => allow.includes(request.ip),
  });
  return async (request: FastifyRequest) => {
    if (!accountOf(request)) return;
    const result = await limiter(request);
    if (!result.isAllowed && result.isExceeded) throw new TooManyRequestsError(result.ttlInSeconds);
  };
}
