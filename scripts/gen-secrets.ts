/**
 * Prints fresh production secrets as .env lines (PEM newlines written as \n, which the config accepts):
 *   npx tsx scripts/gen-secrets.ts >> .env
 * Development never needs this: it generates its own once into .dev-secrets.json.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

export function productionSecrets(): Record<'JWT_PRIVATE_KEY' | 'JWT_PUBLIC_KEY' | 'ENCRYPTION_KEY', string> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    JWT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
  };
}

/** One `NAME=value` line per secret, newlines escaped so each value stays on one line. */
export const asEnvLines = (secrets: Record<string, string>) =>
  Object.entries(secrets)
    .map(([name, value]) => `${name}=${value.replace(/\n/g, '\\n')}`)
    .join('\n');

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  console.log(asEnvLines(productionSecrets()));
