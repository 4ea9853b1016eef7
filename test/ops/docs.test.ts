/** The README and .env.example are part of the interface: they must not drift from the code. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ConfigSchema, repoRoot } from '../../shared/config.js';

const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');
const readme = read('README.md');
const variables = Object.keys(ConfigSchema.properties);

t.test("the README's npm script table is package.json's scripts, no more, no less", async (t) => {
  const scripts = Object.keys(
    (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts,
  );
  const section = readme.split(/^## npm scripts$/m)[1]?.split(/^## /m)[0] ?? '';
  const documented = [...section.matchAll(/^\| `npm (?:run )?([\w:-]+)` *\|/gm)].map((m) => m[1]);
  t.same([...documented].sort(), [...scripts].sort());
});

t.test('the README states the two commands', async (t) => {
  t.match(readme, 'npm install && npm run dev');
  t.match(readme, /^npm test\b/m);
});

t.test('every configuration variable is in .env.example and in the README environment table', async (t) => {
  const example = read('.env.example');
  const table = readme.split(/^## Environment$/m)[1]?.split(/^## /m)[0] ?? '';
  for (const name of variables) {
    t.match(example, new RegExp(`^# ${name}=`, 'm'), `.env.example has ${name}`);
    t.match(table, new RegExp(`^\\|[^|\\n]*\\b${name}\\b`, 'm'), `README environment table has ${name}`);
  }
});
