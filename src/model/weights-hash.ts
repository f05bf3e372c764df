// SHA-256 of a checkpoint's binary files, recorded in checkpoint.json and checked on every read:
// a same-size change (random bytes, a disk error, a bad copy) is otherwise only seen as NaN losses
// or nonsense captions. A checkpoint without the hashes is refused (src/model/checkpoint.ts).
import { createHash } from 'node:crypto';
import { CapgenError } from '../errors.js';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Throws (exit 2) when `bytes` do not hash to `expected`. */
export function verifyFileHash(file: string, bytes: Uint8Array, expected: string): void {
  const got = sha256Hex(bytes);
  if (got !== expected) {
    throw new CapgenError(
      'BAD_INPUT',
      `checkpoint file is damaged: its SHA-256 is ${got.slice(0, 12)}..., checkpoint.json records ${expected.slice(0, 12)}...`,
      {
        file,
        hint: 'retrain, or use the other checkpoint (train/best or train/last)',
      },
    );
  }
}
