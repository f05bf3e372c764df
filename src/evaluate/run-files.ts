// Reads what eval needs from a run folder (prepare.json, captions.jsonl) and a predictions file,
// with errors that name the file and line.
import { promises as fs } from 'node:fs';
import { CapgenError } from '../errors.js';
import type { PreparedCaption, PrepareRecord } from '../run/formats.js';

async function readText(file: string, hint: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CapgenError('NOT_FOUND', 'file not found', { file, hint });
    throw new CapgenError('BAD_INPUT', `cannot read: ${(e as Error).message}`, { file });
  }
}

/** Parses JSON Lines; blank lines are skipped; `check` validates one parsed line (1-based line numbers). */
function parseJsonLines<T>(text: string, file: string, check: (v: unknown) => string | undefined): { value: T; line: number }[] {
  const rows: { value: T; line: number }[] = [];
  text.split('\n').forEach((raw, i) => {
    if (!raw.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new CapgenError('BAD_INPUT', 'not valid JSON', { file, line: i + 1, hint: 'one JSON object per line' });
    }
    const problem = check(value);
    if (problem) throw new CapgenError('BAD_INPUT', problem, { file, line: i + 1 });
    rows.push({ value: value as T, line: i + 1 });
  });
  return rows;
}

export async function readPrepareRecord(file: string): Promise<PrepareRecord> {
  const text = await readText(file, 'run `capgen prepare` first, or pass --run DIR');
  try {
    return JSON.parse(text) as PrepareRecord;
  } catch {
    throw new CapgenError('BAD_INPUT', 'not valid JSON', { file, hint: 'rerun `capgen prepare`' });
  }
}

export async function readPreparedCaptions(file: string): Promise<PreparedCaption[]> {
  const text = await readText(file, 'run `capgen prepare` first, or pass --run DIR');
  const rows = parseJsonLines<PreparedCaption>(text, file, (v) => {
    const c = v as Partial<PreparedCaption>;
    return typeof c?.image === 'string' && typeof c.raw === 'string' && typeof c.split === 'string'
      ? undefined
      : 'expected {"image", "split", "raw", "tokens"}';
  });
  return rows.map((r) => r.value);
}

/** One line of a predictions file. */
export interface Prediction {
  image: string;
  caption: string;
}

/** `{"image": ..., "caption": ...}` per line; an image given twice is an error. */
export async function readPredictions(file: string): Promise<Prediction[]> {
  const text = await readText(file, 'give a JSON Lines file of {"image": ..., "caption": ...}');
  const rows = parseJsonLines<Prediction>(text, file, (v) => {
    const p = v as Partial<Prediction>;
    return typeof p?.image === 'string' && typeof p.caption === 'string'
      ? undefined
      : 'expected {"image": "<file name>", "caption": "<text>"}';
  });
  const seen = new Map<string, number>();
  for (const { value, line } of rows) {
    const first = seen.get(value.image);
    if (first !== undefined)
      throw new CapgenError('BAD_INPUT', `image '${value.image}' was already predicted on line ${first}`, { file, line });
    seen.set(value.image, line);
  }
  if (!rows.length) throw new CapgenError('BAD_INPUT', 'no predictions in the file', { file });
  return rows.map((r) => ({ image: r.value.image, caption: r.value.caption }));
}
