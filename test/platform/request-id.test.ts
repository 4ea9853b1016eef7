import { randomUUID } from 'node:crypto';
import net from 'node:net';
import t from 'tap';
import { Type } from 'typebox';
import { buildApp } from '../../api/app.js';
import { requestPing } from '../../shared/system/ping.js';
import { eventually, logCapture, startTestWorker, testEnv, tokenFor } from '../support/harness.js';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const { config, db } = await testEnv(t);
const logs = logCapture('debug');
const app = await buildApp(config, { logger: logs.logger });
t.teardown(() => app.close());
app.post('/test/echo', { schema: { body: Type.Object({ n: Type.Integer() }) } }, async (request) => {
  request.log.info('handler started');
  await db.selectFrom('outbox').select('id').limit(1).execute();
  request.log.info({ n: request.body.n }, 'handler after a query');
  return { ok: true };
});
// Lets a test send the body only once the server has seen the headers (onRequest ran).
let headersSeen: () => void = () => {};
app.post(
  '/test/split',
  {
    onRequest: async () => headersSeen(),
    schema: { body: Type.Object({ message: Type.String() }) },
  },
  async (request) => requestPing(app.db, request.body.message),
);
app.get('/test/boom', async () => {
  throw new Error('boom');
});
await app.ready();

t.test("the client's id is echoed, sanitised and bounded; else a UUID", async (t) => {
  const echoed = await app.inject({ url: '/health/live', headers: { 'x-request-id': 'abc-123_x.y:z' } });
  t.equal(echoed.headers['x-request-id'], 'abc-123_x.y:z');
  const dirty = await app.inject({ url: '/health/live', headers: { 'x-request-id': 'ab c<script>\r\n"\'/é' } });
  t.equal(dirty.headers['x-request-id'], 'abcscript', 'only [A-Za-z0-9._:-] survive');
  const long = await app.inject({ url: '/health/live', headers: { 'x-request-id': 'a'.repeat(500) } });
  t.equal(long.headers['x-request-id'], 'a'.repeat(128), 'at most 128 characters');
  const none = await app.inject({ url: '/health/live' });
  t.match(none.headers['x-request-id'], uuid, 'generated when absent');
  const junk = await app.inject({ url: '/health/live', headers: { 'x-request-id': '<<>>' } });
  t.match(junk.headers['x-request-id'], uuid, 'generated when nothing usable is left');
  const other = await app.inject({ url: '/health/live' });
  t.not(other.headers['x-request-id'], none.headers['x-request-id'], 'a new one per request');
});

t.test('error responses carry it too (404, 400, 401, 500)', async (t) => {
  const cases = [
    { url: '/nowhere', status: 404 },
    { method: 'POST' as const, url: '/test/echo', payload: { n: 'x' }, status: 400 },
    { method: 'POST' as const, url: '/test/echo', headers: { 'content-type': 'application/json' }, payload: '{', status: 400 },
    { method: 'POST' as const, url: '/api/v1/system/ping', payload: {}, status: 401 },
    { url: '/test/boom', status: 500 },
  ];
  for (const { status, ...req } of cases) {
    const id = `err-${status}-${randomUUID().slice(0, 8)}`;
    const res = await app.inject({ ...req, headers: { ...req.headers, 'x-request-id': id } });
    t.equal(res.statusCode, status, req.url);
    t.equal(res.headers['x-request-id'], id, `${req.url} ${status} echoes the id`);
    t.equal(res.json<{ requestId: string }>().requestId, id);
  }
});

t.test('every log line of a request carries its id', async (t) => {
  const before = logs.lines.length;
  const res = await app.inject({ method: 'POST', url: '/test/echo', headers: { 'x-request-id': 'trace-me-1' }, payload: { n: 1 } });
  t.equal(res.statusCode, 200);
  const lines = logs.lines.slice(before).map((l) => JSON.parse(l) as { msg: string; requestId?: string });
  t.same(
    lines.map((l) => l.msg),
    ['incoming request', 'handler started', 'handler after a query', 'request completed'],
  );
  for (const line of lines) t.equal(line.requestId, 'trace-me-1', line.msg);
});

t.test('over real HTTP, work done after the body arrives still knows the request (outbox row)', async (t) => {
  // inject() hands the body over synchronously; a socket delivers it later, in another async context.
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/system/ping`, {
    method: 'POST',
    headers: { authorization: tokenFor(app, 'admin'), 'content-type': 'application/json', 'x-request-id': 'http-ping-1' },
    body: JSON.stringify({ message: 'over the wire' }),
  });
  t.equal(res.status, 202);
  t.equal(res.headers.get('x-request-id'), 'http-ping-1');
  const { jobId } = (await res.json()) as { jobId: string };
  const row = await db.selectFrom('outbox').select('requestId').where('id', '=', jobId).executeTakeFirstOrThrow();
  t.equal(row.requestId, 'http-ping-1');

  // The body arrives in a later packet than the headers.
  const seen = new Promise<void>((resolve) => (headersSeen = resolve));
  const body = JSON.stringify({ message: 'split' });
  const socket = net.connect(port, '127.0.0.1');
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  const ended = new Promise((resolve) => socket.on('end', resolve));
  socket.write(
    `POST /test/split HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n` +
      'x-request-id: split-body-1\r\nconnection: close\r\n\r\n',
  );
  await seen;
  socket.write(body);
  await ended;
  const split = JSON.parse(answer.split('\r\n\r\n')[1] ?? '{}') as { jobId: string };
  const splitRow = await db.selectFrom('outbox').select('requestId').where('id', '=', split.jobId).executeTakeFirstOrThrow();
  t.equal(splitRow.requestId, 'split-body-1');
  socket.destroy();
});

t.test("a job's log lines carry the request id that caused it", async (t) => {
  const workerLogs = logCapture('info');
  await startTestWorker(t, config, { logger: workerLogs.logger, queues: ['system'] });
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/system/ping',
    headers: { authorization: tokenFor(app, 'admin'), 'x-request-id': 'job-trace-1' },
    payload: { message: 'hello' },
  });
  t.equal(res.statusCode, 202);
  const { jobId } = res.json<{ jobId: string }>();
  const mine = () => workerLogs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.jobId === jobId);
  await eventually(() => mine().some((l) => l.msg === 'job completed'));
  t.same(mine().map((l) => l.msg), ['pong', 'job completed']);
  for (const line of mine()) t.equal(line.requestId, 'job-trace-1', `${String(line.msg)} carries the request id`);

  // Work started outside any request has no id, and says so rather than borrowing another's.
  const { jobId: orphan } = await requestPing(db, 'from a script');
  const row = await db.selectFrom('outbox').select('requestId').where('id', '=', orphan).executeTakeFirstOrThrow();
  t.equal(row.requestId, null);
});
