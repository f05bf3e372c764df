// `capgen serve`: load the checkpoint and its encoder once, serve the page and the API until SIGINT/SIGTERM.
import { once } from 'node:events';
import path from 'node:path';
import type { BackendChoice } from '../backend/index.js';
import { CapgenError } from '../errors.js';
import { info } from '../log.js';
import { defaultCheckpointDir } from '../model/checkpoint.js';
import { RUN_FILES } from '../run/layout.js';
import { loadCaptioner } from './captioner.js';
import { buildClientSideServer } from './client-side.js';
import { buildServer } from './server.js';

export interface ServeConfig {
  /** Run folder whose best checkpoint is served (when `checkpoint` is not given). */
  runDir: string;
  /** A checkpoint folder (checkpoint.json + weights.bin); default `<runDir>/train/best`. */
  checkpoint?: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  maxUploadMb: number;
  backend: BackendChoice;
  /** Beam width for API requests that do not say and the page's preselected choice (default: API 1, page 3). */
  beamSize?: number;
  /** Length normalisation alpha used by beam search (0 = total log-probability). */
  lengthPenalty: number;
  /** No n words in a row twice in a caption (0 = off). */
  blockNgrams: number;
  /** Serve the exported web page (the browser runs the model) instead of captioning on the server. */
  clientSide?: boolean;
  /** Where the encoder is now (--encoder), when the run folder moved. */
  encoderPath?: string;
  /** What visitors see as the model's name (`--name`); default: the run folder's base name. */
  name?: string;
}

/**
 * The model's public name: `--name`, else the run folder's base name (for `--checkpoint <run>/train/best`
 * too), never a path: visitors of a public demo must not learn the server's file system.
 */
export function publicModelName(config: Pick<ServeConfig, 'runDir' | 'checkpoint' | 'name'>): string {
  if (config.name !== undefined && config.name.trim() !== '') return config.name.trim();
  const dir = path.resolve(config.checkpoint ?? config.runDir);
  const trainDir = path.dirname(dir);
  const runDir = config.checkpoint === undefined ? dir : path.basename(trainDir) === RUN_FILES.trainDir ? path.dirname(trainDir) : dir;
  return path.basename(runDir) || 'capgen';
}

export interface ServeHandle {
  url: string;
  /** Resolves once the server has closed. */
  closed: Promise<void>;
  close(): Promise<void>;
}

/** Starts the server; the returned handle's `closed` resolves after SIGINT/SIGTERM or close(). */
export async function startServe(config: ServeConfig): Promise<ServeHandle> {
  const checkpointDir = config.checkpoint ?? defaultCheckpointDir(config.runDir);
  const app = config.clientSide
    ? await buildClientSideServer({
        checkpointDir,
        beamSize: config.beamSize,
        lengthPenalty: config.lengthPenalty,
        blockNgrams: config.blockNgrams,
      })
    : await buildServer({
        captioner: await loadCaptioner({
          checkpointDir,
          backend: config.backend,
          lengthPenalty: config.lengthPenalty,
          blockNgrams: config.blockNgrams,
          encoderPath: config.encoderPath,
          publicName: publicModelName(config),
        }),
        maxUploadBytes: Math.round(config.maxUploadMb * 2 ** 20),
        beamSize: config.beamSize,
      });
  let url: string;
  try {
    url = await app.listen({ host: config.host, port: config.port });
  } catch (e) {
    await app.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new CapgenError('USAGE', `cannot listen on ${config.host}:${config.port} (${code})`, {
        hint: 'choose another --port or --host',
      });
    }
    throw e;
  }
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= app.close());
  const onSignal = () => {
    info('capgen serve: stopping (waiting for requests in flight)');
    void close();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const closed = once(app.server, 'close').then(() => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });
  return { url, closed, close };
}

/** The CLI entry: serve until interrupted. */
export async function runServe(config: ServeConfig): Promise<void> {
  const handle = await startServe(config);
  const api = config.clientSide ? 'captions are computed in the browser' : 'API: POST /api/caption, GET /api/health';
  info(`capgen serve: open ${handle.url.replace('127.0.0.1', 'localhost')}/ (${api}; Ctrl-C stops)`);
  await handle.closed;
  info('capgen serve: stopped');
}
