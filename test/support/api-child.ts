/**
 * An API process of its own (multi-host tests): `node --import tsx test/support/api-child.ts`, configured
 * by its environment; prints `listening <port>` once it serves.
 */
import type { AddressInfo } from 'node:net';
import { buildApp } from '../../api/app.js';
import { loadConfig } from '../../shared/config.js';

const app = await buildApp(loadConfig(process.env));
await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`listening ${(app.server.address() as AddressInfo).port}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void app.close().then(() => process.exit(0)));
