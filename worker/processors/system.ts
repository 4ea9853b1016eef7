import { publishNotice } from '../../shared/realtime/notices.js';
import type { ProcessorDefinition } from '../context.js';

export const systemProcessor: ProcessorDefinition<'system'> = {
  concurrency: 4,
  handlers: {
    'system.ping': async (payload, { log }) => {
      log.info({ message: payload.message }, 'pong');
      return { pong: payload.message };
    },
    'system.notify': async (payload, { redis, config, log }) => {
      await publishNotice(redis, config, payload);
      log.debug({ type: payload.type }, 'notice published');
    },
  },
};
