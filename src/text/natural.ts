// The parts of `natural` that capgen uses, through the package's public entry point, loaded on first use.
// That entry point also loads natural's storage backends (MongoDB, Redis, Postgres, ...), whose modules call
// dotenv's config() when loaded: it prints banners to stdout (which would corrupt `--json` output) and copies
// a .env file of the working folder into process.env. Loading is therefore deferred until a caption is
// cleaned (so `--help` and commands that never clean text do not pay for it), dotenv is kept quiet, and any
// variable it added is removed again.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface Tokenizer {
  tokenize(text: string): string[];
}

interface NaturalModule {
  WordTokenizer: new () => Tokenizer;
  NGrams: { ngrams(tokens: string[], n: number): string[][] };
}

let loaded: NaturalModule | undefined;

/** `require('natural')` without its side effects on stdout and the environment. */
export function natural(): NaturalModule {
  if (loaded) return loaded;
  const before = new Set(Object.keys(process.env));
  const quiet = process.env.DOTENV_CONFIG_QUIET;
  process.env.DOTENV_CONFIG_QUIET = 'true';
  try {
    loaded = require('natural') as NaturalModule;
  } finally {
    for (const key of Object.keys(process.env)) if (!before.has(key)) delete process.env[key];
    if (quiet === undefined) delete process.env.DOTENV_CONFIG_QUIET;
    else process.env.DOTENV_CONFIG_QUIET = quiet;
  }
  return loaded;
}

let tokenizer: Tokenizer | undefined;

/** natural's WordTokenizer: splits on anything that is not a letter, digit or underscore. */
export const wordTokenizer: Tokenizer = {
  tokenize(text: string): string[] {
    tokenizer ??= new (natural().WordTokenizer)();
    return tokenizer.tokenize(text);
  },
};
