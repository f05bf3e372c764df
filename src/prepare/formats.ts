// The dataset formats: every file in readers/ that exports `datasetFormat`, in detection order. This is
// the one list that detection, `--format`'s choices, `prepare --help` and README's list come from, so a
// new format is one new file there (plus its test).
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { DatasetReader } from './readers/types.js';

const READERS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'readers');

async function discoverFormats(): Promise<DatasetReader[]> {
  // .js when built, .ts under the test runner; never declarations, maps or tests
  const files = readdirSync(READERS_DIR)
    .filter((f) => /\.(js|ts)$/.test(f) && !/\.(d|test)\.ts$/.test(f))
    .sort();
  const found: DatasetReader[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(path.join(READERS_DIR, file)).href)) as { datasetFormat?: DatasetReader };
    if (mod.datasetFormat) found.push(mod.datasetFormat);
  }
  const names = new Set<string>();
  for (const f of found) {
    if (names.has(f.name)) throw new Error(`two dataset formats are named '${f.name}' in ${READERS_DIR}`);
    names.add(f.name);
  }
  return found.sort((a, b) => a.rank - b.rank || a.name.localeCompare(b.name));
}

/** Every format, in detection order. */
export const DATASET_READERS: readonly DatasetReader[] = await discoverFormats();

/** The `--format` names, in detection order. */
export const DATASET_FORMATS: readonly string[] = DATASET_READERS.map((f) => f.name);

export function readerOf(name: string): DatasetReader {
  const found = DATASET_READERS.find((f) => f.name === name);
  if (!found) throw new Error(`unknown dataset format '${name}'`); // --format's choices keep this from users
  return found;
}

/** What detection looks for, as error messages and README list it: `a + b or c (name)`. */
export function lookedFor(reader: DatasetReader): string {
  const what = reader.kind === 'folder' ? reader.captionFiles.map((set) => set.join(' + ')).join(' or ') : reader.recognises;
  return `${what} (${reader.name})`;
}

/** `prepare --help`'s list of formats: one line each. */
export function formatsHelp(): string {
  const width = Math.max(...DATASET_FORMATS.map((n) => n.length));
  return [
    'Dataset formats (--format; detected in this order when absent):',
    ...DATASET_READERS.map((f) => `  ${f.name.padEnd(width)}  ${f.help}`),
  ].join('\n');
}

/** README's list of formats (a test keeps README equal to it). */
export function formatsMarkdown(): string {
  // `<` would open an HTML tag in Markdown (IMAGE.jpg#N<TAB>caption)
  return DATASET_READERS.map((f) => `  - \`${f.name}\`: ${f.help.replace(/</g, '&lt;')}`).join('\n');
}
