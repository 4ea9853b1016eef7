import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { createHash, createPublicKey } from 'node:crypto';
import { can, type Permission, type Role } from '../../shared/auth/permissions.js';
import type { Config } from '../../shared/config.js';
import { ForbiddenError, UnauthorizedError } from '../../shared/errors.js';

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;

/** Verified access tokens kept per process (api/plugins/auth.ts): ~1 KB each, the oldest dropped first. */
const VERIFIED_TOKENS_MAX = 10_000;

interface AuthUser {
  id: string;
  role: Role;
}

/** Whom a token is issued to: the session it belongs to and the user's token generation at that moment. */
interface TokenSubject extends AuthUser {
  sessionId?: string;
  generation?: number;
}

/** A verified access token: who, and what revocation needs (shared/auth/revocation.ts). */
export interface VerifiedToken extends AuthUser {
  sessionId?: string;
  generation: number;
  /** When it expires, in ms since the epoch. */
  expiresAt: number;
}

/** `sid` and `gen` are ours (revocation); `iat`/`exp` are set by the signer. */
interface AccessClaims {
  sub: string;
  role: Role;
  sid?: string;
  gen?: number;
  iat?: number;
  exp?: number;
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessClaims;
    user: AccessClaims;
  }
}

function verifiedToken(claims: AccessClaims): VerifiedToken {
  return {
    id: claims.sub,
    role: claims.role,
    ...(typeof claims.sid === 'string' ? { sessionId: claims.sid } : {}),
    generation: typeof claims.gen === 'number' ? claims.gen : 0,
    expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : Number.POSITIVE_INFINITY,
  };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission a caller needs; implies a signed-in caller. */
    permission?: Permission;
    /** 'required': any signed-in user; 'optional': identify the caller if a token is sent. */
    auth?: 'required' | 'optional';
    /**
     * false: a pure read that writes no outbox or audit rows, so it runs without entering the request's work
     * context (api/app.ts); those rows would lose their request id and address.
     */
    workContext?: false;
  }
  interface FastifyRequest {
    /** The verified caller, or null when anonymous. */
    auth: VerifiedToken | null;
  }
  interface FastifyInstance {
    /** Signs a 15-minute RS256 access token with the current key's `kid`. */
    signAccessToken(subject: TokenSubject): string;
    /** Verifies signature and expiry outside the HTTP hook (websocket, queue dashboard); not revocation. */
    verifyAccessToken(token: string): VerifiedToken;
    /**
     * An onRequest hook that signs callers in by the route's config. The routes that ask for it get a hook of
     * their own when added (isSignInHook tells them apart; token-revocation runs right after).
     */
    authenticate: onRequestHookHandler;
    jwks: { keys: Jwk[] };
  }
}

export interface Jwk {
  kty: string;
  n: string;
  e: string;
  kid: string;
  use: 'sig';
  alg: 'RS256';
}

/** The public key as a JWK; `kid` is its RFC 7638 thumbprint, stable for the key itself. */
export function publicJwk(pem: string): Jwk {
  const { kty, n, e } = createPublicKey(pem).export({ format: 'jwk' });
  if (kty !== 'RSA' || !n || !e) throw new Error('JWT_PUBLIC_KEY must be an RSA public key');
  const kid = createHash('sha256').update(JSON.stringify({ e, kty, n })).digest('base64url');
  return { kty, n, e, kid, use: 'sig', alg: 'RS256' };
}

/** Whether a route signs its callers in (`config.auth` or `config.permission`): only those routes run the hooks. */
export const routeSignsIn = (route: RouteOptions) => {
  const config = route.config as { auth?: unknown; permission?: unknown } | undefined;
  return !!config && (config.auth !== undefined || config.permission !== undefined);
};

/** A route's onRequest hooks as an array. */
export const onRequestHooks = (route: RouteOptions): onRequestHookHandler[] =>
  route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? [...(route.onRequest as onRequestHookHandler[])] : [route.onRequest];

/**
 * The token of an `Authorization: Bearer <token>` header (scheme in any case; what follows a second space is
 * ignored), '' for any other header, undefined without one. Without split(): no array per request.
 */
function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const space = header.indexOf(' ');
  if (space !== 6 || header.slice(0, 6).toLowerCase() !== 'bearer') return '';
  const end = header.indexOf(' ', 7);
  return end < 0 ? header.slice(7) : header.slice(7, end);
}

/** The hooks `onRoute` gave the routes that sign callers in (token-revocation places its hook right after). */
const signInHooks = new WeakSet<onRequestHookHandler>();
export const isSignInHook = (hook: onRequestHookHandler) => signInHooks.has(hook);

/**
 * Access tokens and the permission check. Authentication runs in onRequest, before the body is parsed
 * or validated: an anonymous call to a protected route is 401 whatever its body, a caller without the
 * permission 403.
 */
