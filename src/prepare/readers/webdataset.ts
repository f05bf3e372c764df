// webdataset shards as img2dataset writes them (how COCO, CC3M and LAION are usually fetched): tar files
// in which one sample is the members sharing a key, `<key>.jpg|png|webp` plus its caption in
// `<key>.txt` or in the `caption` field of `<key>.json`. The tars are read as streams, never unpacked;
// an image is named `<tar file name>/<key>.<ext>`, unique across the shards.
import { existsSync, promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import { CapgenError } from '../../errors.js';
import type { ImageSource, SourcedImage } from '../../features/image-source.js';
import { readTarMembers } from '../../io/tar-members.js';
import { shardOwnsPosition, type ShardSpec } from '../../util/shard.js';
import { decodeUtf8 } from '../text-file.js';
import type { ParsedCaptions, RawCaption, StreamDataset, StreamFormat } from './types.js';

const IMAGE_EXTENSIONS = new Set(['jpg', 'jpeg', 'png', 'webp']);
/** The members a caption can come from, read in full (they are small). */
const CAPTION_EXTENSIONS = new Set(['txt', 'json']);

/** webdataset's rule: the key is the path up to the first dot of the file name; the rest is the extension. */
export function splitKey(member: string): { key: string; ext: string } {
  const slash = member.lastIndexOf('/');
  const dot = member.indexOf('.', slash + 1);
  return dot < 0 ? { key: member, ext: '' } : { key: member.slice(0, dot), ext: member.slice(dot + 1).toLowerCase() };
}

/**
 * Shell brace expansion as shard lists are written: `{00000..00099}` (numbers, zero-padded to the width
 * of the first when it has leading zeros) and `{a,b,c}`; several groups multiply.
 */
export function expandBraces(pattern: string): string[] {
  const m = /\{([^{}]*)\}/.exec(pattern);
  if (!m) return [pattern];
  const body = m[1]!;
  const range = /^(-?\d+)\.\.(-?\d+)$/.exec(body);
  let parts: string[];
  if (range) {
    const [from, to] = [Number(range[1]), Number(range[2])];
    const width = /^-?0\d/.test(range[1]!) ? range[1]!.replace('-', '').length : 0;
    const step = from <= to ? 1 : -1;
    parts = [];
    for (let n = from; step > 0 ? n <= to : n >= to; n += step) parts.push(String(n).padStart(width, '0'));
  } else if (body.includes(',')) {
    parts = body.split(',');
  } else {
    parts = [`{${body}}`]; // not a brace expression: kept as written
  }
  const before = pattern.slice(0, m.index);
  const after = pattern.slice(m.index + m[0].length);
  return parts.flatMap((p) => expandBraces(after).map((rest) => `${before}${p}${rest}`));
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The tar files `--data` names: a brace pattern, a folder of .tar files (sorted), or one .tar. */
async function resolveTars(data: string): Promise<string[]> {
  let tars: string[];
  if (isDir(data)) {
    tars = (await fs.readdir(data))
      .filter((n) => n.endsWith('.tar'))
      .sort()
      .map((n) => path.join(data, n));
    if (tars.length === 0)
      throw new CapgenError('NOT_FOUND', 'no .tar files in this folder', {
        file: data,
        hint: 'pass --data DIR/{00000..00099}.tar or a folder of webdataset tars',
      });
  } else {
    tars = expandBraces(data);
    const missing = tars.filter((t) => !existsSync(t));
    if (missing.length) {
      throw new CapgenError('NOT_FOUND', `${missing.length} of ${tars.length} tar files named by --data do not exist`, {
        file: missing[0],
        hint: 'check the pattern (e.g. dir/{00000..00099}.tar), or name only the shards that were downloaded',
      });
    }
  }
  const byName = new Map<string, string>();
  for (const t of tars) {
    const clash = byName.get(path.basename(t));
    if (clash) {
      throw new CapgenError('BAD_INPUT', `two tar files are named ${path.basename(t)}: their images would get the same names`, {
        file: t,
        hint: `the other is ${clash}; read the folders in separate runs, or rename one`,
      });
    }
    byName.set(path.basename(t), t);
  }
  return tars;
}

interface Sample {
  image?: string;
  txt?: string;
  jsonCaption?: string;
  /** Why the caption members could not be read, if they could not. */
  problem?: string;
}

/** One tar's captions: one per sample, a sample without an image or a caption counted as malformed. */
async function readTarCaptions(tar: string): Promise<ParsedCaptions> {
  const samples = new Map<string, Sample>();
  const sampleOf = (key: string): Sample => {
    let s = samples.get(key);
    if (!s) samples.set(key, (s = {}));
    return s;
  };
  for await (const member of readTarMembers(tar, (name) => CAPTION_EXTENSIONS.has(splitKey(name).ext))) {
    const { key, ext } = splitKey(member.name);
    const sample = sampleOf(key);
    const where = `${tar}:${member.name}`;
    if (IMAGE_EXTENSIONS.has(ext)) sample.image ??= member.name;
    else if (ext === 'txt' || ext === 'json') {
      if (!member.bytes) {
        sample.problem = `${member.name}: ${member.error}`;
        continue;
      }
      try {
        const text = decodeUtf8(member.bytes, where);
        if (ext === 'txt') sample.txt = text.trim();
        else {
          const caption = (JSON.parse(text) as { caption?: unknown })?.caption;
          if (typeof caption === 'string') sample.jsonCaption = caption.trim();
        }
      } catch (e) {
        sample.problem = `${member.name}: ${(e as Error).message.split('\n')[0]}`;
      }
    }
  }
  const base = path.basename(tar);
  const captions: RawCaption[] = [];
  const malformed: ParsedCaptions['malformed'] = [];
  let index = 0;
  for (const [key, s] of samples) {
    const line = ++index;
    const caption = s.txt || s.jsonCaption;
    if (!s.image) malformed.push({ file: tar, line, message: `sample ${key} has no image (.jpg, .jpeg, .png or .webp)` });
    else if (caption === undefined || caption === '')
      malformed.push({
        file: tar,
        line,
        message: `sample ${key} has no caption (a .txt, or a .json with a "caption" string)${s.problem ? `: ${s.problem}` : ''}`,
      });
    else {
      const image = `${base}/${s.image}`;
      captions.push({ image, raw: caption, id: `${image}#0`, line });
    }
  }
  return { file: tar, captions, records: samples.size, malformed };
}

/** The images of the given tars: each read as a stream, only the wanted members' bytes held. */
function tarImageSource(tars: string[], where: string): ImageSource {
  return {
    where,
    async *read(names) {
      // `<tar file name>/<member>` -> which tar, which member
      const wantedByTar = new Map<string, Set<string>>();
      for (const name of names) {
        const slash = name.indexOf('/');
        const set = wantedByTar.get(name.slice(0, slash)) ?? new Set<string>();
        set.add(name.slice(slash + 1));
        wantedByTar.set(name.slice(0, slash), set);
      }
      for (const tar of tars) {
        const base = path.basename(tar);
        const wanted = wantedByTar.get(base);
        if (!wanted) continue;
        for await (const member of readTarMembers(tar, (name) => wanted.has(name))) {
          if (!wanted.delete(member.name)) continue;
          const name = `${base}/${member.name}`;
          yield (member.bytes ? { name, bytes: member.bytes } : { name, error: member.error ?? 'unreadable' }) as SourcedImage;
        }
        for (const member of wanted) yield { name: `${base}/${member}`, error: `not in ${tar}` };
        wantedByTar.delete(base);
      }
      for (const [base, members] of wantedByTar)
        for (const member of members) yield { name: `${base}/${member}`, error: 'no such tar file among the inputs' };
    },
  };
}

export async function openWebdataset(data: string, opts: { shard?: ShardSpec } = {}): Promise<StreamDataset> {
  const all = await resolveTars(data);
  const { shard } = opts;
  // A shard reads only its own tars: webdataset's split_by_node, i, i + N, i + 2N, ...
  const inputs = shard ? all.filter((_, i) => shardOwnsPosition(i, shard)) : all;
  const parsed: ParsedCaptions[] = [];
  for (const tar of inputs) parsed.push(await readTarCaptions(tar));
  return {
    inputs,
    parsed,
    images: tarImageSource(inputs, inputs.length === all.length ? data : `${inputs.length} of the tars of ${data}`),
  };
}

export const datasetFormat: StreamFormat = {
  kind: 'stream',
  name: 'webdataset',
  help: "webdataset shards (img2dataset's output): --data 'dir/{00000..00099}.tar', a folder of .tar files or one .tar; a sample is <key>.jpg|png|webp with its caption in <key>.txt or <key>.json's caption; read as streams, never unpacked; random split",
  // after every folder format: a dataset folder with caption files is read as that
  rank: 90,
  recognises: "--data 'dir/{00000..00099}.tar', a folder of .tar files or one .tar",
  async detect(data) {
    if (/\.tar$/.test(data) || (/\{[^{}]*\}/.test(data) && /\.tar\b/.test(data))) return true;
    return isDir(data) && (await fs.readdir(data)).some((n) => n.endsWith('.tar'));
  },
  open: openWebdataset,
};
