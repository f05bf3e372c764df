// A loss that is NaN or infinite means the weights are now garbage (diverged, or damaged input):
// training on would overwrite good checkpoints with them. Stop with a clear error instead; the
// last checkpoints on disk are from before the bad step.
import { CapgenError } from '../errors.js';

/** Throws (exit 2) when `loss` is not finite; `where` says which epoch and batch (1-based). */
export function assertFiniteLoss(loss: number, where: { epoch: number; batch: number; what?: string }): void {
  if (Number.isFinite(loss)) return;
  throw new CapgenError(
    'BAD_INPUT',
    `${where.what ?? 'training loss'} became ${loss} at epoch ${where.epoch} batch ${where.batch}: training stopped, the checkpoints on disk are from before it`,
    {
      hint: 'lower --lr, keep --clip-norm on, check the features (rerun `capgen prepare`), or --resume from train/last',
    },
  );
}