export default fp(
  async function auth(app: FastifyInstance, opts: { config: Config }) {
    const { config } = opts;
    const current = publicJwk(config.JWT_PUBLIC_KEY);
    const keysByKid = new Map<string, string>([[current.kid, config.JWT_PUBLIC_KEY]]);
    const jwks = [current];
    if (config.JWT_PREVIOUS_PUBLIC_KEY) {
      const previous = publicJwk(config.JWT_PREVIOUS_PUBLIC_KEY);
      keysByKid.set(previous.kid, config.JWT_PREVIOUS_PUBLIC_KEY);
      jwks.push(previous);
    }
    app.decorate('jwks', { keys: jwks });

    await app.register(fastifyJwt, {
      secret: {
        private: config.JWT_PRIVATE_KEY,
        // The key is chosen by the token's kid; an unknown kid never reaches verification. At run time
        // @fastify/jwt calls this as (request, decodedToken, callback); its typings only know fast-jwt's form.
        public: ((_request: FastifyRequest, decoded: { header?: { kid?: string } }, cb: (e: Error | null, k?: string) => void) => {
          const key = decoded.header?.kid ? keysByKid.get(decoded.header.kid) : undefined;
          if (key) cb(null, key);
          else cb(new UnauthorizedError());
        }) as unknown as string,
      },
      // @fastify/jwt reads a number here as seconds (it converts to fast-jwt's milliseconds itself).
      sign: { algorithm: 'RS256', kid: current.kid, expiresIn: ACCESS_TOKEN_TTL_SECONDS },
      // cache: fast-jwt remembers verified tokens (by hash, until they expire): a client presents the same
      // token for 15 minutes, so RS256 verification runs about once per token, not per request.
      verify: { algorithms: ['RS256'], cache: true },
      decode: { complete: true },
    });

    app.decorate('signAccessToken', (subject: TokenSubject) =>
      app.jwt.sign({
        sub: subject.id,
        role: subject.role,
        ...(subject.sessionId ? { sid: subject.sessionId } : {}),
        ...(subject.generation ? { gen: subject.generation } : {}),
      }),
    );
    app.decorate('verifyAccessToken', (token: string): VerifiedToken => {
      try {
        const decoded = app.jwt.decode<{ header: { kid?: string } }>(token, { complete: true });
        const key = decoded?.header.kid ? keysByKid.get(decoded.header.kid) : undefined;
        if (!key) throw new UnauthorizedError();
        return verifiedToken(app.jwt.verify<AccessClaims>(token, { key, algorithms: ['RS256'] }));
      } catch {
        throw new UnauthorizedError();
      }
    });

    app.decorateRequest('auth', null);
    // A client presents the same access token for up to 15 minutes: it is verified (RS256, claims) once per
    // token string and kept here, bounded, until it expires. Revocation is not decided here: the hook right
    // after (token-revocation) asks on every request. Entries are frozen: requests share them.
    const verified = new Map<string, VerifiedToken>();
    const remember = (token: string, value: VerifiedToken) => {
      if (verified.size >= VERIFIED_TOKENS_MAX) verified.delete(verified.keys().next().value!);
      verified.set(token, Object.freeze(value));
    };
    const refuse = (permission: Permission | undefined, caller: VerifiedToken) => !!permission && !can(caller.role, permission);
    const signIn = (request: FastifyRequest, permission: Permission | undefined, auth: 'required' | 'optional' | undefined, done: (err?: Error) => void) => {
      if (!permission && !auth) return done();
      const token = bearer(request);
      if (token === undefined && auth === 'optional' && !permission) return done();
      if (!token) return done(new UnauthorizedError());
      const known = verified.get(token);
      if (known !== undefined) {
        if (known.expiresAt > Date.now()) {
          request.auth = known;
          return done(refuse(permission, known) ? new ForbiddenError() : undefined);
        }
        verified.delete(token);
      }
      request.jwtVerify<AccessClaims>().then(
        (claims) => {
          const caller = verifiedToken(claims);
          remember(token, caller);
          request.auth = caller;
          done(refuse(permission, caller) ? new ForbiddenError() : undefined);
        },
        // Every bad token (alg none, HS256 with the public key, tampered, expired, unknown kid) is a 401.
        () => done(new UnauthorizedError()),
      );
    };
    // For a hook added elsewhere: reads the route's config on each request.
    const authenticate = (request: FastifyRequest, _reply: unknown, done: (err?: Error) => void) => {
      const { permission, auth } = request.routeOptions.config;
      signIn(request, permission, auth, done);
    };
    app.decorate('authenticate', authenticate as onRequestHookHandler);
    // Only on the routes that sign callers in, ahead of their own hooks (rate limits): a public route or a
    // health probe runs none of this. Each gets a hook of its own that knows the route's config from here,
    // rather than asking for request.routeOptions (a new object each time) on every request.
    app.addHook('onRoute', (route) => {
      if (!routeSignsIn(route)) return;
      const { permission, auth } = route.config ?? {};
      const hook = ((request: FastifyRequest, _reply: unknown, done: (err?: Error) => void) => signIn(request, permission, auth, done)) as onRequestHookHandler;
      signInHooks.add(hook);
      route.onRequest = [hook, ...onRequestHooks(route)];
    });
  },
  { name: 'auth' },
);
