import t from 'tap';
import { pooledSmtpUrl } from '../../shared/mail/transport.js';

t.test('SMTP_URL gets the pool defaults it does not set itself', async (t) => {
  t.equal(pooledSmtpUrl('smtp://127.0.0.1:2525'), 'smtp://127.0.0.1:2525?pool=true&maxConnections=16&maxMessages=1000');
  t.equal(
    pooledSmtpUrl('smtps://user:p%40ss@mail.example.com:465?pool=false'),
    'smtps://user:p%40ss@mail.example.com:465?pool=false&maxConnections=16&maxMessages=1000',
    'an explicit pool=false stays; credentials untouched',
  );
  t.equal(
    pooledSmtpUrl('smtp://h:25?maxConnections=4&tls.rejectUnauthorized=false'),
    'smtp://h:25?maxConnections=4&tls.rejectUnauthorized=false&pool=true&maxMessages=1000',
  );
  const full = 'smtp://h:25?pool=true&maxConnections=2&maxMessages=10';
  t.equal(pooledSmtpUrl(full), full, 'nothing added when all are set');
});
