// Downloads a file once into capgen's cache folder: to a temp file, hash-checked, then renamed, so an
// interrupted or corrupt download never leaves a file that looks complete.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CapgenError } from '../errors.js';
import { progressBar } from '../log.js';

/** `$CAPGEN_CACHE`, else `$XDG_CACHE_HOME/capgen`, else `~/.cache/capgen` (the XDG base-directory convention). */
export function capgenCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CAPGEN_CACHE) return env.CAPGEN_CACHE;
  // The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
  if (env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME)) return path.join(env.XDG_CACHE_HOME, 'capgen');
  return path.join(os.homedir(), '.cache', 'capgen');
}

/** Where Keras' `get_file` keeps downloaded weights: `$KERAS_HOME/models`, default `~/.keras/models`. */
export function kerasModelsDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.KERAS_HOME || path.join(os.homedir(), '.keras'), 'models');
}

/**
 * A Keras user's copy of `file` (same name, same md5) to use instead of downloading it again, or
 * undefined. A copy with another md5 (truncated, or another release) is passed over, and said so.
 */
export async function findKerasCopy(
  file: string,
  md5: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ path?: string; rejected?: string }> {
  const candidate = path.join(kerasModelsDir(env), file);
  if (!existsSync(candidate)) return {};
  const actual = await hashFile(candidate, 'md5');
  return actual === md5 ? { path: candidate } : { rejected: `${candidate} has md5 ${actual}, not Keras' published ${md5}` };
}

export interface DownloadOptions {
  url: string;
  /** Where the finished file goes. */
  dest: string;
  /** Expected md5 (hex), as Keras publishes it. */
  md5: string;
  /** Message for the "fetch it yourself" hint. */
  manualHint?: string;
}

/** Hex digest of a file, streamed (weights files are ~100 MB). */
export async function hashFile(file: string, algorithm: 'md5' | 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  const handle = await fs.open(file, 'r');
  try {
    for await (const chunk of handle.createReadStream()) hash.update(chunk as Buffer);
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/** Downloads `url` to `dest` unless it is already there. Returns `dest`. */
export async function downloadOnce(opts: DownloadOptions): Promise<string> {
  if (existsSync(opts.dest)) return opts.dest;
  await fs.mkdir(path.dirname(opts.dest), { recursive: true });
  const tmp = `${opts.dest}.${randomBytes(4).toString('hex')}.part`;
  const manual = opts.manualHint ?? `fetch ${opts.url} on a machine with internet access and put it at ${opts.dest}`;
  let response: Response;
  try {
    response = await fetch(opts.url);
  } catch (e) {
    const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
    throw new CapgenError('NETWORK', `cannot download ${opts.url}: ${cause}`, { hint: manual, cause: e });
  }
  if (!response.ok || !response.body) {
    throw new CapgenError('NETWORK', `cannot download ${opts.url}: HTTP ${response.status}`, { hint: manual });
  }
  const total = Number(response.headers.get('content-length') ?? 0);
  const bar = progressBar(
    total || 1,
    `downloading ${path.basename(opts.dest)} [{bar}] {percentage}% {value}/{total} bytes, ETA {eta_formatted}`,
  );
  const hash = createHash('md5');
  const handle = await fs.open(tmp, 'w');
  let received = 0;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      await handle.write(chunk);
      received += chunk.length;
      bar.update(Math.min(received, total || received));
    }
    await handle.sync();
  } catch (e) {
    await handle.close();
    await fs.rm(tmp, { force: true });
    throw new CapgenError('NETWORK', `download of ${opts.url} was interrupted after ${received} bytes: ${(e as Error).message}`, {
      hint: manual,
      cause: e,
    });
  } finally {
    bar.stop();
  }
  await handle.close();
  const md5 = hash.digest('hex');
  if (md5 !== opts.md5 || (total && received !== total)) {
    await fs.rm(tmp, { force: true });
    throw new CapgenError('NETWORK', `downloaded ${opts.url} but its md5 is ${md5}, expected ${opts.md5} (${received} bytes)`, {
      hint: `try again, or ${manual}`,
    });
  }
  await fs.rename(tmp, opts.dest);
  return opts.dest;
}
