import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { can, isStaff, type Permission } from '../../shared/auth/permissions.js';
import { parseRevocation, readRevocationState, revocationKeys, revokes, type Revocation } from '../../shared/auth/revocation.js';
import { noticesChannel, parseNotice, type Notice } from '../../shared/realtime/notices.js';
import { createRedis } from '../../shared/redis.js';
import type { NoticeAudience } from '../../shared/support/audience.js';
import type { VerifiedToken } from './auth.js';
import { identityOf } from './token-revocation.js';

/**
 * The websocket hub. Notices travel worker → Redis pub/sub → every API replica → sockets: each replica
 * subscribes to `${QUEUE_PREFIX}:notices` on a connection of its own (a subscribed connection can do
 * nothing else) and fans each notice out to the sockets it holds. Nothing is buffered per client
 * beyond the socket's own send buffer: a client whose buffer passes WS_MAX_BUFFERED_BYTES is dropped.
 *
 * A socket lives no longer than its token: it is closed with 4401 when the token expires or is revoked
 * (shared/auth/revocation.ts), and is sent nothing after that moment. The same connection subscribes to
 * the revocation channel, and Redis delivers one connection's messages in publish order: a notice
 * published after a revocation is handled after it, when the socket is already closed. The check before
 * each send is local (the process's revocation cache and the token's expiry); Redis is asked when a socket
 * authenticates, on every heartbeat, and after the subscription reconnects (messages may have been lost;
 * notices wait until every socket was checked again).
 */

/** What a handler of a client message (`support.watch`, ...) may do with the socket it came from. */
export interface ClientContext {
  user: VerifiedToken;
  /** This socket hears the watcher notices of a conversation (support.watch) while it is in scope. */
  watch(conversationId: string): void;
  unwatch(conversationId: string): void;
  send(type: string, data: Record<string, unknown>): void;
}
export type ClientMessageHandler = (ctx: ClientContext, data: Record<string, unknown>) => Promise<void> | void;

/** Close codes (4000–4999 are ours). */
export const WsClose = { unauthenticated: 4401, tooSlow: 4408, shuttingDown: 1001 } as const;

interface Client {
  socket: WebSocket;
  user: VerifiedToken;
  alive: boolean;
  /** Closes the socket when the token expires. */
  expiry: NodeJS.Timeout;
  watching: Set<string>;
}

export interface RealtimeHub {
  /** Takes over an upgraded socket: authenticates it (header or first message), then delivers notices. */
  accept(socket: WebSocket, request: { headers: IncomingMessage['headers'] }): void;
  /** Delivers a notice to this replica's sockets (what the Redis subscription calls). */
  deliver(notice: Notice): number;
  stats(): { sockets: number; authenticated: number };
  /** Resolves once the Redis subscription is active (tests wait for it). */
  ready: Promise<void>;
  /** Routes a client message type (after authentication) to a handler; unknown types get an error frame. */
  handle(type: string, handler: ClientMessageHandler): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    realtime: RealtimeHub;
  }
}

/** Token from `Sec-WebSocket-Protocol: bearer, <token>` (browsers cannot set Authorization on a websocket). */
export function tokenFromProtocols(header: string | undefined): string | undefined {
  const protocols =
    header
      ?.split(',')
      .map((p) => p.trim())
      .filter(Boolean) ?? [];
  const i = protocols.findIndex((p) => p.toLowerCase() === 'bearer');
  if (i >= 0) return protocols.find((p, j) => j !== i);
  return protocols.find((p) => p.split('.').length === 3);
}

const frame = (type: string, data: Record<string, unknown>, at = new Date().toISOString()) =>
  JSON.stringify({ type, data, at });

