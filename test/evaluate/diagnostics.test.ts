// The statistics of generated captions that reveal a broken model, and the warnings they raise.
import { describe, expect, it } from 'vitest';
import { outputDiagnostics } from '../../src/evaluate/diagnostics.js';

const t = (s: string) => s.split(' ');
const refs = (n: number) => Array.from({ length: n }, (_, i) => [t(`a dog runs on the grass number ${i}`), t('a brown dog plays outside')]);

describe('output diagnostics', () => {
  it('flags one caption for every image, and counts its share, words and lengths', () => {
    const hyps = Array.from({ length: 20 }, () => t('a man in a red shirt'));
    const d = outputDiagnostics(hyps, refs(20), 12);
    expect(d.distinctCaptionShare).toBe(1 / 20);
    expect(d.mostCommonCaption).toEqual({ caption: 'a man in a red shirt', imageShare: 1 });
    expect(d.distinctWordsGenerated).toBe(5); // a man in red shirt
    expect(d.distinctWordsInReferences).toBe(30); // a dog runs on the grass number + 20 numbers + brown plays outside
    expect(d.meanLengthGenerated).toBe(6);
    expect(d.meanLengthReferences).toBe(6.5);
    expect(d.maxLengthShare).toBe(0);
    expect(d.warnings.join('\n')).toMatch(/only 5\.0% of the captions are distinct/);
    expect(d.warnings.join('\n')).toMatch(/"a man in a red shirt" is the caption of 100\.0% of the images/);
  });

  it('flags captions that run to the length limit and loop', () => {
    const hyps = Array.from({ length: 10 }, (_, i) => t(`dog ${i} in a red shirt in a red shirt`));
    const d = outputDiagnostics(hyps, refs(10), 9);
    expect(d.maxLengthShare).toBe(1);
    expect(d.repeatedBigramShare).toBe(1);
    expect(d.repeatedTrigramShare).toBe(1);
    expect(d.warnings.some((w) => /100\.0% of the captions stop at the 9-word limit/.test(w))).toBe(true);
    expect(d.warnings.some((w) => /repeat a three-word phrase/.test(w))).toBe(true);
    expect(d.warnings.some((w) => /distinct/.test(w))).toBe(false);
  });

  it("raises no warning for varied captions of the references' length; no length limit without a model", () => {
    const hyps = Array.from({ length: 10 }, (_, i) => t(`a dog ${i} runs on grass`));
    const d = outputDiagnostics(hyps, refs(10));
    expect(d.distinctCaptionShare).toBe(1);
    expect(d.maxLengthShare).toBeNull();
    expect(d.repeatedBigramShare).toBe(0);
    expect(d.warnings).toEqual([]);
    expect(outputDiagnostics([t('a')], [[t('a b c d e f g h i j')]]).warnings).toEqual([]); // one image: no statistics over images
  });
});
