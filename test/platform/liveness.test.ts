import net from 'node:net';
import t from 'tap';
import { buildTestApp, testEnv } from '../support/harness.js';

/** One raw HTTP/1.1 exchange on a socket of its own (fetch would hide the header order and HEAD's length). */
function exchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString()));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.write(`${request}\r\nhost: localhost\r\nconnection: close\r\n\r\n`);
  });
}

function parse(answer: string) {
  const [head, body] = answer.split('\r\n\r\n');
  const [statusLine, ...lines] = head.split('\r\n');
  const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

const { config } = await testEnv(t);
const app = await buildTestApp(t, config);
await app.listen({ port: 0, host: '127.0.0.1' });
const { port } = app.server.address() as net.AddressInfo;
const PER_EXCHANGE = ['x-request-id', 'date', 'connection', 'keep-alive'];

t.test("the server's liveness answer is the route's, header for header", async (t) => {
  const route = await app.inject({ url: '/health/live' });
  const served = parse(await exchange(port, 'GET /health/live HTTP/1.1'));
  t.equal(served.status, route.statusCode);
  t.equal(served.body, route.body);
  const expected = Object.entries(route.headers).filter(([name]) => !PER_EXCHANGE.includes(name));
  t.ok(expected.length >= 5, 'the security headers, type and length are there to compare');
  for (const [name, value] of expected) t.equal(served.headers.get(name), value, name);
  t.same(
    [...served.headers.keys()].filter((name) => !PER_EXCHANGE.includes(name)).sort(),
    expected.map(([name]) => name).sort(),
    'and nothing more',
  );
  t.match(served.headers.get('x-request-id'), /^[0-9a-f-]{36}$/, 'a request id of its own');
});

t.test('the request id follows the same rules as every route', async (t) => {
  const echoed = parse(await exchange(port, 'GET /health/live HTTP/1.1\r\nx-request-id: abc-123_x.y:z'));
  t.equal(echoed.headers.get('x-request-id'), 'abc-123_x.y:z');
  const dirty = parse(await exchange(port, 'GET /health/live HTTP/1.1\r\nx-request-id: ab c<script>"\'/'));
  t.equal(dirty.headers.get('x-request-id'), 'abcscript');
});

t.test('HEAD has the length and no body; other methods and paths go to Fastify', async (t) => {
  const head = parse(await exchange(port, 'HEAD /health/live HTTP/1.1'));
  t.equal(head.status, 200);
  t.equal(head.headers.get('content-length'), '15');
  t.equal(head.body, '');
  const post = parse(await exchange(port, 'DELETE /health/live HTTP/1.1'));
  t.equal(post.status, 404);
  t.match(post.headers.get('content-type'), /problem\+json/);
  const query = parse(await exchange(port, 'GET /health/live?probe=1 HTTP/1.1'));
  t.equal(query.status, 200, 'with a query string it is the route that answers');
  t.same(JSON.parse(query.body), { status: 'ok' });
});

t.test('a cross-origin probe goes to Fastify, which adds the CORS headers when that origin is allowed', async (t) => {
  const { config: open } = await testEnv(t, { CORS_ORIGINS: 'https://shop.example' });
  const corsApp = await buildTestApp(t, open);
  await corsApp.listen({ port: 0, host: '127.0.0.1' });
  const corsPort = (corsApp.server.address() as net.AddressInfo).port;
  const allowed = parse(await exchange(corsPort, 'GET /health/live HTTP/1.1\r\norigin: https://shop.example'));
  t.equal(allowed.headers.get('access-control-allow-origin'), 'https://shop.example');
  t.equal(parse(await exchange(corsPort, 'GET /health/live HTTP/1.1')).headers.get('access-control-allow-origin'), undefined);
});

t.test('while the app closes, Fastify answers (503), not the shortcut', async (t) => {
  // A keep-alive connection opened before the close, as a kubelet's probe connection would be.
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let answer = '';
  socket.on('data', (c: Buffer) => (answer += c.toString()));
  const closing = app.close();
  socket.write('GET /health/live HTTP/1.1\r\nhost: localhost\r\n\r\n');
  await new Promise((resolve) => socket.once('close', resolve));
  await closing;
  t.equal(parse(answer).status, 503);
});
