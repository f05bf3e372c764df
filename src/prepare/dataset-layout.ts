// Finding what `--data` holds: which format (from the descriptors in readers/), which caption files,
// which split lists, and where the images are. Errors list everything that was looked for.
import { existsSync, promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import { CapgenError } from '../errors.js';
import { DATASET_READERS, lookedFor, readerOf } from './formats.js';
import type { DatasetFormat, DatasetReader, FolderFormat, StreamFormat } from './readers/types.js';
import type { SplitName } from '../run/formats.js';

export type DatasetLayout = FolderLayout | StreamLayout;

export interface FolderLayout {
  kind: 'folder';
  format: DatasetFormat;
  reader: FolderFormat;
  /** The first of captionFiles (what messages name). */
  captionFile: string;
  /** Every caption file read, as one dataset. */
  captionFiles: string[];
  imagesDir: string;
  /** Official split lists found beside the caption file. */
  splitFiles: Partial<Record<SplitName, string>>;
}

export interface StreamLayout {
  kind: 'stream';
  format: DatasetFormat;
  reader: StreamFormat;
  /** `--data` as given (a pattern, a folder of tars or one tar). */
  captionFile: string;
  imagesDir?: undefined;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** `*` in the last part of a name: its first match in name order; any other name: itself if it exists. */
async function resolveName(dataDir: string, name: string): Promise<string | undefined> {
  if (!name.includes('*')) {
    const p = path.join(dataDir, name);
    return existsSync(p) ? p : undefined;
  }
  const dir = path.join(dataDir, path.dirname(name));
  const re = new RegExp(`^${path.basename(name).split('*').map(escapeRegExp).join('[^/]+')}$`);
  const names = isDir(dir) ? (await fs.readdir(dir)).filter((n) => re.test(n)).sort() : [];
  return names.length ? path.join(dir, names[0]!) : undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The caption files of the first set of `reader.captionFiles` that has any in dataDir. */
async function findCaptionFiles(dataDir: string, reader: FolderFormat): Promise<string[]> {
  for (const set of reader.captionFiles) {
    const found = (await Promise.all(set.map((n) => resolveName(dataDir, n)))).filter((p): p is string => p !== undefined);
    if (found.length) return found;
  }
  return [];
}

export async function detectLayout(opts: { dataDir: string; format?: DatasetFormat; imagesDir?: string }): Promise<DatasetLayout> {
  const { dataDir } = opts;
  const tried: DatasetReader[] = opts.format ? [readerOf(opts.format)] : [...DATASET_READERS];
  const folderDir = isDir(dataDir);
  for (const reader of tried.filter((r) => r.kind === 'folder')) {
    if (!folderDir) break;
    const captionFiles = await findCaptionFiles(dataDir, reader);
    if (captionFiles.length === 0) continue;
    const splitFiles: FolderLayout['splitFiles'] = {};
    for (const [split, name] of Object.entries(reader.splitLists ?? {}) as [SplitName, string][]) {
      const p = path.join(dataDir, name);
      if (existsSync(p)) splitFiles[split] = p;
    }
    return {
      kind: 'folder',
      format: reader.name,
      reader,
      captionFile: captionFiles[0]!,
      captionFiles,
      imagesDir: findImagesDir(dataDir, reader, opts.imagesDir),
      splitFiles,
    };
  }
  // Stream formats come after every folder format: a dataset folder with a caption file is read as one.
  for (const reader of tried.filter((r) => r.kind === 'stream')) {
    if (!(await reader.detect(dataDir))) continue;
    if (opts.imagesDir)
      throw new CapgenError('USAGE', `--images does not apply to ${reader.name} input: its images are inside the files --data names`, {
        file: opts.imagesDir,
        hint: 'leave out --images',
      });
    return { kind: 'stream', format: reader.name, reader, captionFile: dataDir };
  }
  if (!folderDir) {
    throw new CapgenError('NOT_FOUND', 'dataset folder not found', {
      file: dataDir,
      hint: 'pass --data DIR with the captions and images, or --dataset synthetic to generate one',
    });
  }
  throw new CapgenError(
    opts.format ? 'NOT_FOUND' : 'BAD_INPUT',
    opts.format ? `no caption file for --format ${opts.format}` : 'unknown dataset layout: no caption file',
    { file: dataDir, hint: `looked for ${tried.map(lookedFor).join(', ')}` },
  );
}

function findImagesDir(dataDir: string, reader: FolderFormat, given?: string): string {
  if (given) {
    if (!isDir(given)) throw new CapgenError('NOT_FOUND', 'images folder not found', { file: given, hint: 'check --images DIR' });
    return given;
  }
  const found = reader.imageDirs.map((d) => (d === '.' ? dataDir : path.join(dataDir, d))).find(isDir);
  if (found) return found;
  throw new CapgenError('NOT_FOUND', 'no images folder', {
    file: dataDir,
    hint: `looked for ${reader.imageDirs.map((d) => `${d}/`).join(', ')}; pass --images DIR`,
  });
}
