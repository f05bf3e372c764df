// Turns `capgen caption` arguments (files, folders, simple globs such as photos/*.jpg) into image
// paths. What cannot be found is reported per argument, so the other images are still captioned.
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** What sharp decodes; folders and globs pick only these (named files are always tried). */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif']);

export interface InputProblem {
  path: string;
  reason: string;
}

export interface ExpandedInputs {
  /** In argument order; folder and glob matches sorted by name; no repeats. */
  files: string[];
  problems: InputProblem[];
}

const WILDCARD = /[*?[]/;

function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase());
}

/** One glob segment (`*`, `?`, `[abc]`) -> a regular expression; like a shell, `*` skips dot-files. */
function segmentRegex(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = segment.indexOf(']', i + 1);
      if (close < 0) re += '\\[';
      else {
        const body = segment.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\');
        re += `[${body}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${segment.startsWith('.') ? '' : '(?!\\.)'}${re}$`);
}

async function statOrUndefined(p: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await fs.stat(p);
  } catch {
    return undefined;
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort();
  } catch {
    return [];
  }
}

/** Expands a pattern segment by segment (no `**`): every wildcard segment is matched against a listing. */
async function expandGlob(pattern: string): Promise<string[]> {
  const absolute = path.isAbsolute(pattern);
  const segments = pattern.split(/[\\/]+/).filter((s, i) => s !== '' || i === 0);
  let bases = [absolute ? path.parse(pattern).root : ''];
  for (const segment of segments.slice(absolute ? 1 : 0)) {
    const next: string[] = [];
    for (const base of bases) {
      if (!WILDCARD.test(segment)) {
        next.push(path.join(base, segment));
        continue;
      }
      const re = segmentRegex(segment);
      for (const name of await listDir(base || '.')) if (re.test(name)) next.push(path.join(base, name));
    }
    bases = next;
  }
  const files: string[] = [];
  for (const candidate of bases) if ((await statOrUndefined(candidate))?.isFile() && isImageName(candidate)) files.push(candidate);
  return files;
}

export async function expandInputs(args: readonly string[]): Promise<ExpandedInputs> {
  const files: string[] = [];
  const problems: InputProblem[] = [];
  const seen = new Set<string>();
  const add = (f: string) => {
    const key = path.resolve(f);
    if (!seen.has(key)) {
      seen.add(key);
      files.push(f);
    }
  };
  for (const arg of args) {
    const stat = await statOrUndefined(arg);
    if (stat?.isDirectory()) {
      const images = (await listDir(arg)).filter((n) => isImageName(n) && !n.startsWith('.')).map((n) => path.join(arg, n));
      if (images.length === 0) problems.push({ path: arg, reason: `no images in this folder (looked for ${[...IMAGE_EXTENSIONS].join(' ')})` });
      images.forEach(add);
    } else if (stat) {
      add(arg);
    } else if (WILDCARD.test(arg)) {
      const matches = await expandGlob(arg);
      if (matches.length === 0) problems.push({ path: arg, reason: 'no image files match this pattern' });
      matches.forEach(add);
    } else {
      problems.push({ path: arg, reason: 'no such file or folder' });
    }
  }
  return { files, problems };
}
