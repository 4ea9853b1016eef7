/**
 * The test SMTP sink (test/support/smtp-sink.ts) in its own process for the fleet bench:
 * `node --import tsx bench/smtp-sink.ts` prints "listening <url>" and answers "count" on its IPC channel
 * with the number of messages accepted. An SMTP server is another machine in production: in the bench
 * process its parsing of every message would be counted against the worker.
 */
import { startSmtpSink } from '../test/support/smtp-sink.js';

const sink = await startSmtpSink();
console.log(`listening ${sink.url}`);
process.on('message', (message) => {
  if (message === 'count') process.send?.(sink.messages.length);
});
process.once('SIGTERM', () => {
  sink.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
