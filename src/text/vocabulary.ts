// The vocabulary: word <-> id, with ids 0..3 reserved for pad/start/end/unk (run/formats.ts).
// Pure: built from counts or loaded from vocab.json; reading the file is the caller's job.
import { CapgenError } from '../errors.js';
import { SPECIAL_IDS, SPECIAL_TOKENS, type VocabularyFile } from '../run/formats.js';

const SPECIAL_COUNT = 4;

/** How often each token occurs in a list of tokenized captions. */
export function countTokens(captions: Iterable<readonly string[]>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const tokens of captions) for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
  return counts;
}

const EMPTY_VOCABULARY_HINT =
  'no training word was seen --min-count times: prepare the run again with a lower --min-count, then train again';

/**
 * Refuses a --min-count that leaves no word (exit 2): every caption would be <unk>s, and the model,
 * eval and caption would have nothing to say. `file` is the caption file the counts come from.
 */
export function requireWords(counts: ReadonlyMap<string, number>, minCount: number, file: string): void {
  let top: [string, number] | undefined;
  for (const entry of counts) if (!top || entry[1] > top[1]) top = entry;
  if (top && top[1] >= minCount) return;
  throw new CapgenError(
    'USAGE',
    top
      ? `--min-count ${minCount} leaves no word in the vocabulary: the most frequent training word ('${top[0]}') occurs ${top[1]} times`
      : 'the training captions have no words',
    { file, hint: top ? `lower --min-count (at most ${top[1]}; the default is 5)` : 'check the caption file' },
  );
}

export class Vocabulary {
  /** tokens[id] is the word for id; ids 0..3 are the specials. */
  readonly tokens: readonly string[];
  readonly minCount: number;
  private readonly ids: Map<string, number>;

  private constructor(tokens: string[], minCount: number) {
    this.tokens = tokens;
    this.minCount = minCount;
    this.ids = new Map(tokens.map((t, i) => [t, i]));
  }

  /**
   * Words seen at least minCount times, most frequent first, ties alphabetical (so the ids do not
   * depend on the order captions were read in).
   */
  static build(counts: ReadonlyMap<string, number>, minCount: number): Vocabulary {
    const specials = new Set<string>(Object.values(SPECIAL_TOKENS));
    const words = [...counts]
      .filter(([w, n]) => n >= minCount && !specials.has(w))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([w]) => w);
    return new Vocabulary([SPECIAL_TOKENS.pad, SPECIAL_TOKENS.start, SPECIAL_TOKENS.end, SPECIAL_TOKENS.unk, ...words], minCount);
  }

  /** Checks the reserved ids, so a vocab.json from elsewhere cannot silently shift every id. */
  static fromFile(file: VocabularyFile, source = 'vocab.json'): Vocabulary {
    const t = file?.tokens;
    const ok =
      Array.isArray(t) &&
      t.length >= SPECIAL_COUNT &&
      t[SPECIAL_IDS.pad] === SPECIAL_TOKENS.pad &&
      t[SPECIAL_IDS.start] === SPECIAL_TOKENS.start &&
      t[SPECIAL_IDS.end] === SPECIAL_TOKENS.end &&
      t[SPECIAL_IDS.unk] === SPECIAL_TOKENS.unk &&
      new Set(t).size === t.length;
    if (!ok) {
      throw new CapgenError(
        'BAD_INPUT',
        'not a capgen vocabulary: tokens must start with <pad>, <start>, <end>, <unk> and have no repeats',
        {
          file: source,
          hint: 'rerun `capgen prepare` to rebuild it',
        },
      );
    }
    if (t.length === SPECIAL_COUNT)
      throw new CapgenError('BAD_INPUT', `the vocabulary has no words, only ${t.join(' ')}`, { file: source, hint: EMPTY_VOCABULARY_HINT });
    return new Vocabulary([...t], file.minCount);
  }

  /** Number of ids, specials included (the decoder's output size). */
  get size(): number {
    return this.tokens.length;
  }

  has(word: string): boolean {
    return this.ids.has(word);
  }

  idOf(word: string): number {
    return this.ids.get(word) ?? SPECIAL_IDS.unk;
  }

  /** Words -> ids; unknown words -> unk. No start/end added. */
  encode(tokens: readonly string[]): number[] {
    return tokens.map((t) => this.idOf(t));
  }

  /** Ids -> words, dropping pad/start/end/unk and ids out of range. */
  decode(ids: Iterable<number>): string[] {
    const out: string[] = [];
    for (const id of ids) {
      if (id < SPECIAL_COUNT || id >= this.tokens.length || !Number.isInteger(id)) continue;
      out.push(this.tokens[id]!);
    }
    return out;
  }

  /** Share of the given token occurrences that the vocabulary knows (0..1). */
  coverage(counts: ReadonlyMap<string, number>): number {
    let known = 0;
    let total = 0;
    for (const [w, n] of counts) {
      total += n;
      if (this.ids.has(w)) known += n;
    }
    return total === 0 ? 1 : known / total;
  }

  toFile(): VocabularyFile {
    return { tokens: [...this.tokens], specials: { ...SPECIAL_IDS }, minCount: this.minCount };
  }
}
