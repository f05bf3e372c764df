// `capgen serve --client-side`: the checkpoint exported as the static caption page (`capgen export
// --format web`, into a temporary folder removed on close) and served as files. The browser runs the
// model; the server never sees an image, and the page is byte for byte the one a static host would serve.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { runExport } from '../export/run.js';
import { info } from '../log.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm', // browsers compile WASM while it streams in only with this type
  '.bin': 'application/octet-stream',
};

// The page's own script and WASM only; its inline <style> is the one inline thing it has.
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'unsafe-inline'; img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export async function buildClientSideServer(opts: {
  checkpointDir: string;
  /** The exported page's default decoding (serve --beam-size); greedy when not given, as `capgen caption`. */
  beamSize?: number;
  lengthPenalty: number;
  blockNgrams: number;
}): Promise<FastifyInstance> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'capgen-client-side-'));
  const site = path.join(work, 'site');
  let exported: Awaited<ReturnType<typeof runExport>>;
  try {
    exported = await runExport({
      checkpointDir: opts.checkpointDir,
      format: 'web',
      outDir: site, // a folder of its own, new: nothing of the user's is there to replace
      overwrite: false,
      beamSize: opts.beamSize ?? 1,
      lengthPenalty: opts.lengthPenalty,
      blockNgrams: opts.blockNgrams,
    });
  } catch (e) {
    await fs.rm(work, { recursive: true, force: true });
    throw e;
  }
  info(
    `serve --client-side: ${exported.files.length} files, ${(exported.totalBytes / 2 ** 20).toFixed(1)} MB for each visitor to download once`,
  );
  const files = new Set(exported.files.map((f) => f.path.split(path.sep).join('/')));
  const app = Fastify({ logger: false });
  app.get('/*', async (request, reply) => {
    const rel = decodeURIComponent(new URL(request.url, 'http://host').pathname).replace(/^\//, '') || 'index.html';
    // Only the files the export wrote: no path outside the folder can be named.
    if (!files.has(rel)) return reply.status(404).send({ error: `no file ${rel}`, code: 'NOT_FOUND', hint: 'the page is at /' });
    return reply
      .header('content-type', CONTENT_TYPES[path.extname(rel)] ?? 'application/octet-stream')
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .send(await fs.readFile(path.join(site, rel)));
  });
  app.addHook('onClose', async () => {
    await fs.rm(work, { recursive: true, force: true });
  });
  return app;
}
