import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import t from 'tap';
import { lazyRequestLogger } from '../../api/request-logger.js';
import { logCapture } from '../support/harness.js';

const childOf = (parent: FastifyBaseLogger, opts: { level?: string } = {}) =>
  lazyRequestLogger.call({} as FastifyInstance, parent, { requestId: 'req-1' }, opts, {} as IncomingMessage);

t.test('a request logger writes the eager child’s lines, only at levels that are on', async (t) => {
  const logs = logCapture('warn');
  const log = childOf(logs.logger);
  t.equal(log.level, 'warn');
  log.info({ n: 1 }, 'not at warn');
  log.debug('nor this');
  t.same(logs.lines, [], 'nothing below the level');
  log.warn({ token: 'secret-value', n: 2 }, 'written');
  t.equal(logs.lines.length, 1);
  const line = JSON.parse(logs.lines[0]) as Record<string, unknown>;
  t.match(line, { requestId: 'req-1', n: 2, token: '[redacted]', msg: 'written', level: 40 });
  log.info('still not at warn');
  t.equal(logs.lines.length, 1, 'the child it became keeps the level');
  const nested = log.child({ step: 'x' });
  nested.error('nested');
  t.match(JSON.parse(logs.lines[1]), { requestId: 'req-1', step: 'x', msg: 'nested' });
});

t.test('a route’s own log level applies', async (t) => {
  const logs = logCapture('info');
  const log = childOf(logs.logger, { level: 'error' });
  t.equal(log.level, 'error');
  log.warn('below the route’s level');
  t.same(logs.lines, []);
  log.error('at it');
  t.match(JSON.parse(logs.lines[0]), { requestId: 'req-1', msg: 'at it', level: 50 });
});

t.test('raising the level on a fresh logger makes it a real child', async (t) => {
  const logs = logCapture('warn');
  const log = childOf(logs.logger);
  log.level = 'debug';
  log.debug('now on');
  t.match(JSON.parse(logs.lines[0]), { requestId: 'req-1', msg: 'now on' });
  t.equal(logs.logger.level, 'warn', 'the parent is untouched');
});
