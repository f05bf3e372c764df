// `capgen caption IMAGE...`: flags -> CaptionConfig -> runCaption; `image<TAB>caption` lines (or
// --json) on stdout, or JSON lines appended to --out; one error line per unreadable image on stderr,
// exit code 2 if any failed.
import { Command } from 'commander';
import { DEFAULT_CAPTION_CONFIG } from '../caption/config.js';
import type { CaptionConfig } from '../caption/run.js';
import { CapgenError } from '../errors.js';
import { info, result } from '../log.js';
import { defaultCheckpointDir, DEFAULT_RUN_DIR } from '../run/layout.js';
import { parseShardSpec } from '../util/shard.js';
import { backendOption, decodingOptions, intArg } from './options.js';

/**
 * A file name as one tab-separated field: backslash, tab, newline and carriage return written as
 * \\ \t \n \r (as `sha256sum` and `cut`-friendly tools do), so the line always splits at its one tab.
 */
export function escapeField(name: string): string {
  return name.replace(/[\\\t\n\r]/g, (ch) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[ch] as string);
}

export function captionCommand(): Command {
  const [beamSize, lengthPenalty, blockNgrams] = decodingOptions();
  const d = DEFAULT_CAPTION_CONFIG;
  return new Command('caption')
    .description('caption image files, folders or globs (dir/*.jpg) with a trained checkpoint')
    .argument('[images...]', 'image files, folders of images (not recursive), or glob patterns such as "photos/*.jpg"')
    .option('--list <file>', 'also caption the image paths in FILE, one a line')
    .option(
      '--out <file.jsonl>',
      'file to append one JSON object per image ({"image", "caption", ...} or {"image", "error"}) to FILE, flushed batch by batch; images already in FILE are skipped (resumable)',
    )
    .option('--shard <i/n>', 'caption only the images shard I of N owns (0 <= I < N; by each path as given), for job arrays')
    .option('--run <dir>', 'run folder whose best checkpoint captions', DEFAULT_RUN_DIR)
    .option('--checkpoint <dir>', 'checkpoint folder (default: <run>/train/best)')
    .addOption(beamSize)
    .addOption(lengthPenalty)
    .addOption(blockNgrams)
    .option('--batch-size <n>', 'images per encoder call', intArg(1), d.batchSize)
    .option(
      '--encoder <path>',
      "the encoder's model.json (or ResNet50 .h5) when it is no longer where prepare found it; checked against the checkpoint",
    )
    .option(
      '--attention-maps <dir>',
      'write one PNG per image into DIR: each word with its attention heatmap (attention and transformer decoders)',
    )
    .option('--json', 'print JSON on stdout instead of image<TAB>caption lines')
    .addOption(backendOption())
    .action(async (images: string[], opts) => {
      if (images.length === 0 && opts.list === undefined)
        throw new CapgenError('USAGE', 'no images to caption', { hint: 'name image files, folders or globs, or --list FILE' });
      const config: CaptionConfig = {
        inputs: images,
        checkpointDir: opts.checkpoint ?? defaultCheckpointDir(opts.run),
        beamSize: opts.beamSize,
        lengthPenalty: opts.lengthPenalty,
        blockNgrams: opts.blockNgrams,
        batchSize: opts.batchSize,
        backend: opts.backend,
        encoderPath: opts.encoder,
        attentionMapsDir: opts.attentionMaps,
        listFile: opts.list,
        shard: opts.shard === undefined ? undefined : parseShardSpec(opts.shard),
        outFile: opts.out,
      };
      const { runCaption } = await import('../caption/run.js'); // loaded on use: --help stays fast
      const r = await runCaption(config);
      if (r.outFile !== undefined) {
        const { captioned, alreadyDone, otherShards } = r.counts;
        const summary = { out: r.outFile, captioned, failed: r.failed.length, alreadyDone, otherShards };
        info(
          `caption: ${captioned} captioned, ${r.failed.length} failed -> ${r.outFile}; skipped ${alreadyDone} already there${config.shard ? `, ${otherShards} of other shards` : ''}`,
        );
        if (opts.json) result(JSON.stringify({ checkpoint: r.checkpoint, encoder: r.encoder, ...summary }, null, 2));
      } else if (opts.json) {
        result(
          JSON.stringify(
            {
              checkpoint: r.checkpoint,
              encoder: r.encoder,
              captions: r.captions,
              failed: r.failed.map((f) => ({ image: f.path, error: f.reason })),
            },
            null,
            2,
          ),
        );
      } else {
        for (const c of r.captions) result(`${escapeField(c.image)}\t${c.caption}`);
      }
      for (const f of r.failed) process.stderr.write(`capgen: error: ${f.path}: ${f.reason}\n`);
      if (r.failed.length) {
        const total = r.failed.length + r.counts.captioned;
        throw new CapgenError('BAD_INPUT', `${r.failed.length} of ${total} inputs could not be captioned (listed above)`);
      }
    });
}
