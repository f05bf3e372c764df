// Repeated n-gram blocking (HuggingFace's `no_repeat_ngram_size`): a caption may not contain the same
// n words in a row twice. Greedy and beam search drop the words that would repeat one; the export's
// browser module (src/export/web/caption-model.ts, which can import nothing) carries a copy.

/**
 * The words that would complete an n-gram already in `words` if appended (n >= 1; n = 0 blocks
 * nothing). E.g. n = 2 after "a dog runs after a" blocks "dog".
 */
export function repeatedNgramTokens(words: readonly number[], n: number): Set<number> {
  const blocked = new Set<number>();
  if (n <= 0 || words.length < n) return blocked; // fewer words than one n-gram: nothing to repeat yet
  const tail = words.length - (n - 1); // start of the n-1 words a new n-gram would begin with
  for (let i = 0; i + n <= words.length; i++) {
    let same = true;
    for (let j = 0; j < n - 1 && same; j++) same = words[i + j] === words[tail + j];
    if (same) blocked.add(words[i + n - 1]);
  }
  return blocked;
}
