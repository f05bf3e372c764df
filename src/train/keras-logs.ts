// The training logs Keras users already read: history.csv as Keras' CSVLogger writes it, and
// TensorBoard event files as Keras' TensorBoard callback lays them out (native backends only).
import path from 'node:path';
import { nativeNodeApi, type BackendInfo, type NativeSummaryApi } from '../backend/index.js';
import { CapgenError } from '../errors.js';
import type { EpochRecord } from './history.js';

/** CSVLogger's columns (epoch counted from 0, as Keras passes it), plus the epoch's seconds. */
export const HISTORY_CSV_COLUMNS = ['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr', 'seconds'] as const;

/** history.csv text: one row per epoch; a missing value (no dev split) is `NA`, as CSVLogger writes it. */
export function historyCsv(records: readonly EpochRecord[]): string {
  const cell = (v: number | null) => (v === null || !Number.isFinite(v) ? 'NA' : String(v));
  const rows = records.map((r) =>
    [
      r.epoch - 1,
      cell(r.trainLoss),
      cell(r.trainAccuracy),
      cell(r.valLoss),
      cell(r.valAccuracy),
      cell(r.learningRate),
      cell(r.seconds),
    ].join(','),
  );
  return `${[HISTORY_CSV_COLUMNS.join(','), ...rows].join('\n')}\n`;
}

export interface TensorBoardLog {
  /** Writes one finished epoch's scalars. */
  write(record: EpochRecord): void;
}

/**
 * TensorBoard event files in `dir/train` and `dir/validation` with Keras' tags (`epoch_loss`,
 * `epoch_accuracy`, `epoch_learning_rate`; step = epoch from 0), through tfjs-node's summary writer.
 * Only the native backends have that writer: elsewhere this is a usage error naming the backend.
 */
export function openTensorBoard(dir: string, backend: BackendInfo, api: NativeSummaryApi | undefined = nativeNodeApi()): TensorBoardLog {
  if (!api) {
    throw new CapgenError(
      'USAGE',
      `--tensorboard needs the native TensorFlow backend (tfjs-node or tfjs-node-gpu), whose summary writer makes the event files; this run is on ${backend.name}`,
      {
        hint: 'install @tensorflow/tfjs-node@4.22.0 (its install step downloads libtensorflow) and use --backend node, or read train/history.csv',
      },
    );
  }
  const train = api.summaryFileWriter(path.join(dir, 'train'));
  const validation = api.summaryFileWriter(path.join(dir, 'validation'));
  return {
    write(r) {
      const step = r.epoch - 1;
      train.scalar('epoch_loss', r.trainLoss, step);
      train.scalar('epoch_accuracy', r.trainAccuracy, step);
      train.scalar('epoch_learning_rate', r.learningRate, step);
      if (r.valLoss !== null) validation.scalar('epoch_loss', r.valLoss, step);
      if (r.valAccuracy !== null) validation.scalar('epoch_accuracy', r.valAccuracy, step);
      train.flush();
      validation.flush();
    },
  };
}
