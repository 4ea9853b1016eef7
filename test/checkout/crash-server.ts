/**
 * A real API process for the crash test: `node --import tsx test/checkout/crash-server.ts`, configured by
 * its environment, prints `listening <port>`; the test kills it with SIGKILL mid-request.
 */
import type { AddressInfo } from 'node:net';
import { buildApp } from '../../api/app.js';
import { loadConfig } from '../../shared/config.js';

const app = await buildApp(loadConfig(process.env));
await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`listening ${(app.server.address() as AddressInfo).port}\n`);
