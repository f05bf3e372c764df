// `capgen demo`: the whole pipeline on the built-in synthetic dataset, offline, in a few minutes.
// Each stage runs as its own `capgen` process with the flags a user would type, so the demo goes
// through exactly the code of the real commands; the demo only picks flags and reads run files.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { BackendChoice } from '../backend/index.js';
import { CapgenError } from '../errors.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { formatSeconds, info, isVerbose } from '../log.js';
import type { PreparedCaption } from '../run/formats.js';
import { DEFAULT_DEMO_RUN_DIR, runPath } from '../run/layout.js';
import { throwIfStopRequested } from '../util/signals.js';
import { invokeCapgen, parseJsonOutput } from './invoke.js';

export interface DemoConfig {
  outDir: string;
  count: number;
  seed: number;
  epochs: number;
  backend: BackendChoice;
  /** Held-out scenes captioned by `capgen caption` and shown in the closing table. */
  showImages: number;
}

export const DEFAULT_DEMO_CONFIG: DemoConfig = {
  outDir: DEFAULT_DEMO_RUN_DIR, // inside the git-ignored artifacts/, beside a real run
  count: 800, // 640 training scenes: enough to learn colours, counts and positions in ~2 min of training
  seed: 1, // fixed, so two runs of the demo print the same dataset
  epochs: 12, // the validation loss flattens around here for this dataset and model size
  backend: 'auto',
  showImages: 6, // a screenful
};

/** Written at the end of a demo; also marks the folder as the demo's own (see assertDemoFolder). */
export const DEMO_RECORD = 'demo.json';
/** The generated dataset, inside the run folder so one folder holds everything. */
export const DEMO_DATASET_SUBDIR = 'dataset';

// The decoder sizes for 47 words and 1216-d features: the Keras tutorial's 256/256 would only be
// slower here, and a little dropout is enough regularisation for 3200 captions. Batches of 16:
// twice the updates per epoch of 32, which this small dataset needs more than matmul efficiency.
const TRAIN_FLAGS = ['--batch-size', '16', '--embedding-size', '64', '--hidden-size', '128', '--dropout', '0.2', '--lr', '3e-3'];

export interface DemoSample {
  image: string;
  generated: string;
  references: string[];
}

export interface DemoResult {
  runDir: string;
  datasetDir: string;
  metrics: Record<string, number>;
  samples: DemoSample[];
  stageSeconds: Record<'prepare' | 'train' | 'eval' | 'caption', number>;
  elapsedSeconds: number;
  files: Record<string, string>;
}

/** Refuses to run in a non-empty folder that an earlier demo did not write (stages overwrite files). */
async function assertDemoFolder(outDir: string): Promise<void> {
  if (!existsSync(outDir)) return;
  const entries = await fs.readdir(outDir);
  if (entries.length > 0 && !entries.includes(DEMO_RECORD)) {
    throw new CapgenError('USAGE', `${outDir} is not empty and was not written by \`capgen demo\``, {
      file: outDir,
      hint: 'pass --run with a new or empty folder',
    });
  }
}

async function readTestCaptions(runDir: string): Promise<Map<string, string[]>> {
  const file = runPath(runDir, 'captions');
  const byImage = new Map<string, string[]>();
  for (const line of (await fs.readFile(file, 'utf8')).split('\n')) {
    if (!line.trim()) continue;
    const c = JSON.parse(line) as PreparedCaption;
    if (c.split !== 'test') continue;
    byImage.set(c.image, [...(byImage.get(c.image) ?? []), c.tokens.join(' ')]);
  }
  return byImage;
}

export async function runDemo(config: DemoConfig): Promise<DemoResult> {
  const startedMs = Date.now();
  const runDir = config.outDir;
  const datasetDir = path.join(runDir, DEMO_DATASET_SUBDIR);
  await assertDemoFolder(runDir);
  await fs.mkdir(runDir, { recursive: true });
  // Mark the folder before the first stage, so an interrupted demo can be re-run in place.
  await writeJsonAtomic(path.join(runDir, DEMO_RECORD), { status: 'running', config });
  const common = ['--backend', config.backend];
  const global = isVerbose() ? ['--verbose'] : [];
  const stage = async (name: keyof DemoResult['stageSeconds'], args: string[]) => {
    throwIfStopRequested(`demo stopped before \`capgen ${name}\``);
    info(`\ndemo: capgen ${[name, ...args].join(' ')}`);
    const run = await invokeCapgen([...global, name, ...args, ...common]);
    info(`demo: ${name} finished in ${formatSeconds(run.elapsedMs / 1000)}`);
    return run;
  };

  const prepared = await stage('prepare', [
    '--dataset',
    'synthetic',
    '--count',
    String(config.count),
    '--seed',
    String(config.seed),
    '--data',
    datasetDir,
    '--run',
    runDir,
    '--encoder',
    'seeded-cnn', // the offline encoder, chosen explicitly: no download, useless for photos
  ]);
  // --overwrite: a demo run again in its own folder trains from scratch, as its first run did.
  const trained = await stage('train', [
    '--run',
    runDir,
    '--overwrite',
    '--epochs',
    String(config.epochs),
    '--seed',
    String(config.seed),
    ...TRAIN_FLAGS,
  ]);
  const evaluated = await stage('eval', ['--run', runDir, '--split', 'test', '--json']);
  const evalRecord = parseJsonOutput<{ metrics: Record<string, number> }>(evaluated, 'eval');

  const references = await readTestCaptions(runDir);
  const shown = [...references.keys()].slice(0, config.showImages);
  const captioned = await stage('caption', [
    '--checkpoint',
    path.join(runPath(runDir, 'trainDir'), 'best'),
    '--json',
    ...shown.map((name) => path.join(datasetDir, 'Images', name)),
  ]);
  const captionOutput = parseJsonOutput<{ captions: { image: string; caption: string }[] }>(captioned, 'caption');
  const generated = new Map(captionOutput.captions.map((c) => [path.basename(c.image), c.caption]));
  const samples = shown.map((image) => ({ image, generated: generated.get(image) ?? '', references: references.get(image) ?? [] }));

  const trainDir = runPath(runDir, 'trainDir');
  const evalDir = runPath(runDir, 'evalDir');
  const result: DemoResult = {
    runDir,
    datasetDir,
    metrics: evalRecord.metrics,
    samples,
    stageSeconds: {
      prepare: prepared.elapsedMs / 1000,
      train: trained.elapsedMs / 1000,
      eval: evaluated.elapsedMs / 1000,
      caption: captioned.elapsedMs / 1000,
    },
    elapsedSeconds: (Date.now() - startedMs) / 1000,
    files: {
      dataset: datasetDir,
      captions: runPath(runDir, 'captions'),
      vocabulary: runPath(runDir, 'vocab'),
      features: runPath(runDir, 'featuresDir'),
      bestCheckpoint: path.join(trainDir, 'best'),
      trainingCurves: path.join(trainDir, 'history.png'),
      metrics: path.join(evalDir, 'metrics.json'),
      predictions: path.join(evalDir, 'predictions.jsonl'),
      report: path.join(evalDir, 'report.html'),
    },
  };
  await writeJsonAtomic(path.join(runDir, DEMO_RECORD), { status: 'done', config, ...result });
  return result;
}
