import type { Config } from '../../shared/config.js';
import type { Logger } from '../../shared/logger.js';
import { createPushTransport, sendPush, type PushTransport } from '../../shared/notifications/push.js';
import type { ProcessorDefinition } from '../context.js';

// One transport (and its cached OAuth token) per worker configuration.
const transports = new WeakMap<Config, PushTransport>();
function transportFor(config: Config, log: Logger): PushTransport {
  let transport = transports.get(config);
  if (!transport) {
    transport = createPushTransport(config, log);
    transports.set(config, transport);
  }
  return transport;
}

/** `push.send`: FCM HTTP v1 or the log; rate-limited per worker (see `limiter`). */
export const pushProcessor: ProcessorDefinition<'push'> = {
  concurrency: 8,
  limiter: { max: 100, duration: 1_000 },
  handlers: {
    'push.send': async (payload, { db, config, log }) => sendPush(db, transportFor(config, log), payload.notificationId),
  },
};
