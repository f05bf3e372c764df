// Caption cleaning, shared by `prepare` (training captions) and `eval` (references): the rules are
// recorded in the run so that references are always cleaned exactly like the training captions.
import { wordTokenizer } from './natural.js';

export interface CleaningRules {
  /** Lower-case everything ("A Dog" and "a dog" are one word). */
  lowercase: boolean;
  /** Delete punctuation (ASCII and Unicode), joining "t-shirt" to "tshirt" as the Keras tutorial does. */
  stripPunctuation: boolean;
  /** Drop tokens that contain anything but letters (numbers like "2" or "3rd"). */
  alphabeticOnly: boolean;
  /** Keep one-letter words such as "a": many Keras copies drop them, which inflates BLEU. */
  keepOneLetterWords: boolean;
  /** Which tokenizer splits the cleaned text. */
  tokenizer: 'natural.WordTokenizer';
}

export const DEFAULT_CLEANING: CleaningRules = {
  lowercase: true,
  stripPunctuation: true,
  alphabeticOnly: true,
  keepOneLetterWords: true,
  tokenizer: 'natural.WordTokenizer',
};

const PUNCTUATION = /[\p{P}\p{S}]/gu;
const LETTERS_ONLY = /^\p{L}+$/u;

/** Raw caption -> tokens. Pure: same text and rules, same tokens. */
export function cleanCaption(raw: string, rules: CleaningRules = DEFAULT_CLEANING): string[] {
  let text = raw.normalize('NFC');
  if (rules.lowercase) text = text.toLowerCase();
  if (rules.stripPunctuation) text = text.replace(PUNCTUATION, '');
  // WordTokenizer only keeps [A-Za-z0-9_] and Cyrillic; pre-split on whitespace so accented
  // letters (café) are kept whole rather than cut in two.
  const tokens: string[] = [];
  for (const chunk of text.split(/\s+/u)) {
    if (!chunk) continue;
    const pieces = /^[\p{L}\p{N}]+$/u.test(chunk) ? [chunk] : wordTokenizer.tokenize(chunk);
    for (const token of pieces) {
      if (rules.alphabeticOnly && !LETTERS_ONLY.test(token)) continue;
      if (!rules.keepOneLetterWords && token.length < 2) continue;
      tokens.push(token);
    }
  }
  return tokens;
}
