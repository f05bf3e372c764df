// `capgen caption IMAGE...`: features computed with exactly the encoder, preprocessing and resize
// recorded in the checkpoint, then batched decoding. Unreadable images are listed, not fatal.
import path from 'node:path';
import type { BackendChoice } from '../backend/index.js';
import { describeBackend, initBackend } from '../backend/index.js';
import { decodeFeatures, DEFAULT_DECODE_BATCH_SIZE } from '../decode/index.js';
import { describeEncoder, loadTrainedCaptioner } from '../captioner/captioner.js';
import { CapgenError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { embedImageFiles } from '../features/load-encoder.js';
import { info } from '../log.js';
import type { EncoderIdentity } from '../run/formats.js';
import { renderAttentionPng } from './attention-png.js';
import { expandInputs, type InputProblem } from './inputs.js';
import { openCaptionLog, type CaptionLog } from './output-log.js';
import { readTextFile, splitLines } from '../prepare/text-file.js';
import { formatShard, shardOwns, type ShardSpec } from '../util/shard.js';

export interface CaptionConfig {
  /** Files, folders or globs. */
  inputs: string[];
  checkpointDir: string;
  beamSize: number;
  lengthPenalty: number;
  /** No n words in a row twice in a caption (0 = off). */
  blockNgrams: number;
  /** Images embedded and decoded per batch. */
  batchSize: number;
  backend: BackendChoice;
  /** Where the encoder is now (--encoder): checked against the weights hash in the checkpoint. */
  encoderPath?: string;
  /** Write one PNG per image here: each word's attention over the image (attending decoders only). */
  attentionMapsDir?: string;
  /** A file of image paths, one a line, captioned after `inputs` (taken as named: no folders or globs). */
  listFile?: string;
  /** Caption only the images this shard owns (by their path as given), for job arrays. */
  shard?: ShardSpec;
  /** Append one JSON line per image here, flushed batch by batch; images already in it are skipped. */
  outFile?: string;
}

export { DEFAULT_CAPTION_CONFIG } from './config.js';

export interface CaptionedImage {
  image: string;
  caption: string;
  /** Total log-probability of the caption (end token included). */
  logProb: number;
  /** With beam search: every final beam, best first. */
  beams?: { caption: string; score: number; logProb: number }[];
  /** With attentionMapsDir: the PNG written for this image. */
  attentionMap?: string;
}

export interface CaptionRunResult {
  /** Empty with outFile: the captions went there, batch by batch, and are not held. */
  captions: CaptionedImage[];
  counts: {
    captioned: number;
    /** Images already in outFile, skipped. */
    alreadyDone: number;
    /** Images another shard owns, skipped. */
    otherShards: number;
  };
  outFile?: string;
  /** Arguments that matched nothing and images that could not be decoded, one reason each. */
  failed: InputProblem[];
  checkpoint: string;
  encoder: EncoderIdentity;
}

/** The paths of a --list file: one a line, blank lines ignored. */
async function readList(file: string): Promise<string[]> {
  return splitLines(await readTextFile(file))
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

export async function runCaption(config: CaptionConfig): Promise<CaptionRunResult> {
  const { files: expanded, problems } = await expandInputs(config.inputs);
  const all = [...new Set([...expanded, ...(config.listFile ? await readList(config.listFile) : [])])];
  const { shard } = config;
  const owned = shard ? all.filter((f) => shardOwns(f, shard)) : all;
  const log: CaptionLog | undefined = config.outFile ? await openCaptionLog(config.outFile) : undefined;
  try {
    if (log?.cutBytes) info(`caption: cut a torn last line (${log.cutBytes} bytes) from ${log.file}: a run was stopped mid-write`);
    const files = log ? owned.filter((f) => !log.done.has(f)) : owned;
    const counts = { captioned: 0, alreadyDone: owned.length - files.length, otherShards: all.length - owned.length };
    info(describeBackend(await initBackend(config.backend)));
    const captioner = await loadTrainedCaptioner(config.checkpointDir);
    try {
      const { meta, model, vocab, metaFile, featureShape, words } = captioner;
      let grid: [number, number] | undefined;
      if (config.attentionMapsDir !== undefined) {
        // before any image is embedded: a model without maps is a usage error, found at once
        if ('reason' in captioner.attention)
          throw new CapgenError('USAGE', `--attention-maps: ${captioner.attention.reason}`, {
            file: metaFile,
            hint: 'caption without --attention-maps, or use a checkpoint trained with --decoder attention or transformer',
          });
        grid = captioner.attention.grid;
      }
      const { encoder, label } = await captioner.openEncoder({ encoderPath: config.encoderPath });
      const skipped = [
        shard ? `${counts.otherShards} owned by other shards (this is shard ${formatShard(shard)})` : '',
        log ? `${counts.alreadyDone} already in ${log.file}` : '',
      ].filter(Boolean);
      info(
        `caption: ${files.length} image${files.length === 1 ? '' : 's'}${skipped.length ? ` (skipped: ${skipped.join(', ')})` : ''}; checkpoint ${config.checkpointDir} (epoch ${meta.epoch}); encoder ${describeEncoder(meta.encoder)} on ${label}; decoder on ${captioner.engine}`,
      );
      const captions: CaptionedImage[] = [];
      const failed: InputProblem[] = [...problems];
      const mapName = attentionMapNamer();
      try {
        // Batch by batch: memory holds one batch's images and features, and --out gets each batch at once.
        for (let start = 0; start < files.length; start += config.batchSize) {
          const chunk = files.slice(start, start + config.batchSize);
          const embedded = await embedImageFiles(encoder, chunk, { batchSize: config.batchSize });
          const readable = chunk.filter((f) => embedded.features.has(f));
          const decoded = await decodeFeatures(
            model,
            readable.map((f) => embedded.features.get(f)!),
            {
              ...captioner.decodeOptions(config),
              batchSize: DEFAULT_DECODE_BATCH_SIZE,
              featureShape,
              ...(grid ? { attention: { grid } } : {}),
            },
          );
          const batch: CaptionedImage[] = readable.map((image, i) => ({
            image,
            caption: words(decoded[i].tokens),
            logProb: decoded[i].logProb,
            ...(config.beamSize > 1
              ? { beams: decoded[i].beams.map((b) => ({ caption: words(b.tokens), score: b.score, logProb: b.logProb })) }
              : {}),
          }));
          if (grid && config.attentionMapsDir !== undefined) {
            for (let i = 0; i < readable.length; i++) {
              const target = path.join(config.attentionMapsDir, mapName(readable[i]));
              const png = await renderAttentionPng({
                image: readable[i],
                caption: batch[i].caption,
                words: vocab.decode(decoded[i].tokens),
                weights: decoded[i].attention!,
                grid,
                encoder: meta.encoder,
              });
              await writeFileAtomic(target, png);
              batch[i].attentionMap = target;
            }
          }
          counts.captioned += batch.length;
          failed.push(...embedded.failed);
          if (log) await log.append([...batch, ...embedded.failed.map((f) => ({ image: f.path, error: f.reason }))]);
          else captions.push(...batch);
        }
      } finally {
        await encoder.dispose();
      }
      if (grid && config.attentionMapsDir !== undefined)
        info(`caption: wrote ${counts.captioned} attention map${counts.captioned === 1 ? '' : 's'} to ${config.attentionMapsDir}`);
      return { captions, counts, failed, checkpoint: config.checkpointDir, encoder: meta.encoder, ...(log ? { outFile: log.file } : {}) };
    } finally {
      captioner.dispose();
    }
  } finally {
    await log?.close();
  }
}

/** A namer for attention maps: `photo.jpg` -> `photo-attention.png`; a repeated file name (two folders) gets `-2`, `-3`, ... */
function attentionMapNamer(): (image: string) => string {
  const used = new Set<string>();
  return (image) => {
    const stem = path.basename(image, path.extname(image)) || 'image';
    let name = `${stem}-attention.png`;
    for (let n = 2; used.has(name.toLowerCase()); n++) name = `${stem}-${n}-attention.png`;
    used.add(name.toLowerCase());
    return name;
  };
}

/** `photo.jpg` -> `photo-attention.png` (never an input's own name); a repeated file name (two folders) gets `-2`, `-3`, ... */
export function mapFileNames(images: string[]): string[] {
  return images.map(attentionMapNamer());
}
