import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { isStaff } from '../../shared/auth/permissions.js';
import type { Config } from '../../shared/config.js';
import { createRedis } from '../../shared/redis.js';
import type { AuthUser } from './auth.js';

/**
 * The websocket hub. Notices travel worker → Redis pub/sub → every API replica → sockets: each replica
 * subscribes to `${QUEUE_PREFIX}:notices` on a connection of its own (a subscribed connection can do
 * nothing else) and fans each notice out to the sockets it holds. Nothing is buffered per client
 * beyond the socket's own send buffer: a client whose buffer passes WS_MAX_BUFFERED_BYTES is dropped.
 */

/** What the worker publishes (see worker/processors/system.ts `system.notify`). */
export interface Notice {
  type: string;
  userId?: string;
  staff?: boolean;
  data: Record<string, unknown>;
  at: string;
}

export const noticesChannel = (config: Pick<Config, 'QUEUE_PREFIX'>) => `${config.QUEUE_PREFIX}:notices`;

/** Close codes (4000–4999 are ours). */
export const WsClose = { unauthenticated: 4401, tooSlow: 4408, shuttingDown: 1001 } as const;

interface Client {
  socket: WebSocket;
  user: AuthUser;
  alive: boolean;
}

export interface RealtimeHub {
  /** Takes over an upgraded socket: authenticates it (header or first message), then delivers notices. */
  accept(socket: WebSocket, request: { headers: IncomingMessage['headers'] }): void;
  /** Delivers a notice to this replica's sockets (what the Redis subscription calls). */
  deliver(notice: Notice): number;
  stats(): { sockets: number; authenticated: number };
  /** Resolves once the Redis subscription is active (tests wait for it). */
  ready: Promise<void>;
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

export default fp(
  async function realtime(app: FastifyInstance) {
    const { config } = app;
    const clients = new Set<Client>();
    const byUser = new Map<string, Set<Client>>();
    const pending = new Set<WebSocket>();

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

    function register(socket: WebSocket, user: AuthUser) {
      pending.delete(socket);
      const client: Client = { socket, user, alive: true };
      clients.add(client);
      let set = byUser.get(user.id);
      if (!set) byUser.set(user.id, (set = new Set()));
      set.add(client);
      socket.on('pong', () => {
        client.alive = true;
      });
      socket.on('close', () => {
        clients.delete(client);
        set.delete(client);
        if (set.size === 0) byUser.delete(user.id);
      });
      send(client, frame('auth.ok', { userId: user.id, role: user.role }));
    }

    function authenticate(token: string | undefined): AuthUser | undefined {
      if (!token) return undefined;
      try {
        return app.verifyAccessToken(token);
      } catch {
        return undefined;
      }
    }

    function accept(socket: WebSocket, request: { headers: IncomingMessage['headers'] }) {
      socket.on('error', () => socket.terminate());
      const headerToken = tokenFromProtocols(request.headers['sec-websocket-protocol']);
      if (headerToken) {
        const user = authenticate(headerToken);
        if (user) return register(socket, user);
        socket.close(WsClose.unauthenticated, 'invalid token');
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
        const user =
          message.type === 'auth' && typeof message.token === 'string'
            ? authenticate(message.token)
            : undefined;
        if (!user) {
          pending.delete(socket);
          socket.close(WsClose.unauthenticated, 'invalid token');
          return;
        }
        register(socket, user);
      });
    }

    function deliver(notice: Notice): number {
      const payload = frame(notice.type, notice.data ?? {}, notice.at);
      const targets = new Set<Client>();
      if (notice.userId) for (const c of byUser.get(notice.userId) ?? []) targets.add(c);
      if (notice.staff) for (const c of clients) if (isStaff(c.user.role)) targets.add(c);
      let sent = 0;
      for (const c of targets) if (send(c, payload)) sent++;
      return sent;
    }

    // A connection of its own in subscriber mode; ioredis re-subscribes after reconnecting.
    const subscriber = createRedis(config.REDIS_URL, 'worker', 'agape-api-notices');
    subscriber.on('message', (_channel: string, message: string) => {
      try {
        const notice = JSON.parse(message) as Notice;
        if (typeof notice.type === 'string') deliver(notice);
      } catch (err) {
        app.log.warn({ err }, 'unreadable notice ignored');
      }
    });
    const ready = subscriber.subscribe(noticesChannel(config)).then(
      () => undefined,
      (err: unknown) =>
        app.log.error({ err }, 'notice subscription failed; websocket notices paused until Redis returns'),
    );

    // Heartbeats: a socket that did not answer the previous ping is gone (half-open TCP); close it.
    const heartbeat = setInterval(() => {
      for (const c of clients) {
        if (!c.alive) {
          c.socket.terminate();
          continue;
        }
        c.alive = false;
        c.socket.ping();
      }
    }, config.WS_HEARTBEAT_MS);
    heartbeat.unref();

    app.decorate('realtime', {
      accept,
      deliver,
      stats: () => ({ sockets: clients.size + pending.size, authenticated: clients.size }),
      ready,
    } satisfies RealtimeHub);

    app.addHook('preClose', async () => {
      clearInterval(heartbeat);
      for (const s of pending) s.close(WsClose.shuttingDown, 'server shutting down');
      for (const c of clients) c.socket.close(WsClose.shuttingDown, 'server shutting down');
    });
    app.addHook('onClose', async () => {
      subscriber.disconnect();
    });
  },
  { name: 'realtime', dependencies: ['infra', 'auth'] },
);
