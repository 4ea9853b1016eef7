import closeWithGrace from 'close-with-grace';
import { loadConfigOrExit } from '../shared/config.js';
import { MigrationsBehindError } from '../shared/db/migrate.js';
import { buildApp } from './app.js';

const config = loadConfigOrExit();
let app: Awaited<ReturnType<typeof buildApp>>;
try {
  app = await buildApp(config);
} catch (err) {
  if (err instanceof MigrationsBehindError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}

// On SIGTERM/SIGINT: stop accepting, finish in-flight requests, close pool and Redis; give up after 10 s.
closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an error');
  else app.log.info({ signal }, 'shutting down');
  await app.close();
});

await app.listen({ port: config.PORT, host: config.HOST });
