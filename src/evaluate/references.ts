// References per image, cleaned from the dataset's raw captions with the rules the model was
// trained with (recorded in the checkpoint), so that scores compare like with like.
import type { PreparedCaption, SplitName } from '../run/formats.js';
import { cleanCaption, type CleaningRules } from '../text/clean.js';

export interface ImageReferences {
  image: string;
  split: SplitName;
  /** [reference][token] */
  references: string[][];
}

/** Groups captions by image (in order of first appearance) and re-cleans each raw caption. */
export function referencesByImage(captions: readonly PreparedCaption[], rules: CleaningRules): Map<string, ImageReferences> {
  const byImage = new Map<string, ImageReferences>();
  for (const c of captions) {
    let entry = byImage.get(c.image);
    if (!entry) {
      entry = { image: c.image, split: c.split, references: [] };
      byImage.set(c.image, entry);
    }
    const tokens = cleanCaption(c.raw, rules);
    if (tokens.length) entry.references.push(tokens);
  }
  return byImage;
}
