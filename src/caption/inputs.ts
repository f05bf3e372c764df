// Turns `capgen caption` arguments (files, folders, globs such as photos/**/*.jpg) into image
// paths. What cannot be found is reported per argument, so the other images are still captioned.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';

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

function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase());
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

/**
 * Image files matching a glob (tinyglobby: `*`, `?`, `[abc]`, `**`, `{a,b}`, `\*` for a literal star;
 * like a shell, wildcards skip dot-files). Paths come back as the pattern was written: relative to the
 * working folder, or absolute for an absolute pattern.
 */
async function expandGlob(pattern: string): Promise<string[]> {
  const matches = await glob(pattern, { onlyFiles: true, expandDirectories: false, absolute: path.isAbsolute(pattern), dot: false });
  return matches.filter(isImageName).sort();
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
      if (images.length === 0)
        problems.push({ path: arg, reason: `no images in this folder (looked for ${[...IMAGE_EXTENSIONS].join(' ')})` });
      images.forEach(add);
    } else if (stat) {
      add(arg);
    } else if (isDynamicPattern(arg) || arg.includes('\\')) {
      // (only escaped wildcards, as in `star\*.jpg`, is static to tinyglobby, but still a pattern)
      const matches = await expandGlob(arg);
      if (matches.length === 0) problems.push({ path: arg, reason: 'no image files match this pattern' });
      matches.forEach(add);
    } else {
      problems.push({ path: arg, reason: 'no such file or folder' });
    }
  }
  return { files, problems };
}
