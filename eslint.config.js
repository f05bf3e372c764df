// Lint rules (`npm run lint`, part of `npm test`): ESLint's and typescript-eslint's recommended sets,
// without the type-aware rules (they would need a second full type check per run; `tsc` already does
// that in the build). Formatting is Prettier's job (.prettierrc.json): eslint-config-prettier turns off
// the rules that would fight it.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'artifacts/', '.scratch/', 'coverage/', 'data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: globals.node } },
  // The serve-page benchmark runs a few lines inside the browser.
  { files: ['bench/serve-page.mjs'], languageOptions: { globals: globals.browser } },
  {
    rules: {
      // A leading underscore marks a value kept on purpose (a skipped field of a destructuring, an
      // argument an interface requires); `...rest` siblings drop fields by design.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  prettier,
);
