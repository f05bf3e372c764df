// The parts of `natural` that capgen uses, loaded one module at a time: the package root pulls in
// storage backends whose dotenv call prints banners to stdout, which would corrupt `--json` output.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface Tokenizer {
  tokenize(text: string): string[];
}
interface Stemmer {
  stem(word: string): string;
}
interface NGramsModule {
  ngrams(tokens: string[], n: number): string[][];
}

const { WordTokenizer } = require('natural/lib/natural/tokenizers/regexp_tokenizer') as {
  WordTokenizer: new () => Tokenizer;
};

/** natural's WordTokenizer: splits on anything that is not a letter, digit or underscore. */
export const wordTokenizer: Tokenizer = new WordTokenizer();
export const porterStemmer = require('natural/lib/natural/stemmers/porter_stemmer') as Stemmer;
export const nGrams = require('natural/lib/natural/ngrams/ngrams') as NGramsModule;
