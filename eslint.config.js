import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';
import boundaries from './eslint/no-domain-cycle.js';

// Layer boundaries (docs/architecture.md). test/ops/boundaries.test.ts lints probe files to show each one bites.
const crossing = (layer, other) => ({
  regex: `^(\\.\\./)+${other}(/|$)`,
  message: `${layer}/ never imports ${other}/: what both need belongs in shared/.`,
});
const apiImports = [crossing('api', 'worker')];
const workerImports = [crossing('worker', 'api')];
const sharedImports = [
  { regex: '^(\\.\\./)+(api|worker)(/|$)', message: 'shared/ never imports api/ or worker/: they call it, not the other way.' },
  { regex: '^(fastify(/.*)?|fastify-plugin|@fastify/.*)$', message: 'shared/ knows nothing of Fastify: take plain values, return plain values.' },
];
// Routes hold no SQL: a route calls one function in shared/<domain>/, which owns its queries and its transaction.
const routeImports = [
  ...apiImports,
  { regex: '^kysely$', message: 'Routes hold no SQL: put the query in shared/<domain>/ and call it.' },
  { regex: '^(\\.\\./)+shared/db/index\\.js$', message: 'Routes hold no SQL: put the query in shared/<domain>/ and call it.' },
];
const noSqlMessage = 'Routes hold no SQL and open no transaction: call one function in shared/<domain>/ that does.';
const routeSql = [
  {
    selector:
      "CallExpression[callee.type='MemberExpression'][callee.property.name=/^(selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto|transaction)$/]",
    message: noSqlMessage,
  },
  { selector: "TaggedTemplateExpression[tag.name='sql']", message: noSqlMessage },
];
export default defineConfig(
  { ignores: ['dist/**', 'node_modules/**', '.tap/**', '.data/**', 'media/**', 'eslint.config.js', 'eslint/**', 'clients/typescript/schema.ts'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // No import cycles between modules (and so none between the domains of shared/). Lazy `import()` is
  // exempt: it runs at call time, after every module involved has finished loading (media picks its
  // storage backend that way). Tests, benchmarks and scripts are entry points: nothing imports them.
  {
    files: ['api/**/*.ts', 'worker/**/*.ts', 'shared/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // Without these, import-x reads no .ts dependency and so sees no cycle through one.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: `${import.meta.dirname}/tsconfig.json` })],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true, allowUnsafeDynamicCyclicDependency: true }] },
  },
  // ... and none between the domain folders of shared/ through different files (eslint/no-domain-cycle.js).
  { files: ['shared/**/*.ts'], plugins: { boundaries }, rules: { 'boundaries/no-domain-cycle': 'error' } },
  { files: ['api/**'], rules: { 'no-restricted-imports': ['error', { patterns: apiImports }] } },
  {
    files: ['api/routes/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: routeImports }],
      'no-restricted-syntax': ['error', ...routeSql],
    },
  },
  { files: ['worker/**'], rules: { 'no-restricted-imports': ['error', { patterns: workerImports }] } },
  { files: ['shared/**'], rules: { 'no-restricted-imports': ['error', { patterns: sharedImports }] } },
  {
    files: ['test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
