import type { ProcessorDefinition } from '../context.js';

export const systemProcessor: ProcessorDefinition<'system'> = {
  concurrency: 4,
  handlers: {
    'system.ping': async (payload, { log }) => {
      log.info({ message: payload.message }, 'pong');
      return { pong: payload.message };
    },
    'system.notify': async (payload, { redis, config, log }) => {
      // Websocket hub in each API replica subscribes to this channel.
      await redis.publish(`${config.QUEUE_PREFIX}:notices`, JSON.stringify({ ...payload, at: new Date().toISOString() }));
      log.debug({ type: payload.type }, 'notice published');
    },
  },
};
