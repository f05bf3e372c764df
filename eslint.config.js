// Lint rules (`npm run lint`, part of `npm test`): ESLint's and typescript-eslint's recommended sets,
// without the type-aware rules (they would need a second full type check per run; `tsc` already does
// that in the build). Formatting is Prettier's job (.prettierrc.json): eslint-config-prettier turns off
// the rules that would fight it.
import { readFileSync } from 'node:fs';
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// Whatever git ignores (build output, and the run folders and exports that README's examples write into the
// checkout) is not linted either: one list, in .gitignore.
const gitignored = readFileSync(new URL('./.gitignore', import.meta.url), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));

export default tseslint.config(
  { ignores: gitignored },
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
