import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { queueNames } from '../../shared/queues.js';
import { createUser, PASSWORD } from '../support/fixtures.js';
import { buildTestApp, testEnv } from '../support/harness.js';

/**
 * End to end in a real browser: Debian's chromium driven by playwright-core. An admin signs in through
 * /admin/queues/login and sees every queue of the catalogue on the bull-board page; a manager is
 * refused. Skipped (with the reason) on machines without the browser, such as a fresh CI image.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = process.env.DASHBOARD_SCREENSHOT ?? path.join(tmpdir(), 'agape-dashboard.png');

const skip = existsSync(CHROMIUM)
  ? false
  : `no browser at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;

t.test('an admin signs in to the queue dashboard and sees every queue', { skip }, async (t) => {
  const { chromium } = await import('playwright-core');
  const { config, db } = await testEnv(t);
  const app = await buildTestApp(t, config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  const password = PASSWORD;
  await createUser(db, { email: 'ops-admin@agape.test', name: 'Ops Admin', role: 'admin' });
  await createUser(db, { email: 'ops-manager@agape.test', name: 'Ops Manager', role: 'manager' });

  const userDataDir = mkdtempSync(path.join(tmpdir(), 'agape-chromium-'));
  t.teardown(() => rmSync(userDataDir, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  t.teardown(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());

  // Not signed in: the dashboard sends the browser to its sign-in form.
  await page.goto(`${base}/admin/queues`);
  t.match(page.url(), /\/admin\/queues\/login$/, 'anonymous browser is sent to the sign-in page');

  // A manager is refused (the dashboard is admin-only).
  await page.fill('input[name=email]', 'ops-manager@agape.test');
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('[role=alert]');
  t.match(await page.textContent('[role=alert]'), /admins/, 'a manager is told the dashboard is for admins');

  // The admin gets in.
  await page.goto(`${base}/admin/queues/login`);
  await page.fill('input[name=email]', 'ops-admin@agape.test');
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL(/\/admin\/queues\/?$/), page.click('button[type=submit]')]);
  // bull-board renders the queue list client-side from its API.
  for (const name of queueNames) {
    await page.getByText(name, { exact: true }).first().waitFor({ timeout: 15_000 });
  }
  const body = (await page.textContent('body')) ?? '';
  for (const name of queueNames) t.ok(body.includes(name), `queue "${name}" is listed`);
  t.ok(body.includes('Agape queues'), 'board title shown');
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  t.comment(`screenshot: ${SCREENSHOT}`);
});
