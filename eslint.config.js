// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'var/**', 'data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read configuration through src/core/config.ts only.' }],
    },
  },
  { files: ['src/core/config.ts', 'bench/**', '**/*.test.ts', '**/test-helpers.ts', 'vitest.config.ts'], rules: { 'no-restricted-properties': 'off' } },
  { files: ['bin/**', 'bench/**/*.js'], languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly" } } },
);
