/* eslint-disable @typescript-eslint/no-explicit-any -- HTTP answers in tests are untyped JSON */
import t from 'tap';
import { buildApp } from '../../api/app.js';
import { eventually, testEnv } from '../support/harness.js';
import { startApiProcess } from '../support/api-process.js';
import { signedIn, wsClient, type Person } from '../support/support-fixtures.js';

/**
 * A customer and an agent chat live, each connected to a different API process (two operating-system
 * processes sharing only PostgreSQL and Redis): what one writes on one process arrives on the other's socket.
 */

t.setTimeout(300_000);
const patient = <T>(fn: () => Promise<T> | T) => eventually(fn, { timeoutMs: 60_000 });

t.test('a real two-client chat over two API processes', async (t) => {
  const { config, db } = await testEnv(t);
  // Only to sign tokens with the deployment's key (the same config the children load).
  const signer = await buildApp(config);
  t.teardown(() => signer.close());
  const [hostA, hostB] = (await Promise.all([startApiProcess(t, config), startApiProcess(t, config)])).map((url) => new URL(url).host);
  const agent = await signedIn(db, signer, 'support');
  const customer = await signedIn(db, signer, 'customer');

  const http = async (host: string, method: string, path: string, who: Person, body?: unknown) => {
    const res = await fetch(`http://${host}/api/v1${path}`, {
      method,
      headers: { ...who.auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  };

  const conv = (await http(hostA, 'POST', '/support/conversations', customer, { subject: 'Over two hosts', body: 'Hello?' })).body;
  t.equal(conv.assigneeId, agent.id);
  const cust = wsClient(t, `ws://${hostA}/api/v1/ws`, customer.token);
  const ag = wsClient(t, `ws://${hostB}/api/v1/ws`, agent.token);
  await Promise.all([cust.ready(), ag.ready()]);
  t.equal((await cust.watch(conv.id))?.type, 'support.watching');
  t.equal((await ag.watch(conv.id))?.type, 'support.watching');

  ag.send('support.typing', { conversationId: conv.id });
  await patient(() => cust.of('support.typing').length === 1);
  const answer = await http(hostB, 'POST', `/admin/support/conversations/${conv.id}/messages`, agent, { body: 'Hi! Agent here.' });
  t.equal(answer.status, 201);
  await patient(() => cust.of('support.message').some((f) => f.data.message.body === 'Hi! Agent here.'));

  cust.send('support.typing', { conversationId: conv.id });
  await patient(() => ag.of('support.typing').length === 1);
  const back = await http(hostA, 'POST', `/support/conversations/${conv.id}/messages`, customer, { body: 'Thanks!' });
  await patient(() => ag.of('support.message').some((f) => f.data.message.body === 'Thanks!'));
  cust.send('support.read', { conversationId: conv.id, seq: back.body.seq });
  await patient(() => ag.of('support.read').some((f) => f.data.seq === back.body.seq));

  const seqs = (host: string, who: Person, base: string) => http(host, 'GET', `${base}/${conv.id}/messages`, who).then((r) => r.body.items.map((m: any) => `${m.seq}:${m.body}`));
  t.same(await seqs(hostA, customer, '/support/conversations'), ['1:Hello?', '2:Hi! Agent here.', '3:Thanks!']);
  t.same(await seqs(hostB, agent, '/admin/support/conversations'), ['1:Hello?', '2:Hi! Agent here.', '3:Thanks!'], 'one order on both hosts');
});
