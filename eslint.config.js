import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/**', 'node_modules/**', '.tap/**', '.data/**', 'media/**', 'eslint.config.js', 'clients/typescript/schema.ts'] },
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
  // Layer boundaries (docs/architecture.md): api/ and worker/ never import each other; shared/ holds the
  // rules and knows nothing of Fastify, api/ or worker/. test/ops/boundaries.test.ts shows they bite.
  {
    files: ['api/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(\\.\\./)+worker(/|$)', message: 'api/ never imports worker/: what both need belongs in shared/.' }] },
      ],
    },
  },
  {
    files: ['worker/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(\\.\\./)+api(/|$)', message: 'worker/ never imports api/: what both need belongs in shared/.' }] },
      ],
    },
  },
  {
    files: ['shared/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^(\\.\\./)+(api|worker)(/|$)', message: 'shared/ never imports api/ or worker/: they call it, not the other way.' },
            { regex: '^(fastify(/.*)?|fastify-plugin|@fastify/.*)$', message: 'shared/ knows nothing of Fastify: take plain values, return plain values.' },
          ],
        },
      ],
    },
  },
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