/** setTimeout's longest delay (about 24.8 days); tokens live 15 minutes. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export default fp(
  async function realtime(app: FastifyInstance) {
    const { config } = app;
    const prefix = config.QUEUE_PREFIX;
    const clients = new Set<Client>();
    const byUser = new Map<string, Set<Client>>();
    const pending = new Set<WebSocket>();
    /** Notices held while the sockets are checked again after the subscription reconnected. */
    let held: Notice[] | undefined;

    await app.register(websocket, {
      options: {
        maxPayload: 16 * 1024,
        // A browser that offered `bearer, <token>` must get a protocol back or it fails the handshake.
        handleProtocols: (protocols) => (protocols.has('bearer') ? 'bearer' : false),
      },
    });

    function send(client: Client, payload: string): boolean {
      if (client.socket.readyState !== client.socket.OPEN) return false;
      if (client.socket.bufferedAmount > config.WS_MAX_BUFFERED_BYTES) {
        // Never buffer without bound for a reader that cannot keep up: drop it; it reconnects and
        // refetches state over REST.
        app.log.warn(
          { userId: client.user.id, buffered: client.socket.bufferedAmount },
          'websocket client too slow; dropped',
        );
        client.socket.terminate();
        return false;
      }
      client.socket.send(payload);
      return true;
    }

    /** The token ran out or was revoked: from this moment the socket gets nothing. */
    function unauthenticate(client: Client, reason: string) {
      clearTimeout(client.expiry);
      if (client.socket.readyState === client.socket.OPEN || client.socket.readyState === client.socket.CONNECTING) {
        client.socket.close(WsClose.unauthenticated, reason);
      }
      forget(client);
    }

    function forget(client: Client) {
      clearTimeout(client.expiry);
      for (const cid of client.watching) unwatch(client, cid);
      clients.delete(client);
      const set = byUser.get(client.user.id);
      set?.delete(client);
      if (set?.size === 0) byUser.delete(client.user.id);
    }

    /** Still allowed to receive: not expired, and not revoked as far as this process knows. */
    function entitled(client: Client): boolean {
      if (Date.now() >= client.user.expiresAt) {
        unauthenticate(client, 'token expired');
        return false;
      }
      if (app.revocation.cache.lookup(identityOf(client.user), Number.POSITIVE_INFINITY) === true) {
        unauthenticate(client, 'token revoked');
        return false;
      }
      return true;
    }

    function register(socket: WebSocket, user: VerifiedToken) {
      pending.delete(socket);
      const client: Client = {
        socket,
        user,
        alive: true,
        expiry: setTimeout(() => unauthenticate(client, 'token expired'), Math.min(MAX_TIMER_MS, Math.max(0, user.expiresAt - Date.now()))),
        watching: new Set(),
      };
      client.expiry.unref();
      clients.add(client);
      let set = byUser.get(user.id);
      if (!set) byUser.set(user.id, (set = new Set()));
      set.add(client);
      socket.on('pong', () => {
        client.alive = true;
      });
      socket.on('close', () => forget(client));
      socket.on('message', (raw) => onClientMessage(client, raw));
      // A revocation may have arrived while Redis was being asked: the cache has it by now.
      if (!entitled(client)) return;
      send(client, frame('auth.ok', { userId: user.id, role: user.role }));
    }

    /** Signature, expiry, then revocation asked of Redis itself (not the cache's "not revoked"). */
    async function authenticate(token: string | undefined): Promise<VerifiedToken | undefined> {
      if (!token) return undefined;
      let user: VerifiedToken;
      try {
        user = app.verifyAccessToken(token);
      } catch {
        return undefined;
      }
      // Asked after the subscription is up: a revocation after this answer arrives as a message. (With
      // Redis away at start nothing would arrive anyway; don't hold the socket for it.)
      await Promise.race([subscribed, new Promise((r) => setTimeout(r, config.WS_AUTH_TIMEOUT_MS).unref())]);
      return (await checkWithRedis([user]))[0] ? undefined : user;
    }

    /**
     * Which of these tokens are revoked, asking Redis (one MGET) and teaching the cache. Redis being away
     * fails open like the HTTP check (the token's expiry still bounds it).
     */
    async function checkWithRedis(tokens: VerifiedToken[]): Promise<boolean[]> {
      const identities = tokens.map(identityOf);
      const asked = Date.now();
      try {
        const states = await readRevocationState(app.redis, prefix, identities);
        identities.forEach((identity, i) => app.revocation.cache.learn(identity, states[i], asked));
      } catch (err) {
        app.log.warn({ err }, 'websocket revocation check skipped: Redis unavailable');
      }
      return identities.map((identity) => app.revocation.cache.lookup(identity, Number.POSITIVE_INFINITY) === true);
    }

    /** Every socket against Redis; the revoked ones are closed. */
    async function recheckAll(): Promise<void> {
      const list = [...clients];
      for (let i = 0; i < list.length; i += 1000) {
        const chunk = list.slice(i, i + 1000);
        const revoked = await checkWithRedis(chunk.map((c) => c.user));
        chunk.forEach((c, j) => {
          if (revoked[j]) unauthenticate(c, 'token revoked');
        });
      }
    }

    function accept(socket: WebSocket, request: { headers: IncomingMessage['headers'] }) {
      socket.on('error', () => socket.terminate());
      const headerToken = tokenFromProtocols(request.headers['sec-websocket-protocol']);
      if (headerToken) {
        pending.add(socket);
        void authenticate(headerToken).then((user) => {
          if (!pending.delete(socket)) return;
          if (user) register(socket, user);
          else socket.close(WsClose.unauthenticated, 'invalid token');
        });
        socket.once('close', () => pending.delete(socket));
        return;
      }
      pending.add(socket);
      const timer = setTimeout(() => {
        if (pending.delete(socket)) socket.close(WsClose.unauthenticated, 'authentication timeout');
      }, config.WS_AUTH_TIMEOUT_MS);
      timer.unref();
      socket.once('close', () => {
        clearTimeout(timer);
        pending.delete(socket);
      });
      socket.once('message', (raw) => {
        clearTimeout(timer);
        let message: { type?: unknown; token?: unknown } = {};
        try {
          message = JSON.parse(
            Buffer.isBuffer(raw)
              ? raw.toString('utf8')
              : Array.isArray(raw)
                ? Buffer.concat(raw).toString('utf8')
                : Buffer.from(raw).toString('utf8'),
          ) as typeof message;
        } catch {
          // falls through as unauthenticated
        }
        const token = message.type === 'auth' && typeof message.token === 'string' ? message.token : undefined;
        void authenticate(token).then((user) => {
          if (!pending.delete(socket)) return;
          if (user) register(socket, user);
          else socket.close(WsClose.unauthenticated, 'invalid token');
        });
      });
    }

    /** Sockets by watched conversation: a chat message visits its watchers, not every socket. */
    const watchers = new Map<string, Set<Client>>();
    function watch(client: Client, cid: string) {
      client.watching.add(cid);
      let set = watchers.get(cid);
      if (!set) watchers.set(cid, (set = new Set()));
      set.add(client);
    }
    function unwatch(client: Client, cid: string) {
      client.watching.delete(cid);
      const set = watchers.get(cid);
      set?.delete(client);
      if (set?.size === 0) watchers.delete(cid);
    }

    const handlers = new Map<string, ClientMessageHandler>();
    function onClientMessage(client: Client, raw: unknown) {
      let message: { type?: unknown; data?: unknown } = {};
      try {
        message = JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : Array.isArray(raw) ? Buffer.concat(raw as Buffer[]).toString('utf8') : Buffer.from(raw as ArrayBuffer).toString('utf8')) as typeof message;
      } catch {
        message = {};
      }
      const handler = typeof message.type === 'string' ? handlers.get(message.type) : undefined;
      const reply = (type: string, data: Record<string, unknown>) => {
        if (entitled(client)) send(client, frame(type, data));
      };
      if (!handler) return reply('error', { code: 'unknown_message', type: typeof message.type === 'string' ? message.type.slice(0, 64) : null });
      if (!entitled(client)) return;
      // `{type, data: {...}}` like server messages, or the fields beside `type`.
      const { type: _type, data: nested, ...flat } = message as Record<string, unknown>;
      const data = typeof nested === 'object' && nested !== null ? (nested as Record<string, unknown>) : flat;
      void Promise.resolve()
        .then(() =>
          handler(
            {
              user: client.user,
              // Only a socket still registered may watch (it may have closed while the scope was checked).
              watch: (cid) => clients.has(client) && watch(client, cid),
              unwatch: (cid) => unwatch(client, cid),
              send: reply,
            },
            data,
          ),
        )
        .catch((err: unknown) => {
          app.log.warn({ err, type: message.type }, 'websocket client message failed');
          reply('error', { code: 'internal_error' });
        });
    }

    /** Per conversation: the newest assign version seen and who was in it then (bounded; old entries go first). */
    const versions = new Map<string, { version: number; members: readonly string[] }>();
    const MAX_TRACKED_CONVERSATIONS = 100_000;

    /**
     * A support notice goes to its direct users, the watchers of its conversation and (broadcast) every
     * holder of its permission, but each socket only if it may have it now: a member of the conversation as
     * of the newest assignment this hub knows, or a holder of the permission. An older notice (computed
     * before a reassignment seen already) is judged by the newer membership: the old agent gets nothing.
     */
    function deliverScoped(audience: NoticeAudience, payload: string): number {
      const cid = audience.conversationId;
      let members: readonly string[] = [...new Set([...audience.direct, ...(audience.members ?? [])])];
      if (cid && audience.version !== undefined) {
        const known = versions.get(cid);
        if (!known || audience.version >= known.version) {
          versions.delete(cid);
          versions.set(cid, { version: audience.version, members: audience.members ?? audience.direct });
          if (versions.size > MAX_TRACKED_CONVERSATIONS) versions.delete(versions.keys().next().value!);
        } else {
          members = members.filter((id) => known.members.includes(id));
        }
      }
      const permission = audience.permission as Permission | undefined;
      const excluded = new Set([...(audience.exclude ?? []), ...(audience.except ? [audience.except] : [])]);
      const inScope = (c: Client) => members.includes(c.user.id) || (!!permission && can(c.user.role, permission));
      const allowed = (c: Client) => !excluded.has(c.user.id) && inScope(c);
      const targets = new Set<Client>();
      for (const id of audience.direct) for (const c of byUser.get(id) ?? []) targets.add(c);
      if (cid) {
        for (const c of [...(watchers.get(cid) ?? [])]) {
          // Out of scope now (reassigned away): stop watching at once.
          if (!inScope(c)) unwatch(c, cid);
          else targets.add(c);
        }
      }
      if (audience.broadcast && permission) for (const c of clients) if (can(c.user.role, permission)) targets.add(c);
      let sent = 0;
      for (const c of targets) if (allowed(c) && entitled(c) && send(c, payload)) sent++;
      return sent;
    }

    function deliver(notice: Notice): number {
      if (held) {
        held.push(notice);
        return 0;
      }
      const payload = frame(notice.type, notice.data ?? {}, notice.at);
      if (notice.audience) return deliverScoped(notice.audience, payload);
      const targets = new Set<Client>();
      if (notice.userId) for (const c of byUser.get(notice.userId) ?? []) targets.add(c);
      if (notice.staff) for (const c of clients) if (isStaff(c.user.role)) targets.add(c);
      let sent = 0;
      for (const c of targets) if (entitled(c) && send(c, payload)) sent++;
      return sent;
    }

    function revoked(revocation: Revocation) {
      app.revocation.cache.apply(revocation);
      for (const c of byUser.get(revocation.userId) ?? []) {
        if (revokes(revocation, identityOf(c.user))) unauthenticate(c, 'token revoked');
      }
    }

    // A connection of its own in subscriber mode, for notices and revocations (one connection: one order).
    const subscriber = createRedis(config.REDIS_URL, 'worker', 'agape-api-notices');
    const channels = [noticesChannel(config), revocationKeys(prefix).channel];
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== channels[0]) {
        const revocation = parseRevocation(message);
        if (revocation) revoked(revocation);
        return;
      }
      try {
        const notice = parseNotice(message);
        if (notice) deliver(notice);
      } catch (err) {
        app.log.warn({ err }, 'unreadable notice ignored');
      }
    });
    const subscribed = subscriber.subscribe(...channels).then(
      () => undefined,
      (err: unknown) =>
        app.log.error({ err }, 'notice subscription failed; websocket notices paused until Redis returns'),
    );
    // After a reconnect, revocations published meanwhile were lost: hold notices until every socket was
    // checked against Redis (asked once the subscription is back, so nothing falls between the two).
    let connectedBefore = false;
    subscriber.on('ready', () => {
      if (!connectedBefore) {
        connectedBefore = true;
        return;
      }
      held ??= [];
      void subscriber
        .subscribe(...channels)
        .then(() => recheckAll())
        .catch((err: unknown) => app.log.warn({ err }, 'websocket re-check after reconnect failed'))
        .finally(() => {
          const notices = held ?? [];
          held = undefined;
          for (const notice of notices) deliver(notice);
        });
    });

    // Heartbeats: a socket that did not answer the previous ping is gone (half-open TCP); close it. Each
    // round also asks Redis about every token (a revocation message may have been missed).
    const heartbeat = setInterval(() => {
      for (const c of clients) {
        if (!c.alive) {
          c.socket.terminate();
          forget(c);
          continue;
        }
        if (!entitled(c)) continue;
        c.alive = false;
        c.socket.ping();
      }
      void recheckAll();
    }, config.WS_HEARTBEAT_MS);
    heartbeat.unref();

    app.decorate('realtime', {
      accept,
      deliver,
      stats: () => ({ sockets: clients.size + pending.size, authenticated: clients.size }),
      ready: subscribed,
      handle: (type, handler) => {
        handlers.set(type, handler);
      },
    } satisfies RealtimeHub);

    app.addHook('preClose', async () => {
      clearInterval(heartbeat);
      for (const s of pending) s.close(WsClose.shuttingDown, 'server shutting down');
      for (const c of clients) {
        clearTimeout(c.expiry);
        c.socket.close(WsClose.shuttingDown, 'server shutting down');
      }
    });
    app.addHook('onClose', async () => {
      subscriber.disconnect();
    });
  },
  { name: 'realtime', dependencies: ['infra', 'auth', 'token-revocation'] },
);
