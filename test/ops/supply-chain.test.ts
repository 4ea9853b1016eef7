/**
 * `npm run sbom` and `npm run audit` (README, "Supply chain"): the SBOM is produced offline from the
 * lockfile and names every production dependency at its locked version; the audit fails on high
 * severity and stays out of `npm test`, which must not need the network.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { repoRoot } from '../../shared/config.js';

const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string }>;
};

t.test('the audit fails on high severity and npm test does not run it', async (t) => {
  t.match(pkg.scripts.audit, /^npm audit\b.*--audit-level=high/);
  t.notMatch(pkg.scripts.test, /audit/);
  t.notMatch(pkg.scripts.test, /sbom/);
});

t.test('npm run sbom writes a CycloneDX document of every production dependency, offline', async (t) => {
  t.match(pkg.scripts.sbom, /npm sbom --sbom-format cyclonedx/);
  const dir = mkdtempSync(path.join(tmpdir(), 'agape-sbom-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The same command as the script, its output kept apart from the repository's sbom.cdx.json; an
  // unreachable registry proves it needs no network.
  const r = spawnSync('npm', ['sbom', '--sbom-format', 'cyclonedx', '--registry', 'http://127.0.0.1:9'], {
    cwd: repoRoot,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  t.equal(r.status, 0, r.stderr);
  interface Component {
    name: string;
    version: string;
    group?: string;
    properties?: { name: string; value: string }[];
  }
  const bom = JSON.parse(r.stdout) as { bomFormat: string; specVersion: string; components: Component[] };
  t.equal(bom.bomFormat, 'CycloneDX');
  t.ok(Number(bom.specVersion) >= 1.4, `spec ${bom.specVersion}`);
  const isDev = (c: Component) =>
    c.properties?.some((p) => p.name === 'cdx:npm:package:development' && p.value === 'true') ?? false;
  const named = (name: string) =>
    bom.components.filter((c) => (c.group ? `${c.group}/${c.name}` : c.name) === name);
  // What the images ship: every production dependency, at its locked version, not marked development
  // (a package may also appear at other versions, nested under another).
  for (const name of Object.keys(pkg.dependencies)) {
    const locked = lock.packages[`node_modules/${name}`]?.version;
    t.ok(
      named(name).some((c) => c.version === locked && !isDev(c)),
      `${name}@${locked} is listed as a production component`,
    );
  }
  for (const name of ['tap', 'eslint', 'autocannon'])
    t.ok(
      named(name).length > 0 && named(name).every(isDev),
      `dev dependency ${name} is listed, marked development`,
    );
});
