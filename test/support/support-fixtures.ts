/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import { sql } from 'kysely';
import type { Test } from 'tap';
import WebSocket from 'ws';
import type { Db } from '../../shared/db/index.js';
import { createUser, type Role } from './fixtures.js';
import { eventually } from './harness.js';

export { createUser };

interface Signer {
  signAccessToken(u: { id: string; role: Role; sessionId?: string }): string;
}

/** A user with a live session row and a bearer token bound to it (devices need a session). */
export async function signedIn(db: Db, app: Signer, role: Role = 'customer') {
  const user = await createUser(db, { role });
  const session = await db
    .insertInto('sessions')
    .values({ userId: user.id, expiresAt: sql<Date>`now() + interval '1 day'` })
    .returning('id')
    .executeTakeFirstOrThrow();
  const token = app.signAccessToken({ id: user.id, role, sessionId: session.id });
  return { ...user, sessionId: session.id, token, auth: { authorization: `Bearer ${token}` } };
}
export type Person = Awaited<ReturnType<typeof signedIn>>;

type Frame = { type: string; data: Record<string, any>; at: string };

/** A websocket client that records every frame; `send` writes a client message. */
export function wsClient(t: Test, url: string, token: string) {
  const socket = new WebSocket(url);
  const frames: Frame[] = [];
  socket.on('message', (raw: Buffer) => frames.push(JSON.parse(raw.toString('utf8')) as Frame));
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => {
      socket.send(JSON.stringify({ type: 'auth', token }));
      resolve();
    });
    socket.once('error', reject);
  });
  t.teardown(() => socket.terminate());
  const of = (type: string) => frames.filter((f) => f.type === type);
  return {
    socket,
    frames,
    of,
    ready: async () => {
      await opened;
      await eventually(() => frames.some((f) => f.type === 'auth.ok'), { timeoutMs: 30_000 });
    },
    send: (type: string, data: Record<string, unknown>) => socket.send(JSON.stringify({ type, data })),
    /** Watches a conversation and waits for the answer (the ack or an error). */
    watch: async (conversationId: string) => {
      const before = frames.length;
      socket.send(JSON.stringify({ type: 'support.watch', data: { conversationId } }));
      return eventually(() => frames.slice(before).find((f) => f.type === 'support.watching' || f.type === 'error'), { timeoutMs: 30_000 });
    },
  };
}

export async function wsUrl(app: { listen(o: { port: number; host: string }): Promise<string>; server: { address(): any }; realtime: { ready: Promise<void> } }) {
  await app.listen({ port: 0, host: '127.0.0.1' });
  await app.realtime.ready;
  return `ws://127.0.0.1:${app.server.address().port}/api/v1/ws`;
}
