// Loads the committed metric fixtures (test/fixtures/metrics, made by test/reference/*): inputs and golden values.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../helpers.js';

export const FIXTURE_DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'metrics');

export function readFixture<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(FIXTURE_DIR, name), 'utf8')) as T;
}

/** Stored captions are space-joined tokens; "" is the empty caption. */
export const toTokens = (text: string): string[] => (text === '' ? [] : text.split(' '));

export interface CaptionSet {
  image: string;
  kind: string;
  hypothesis: string[];
  references: string[][];
}

export function captionSets(): CaptionSet[] {
  const raw = readFixture<{ sets: { image: string; kind: string; hypothesis: string; references: string[] }[] }>('caption-sets.json');
  return raw.sets.map((s) => ({ ...s, hypothesis: toTokens(s.hypothesis), references: s.references.map(toTokens) }));
}
