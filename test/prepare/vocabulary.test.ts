// The Vocabulary: ordering, min count, reserved ids, encode/decode round trips, file round trips.
import { describe, expect, it } from 'vitest';
import { SPECIAL_IDS, SPECIAL_TOKENS } from '../../src/run/formats.js';
import { countTokens, Vocabulary } from '../../src/text/vocabulary.js';

const captions = [
  ['a', 'dog', 'runs'],
  ['a', 'cat', 'runs'],
  ['a', 'dog', 'sits', 'zebra'],
  ['the', 'dog', 'naps'],
];

describe('Vocabulary', () => {
  it('reserves ids 0..3 and orders words by count, ties alphabetically', () => {
    const v = Vocabulary.build(countTokens(captions), 1);
    // counts: a 3, dog 3, runs 2, cat/naps/sits/the/zebra 1
    expect(v.tokens).toEqual(['<pad>', '<start>', '<end>', '<unk>', 'a', 'dog', 'runs', 'cat', 'naps', 'sits', 'the', 'zebra']);
    expect(v.tokens[SPECIAL_IDS.unk]).toBe(SPECIAL_TOKENS.unk);
    expect(v.size).toBe(12);
  });

  it('does not depend on the order captions were counted in', () => {
    const reversed = [...captions].reverse().map((c) => [...c].reverse());
    expect(Vocabulary.build(countTokens(reversed), 1).tokens).toEqual(Vocabulary.build(countTokens(captions), 1).tokens);
  });

  it('keeps only words seen at least minCount times; others encode to unk', () => {
    const counts = countTokens(captions);
    const v = Vocabulary.build(counts, 2);
    expect(v.tokens.slice(4)).toEqual(['a', 'dog', 'runs']);
    expect(v.encode(['a', 'zebra', 'runs'])).toEqual([4, SPECIAL_IDS.unk, 6]);
    // coverage = known occurrences / all occurrences, counted independently here
    const total = captions.flat().length;
    const known = captions.flat().filter((w) => ['a', 'dog', 'runs'].includes(w)).length;
    expect(v.coverage(counts)).toBeCloseTo(known / total, 12);
  });

  it('round trips: decode(encode(words)) gives the words back when all are known', () => {
    const v = Vocabulary.build(countTokens(captions), 1);
    for (const c of captions) expect(v.decode(v.encode(c))).toEqual(c);
  });

  it('decode drops pad/start/end/unk and out-of-range ids', () => {
    const v = Vocabulary.build(countTokens(captions), 1);
    const ids = [SPECIAL_IDS.start, v.idOf('a'), SPECIAL_IDS.unk, v.idOf('dog'), SPECIAL_IDS.end, SPECIAL_IDS.pad, 999, -1];
    expect(v.decode(ids)).toEqual(['a', 'dog']);
  });

  it('round trips through the file format and refuses a file with shifted specials', () => {
    const v = Vocabulary.build(countTokens(captions), 2);
    const file = JSON.parse(JSON.stringify(v.toFile()));
    expect(file.specials).toEqual(SPECIAL_IDS);
    const back = Vocabulary.fromFile(file);
    expect(back.tokens).toEqual(v.tokens);
    expect(back.minCount).toBe(2);
    expect(back.encode(['dog', 'x'])).toEqual(v.encode(['dog', 'x']));
    expect(() => Vocabulary.fromFile({ ...file, tokens: ['<start>', '<pad>', '<end>', '<unk>', 'a'] }, 'v.json')).toThrowError(
      /not a capgen vocabulary/,
    );
    expect(() => Vocabulary.fromFile({ ...file, tokens: [...file.tokens, 'a'] })).toThrowError(/no repeats/);
  });

  it('never lets a dataset word take a special token spelling', () => {
    const v = Vocabulary.build(
      new Map([
        ['<unk>', 10],
        ['dog', 3],
      ]),
      1,
    );
    expect(v.tokens).toEqual(['<pad>', '<start>', '<end>', '<unk>', 'dog']);
  });
});
