import t from 'tap';
import { buildTestApp, eventually, logCapture, startTestWorker, testEnv, tokenFor } from './support/harness.js';

t.test('ping travels API → outbox → Redis → worker with the request id', async (t) => {
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  const workerLogs = logCapture('info');
  await startTestWorker(t, config, { logger: workerLogs.logger, queues: ['system'] });
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/system/ping',
    headers: { authorization: tokenFor(app, 'admin'), 'x-request-id': 'ping-req-1' },
    payload: { message: 'hello' },
  });
  t.equal(res.statusCode, 202, res.body);
  const { jobId } = res.json();
  await eventually(() => workerLogs.lines.some((l) => l.includes('"msg":"pong"') && l.includes('ping-req-1')));
  const row = await db.selectFrom('outbox').selectAll().where('id', '=', jobId).executeTakeFirstOrThrow();
  t.ok(row.deliveredAt, 'outbox row marked delivered');
  t.equal(row.requestId, 'ping-req-1');
});
