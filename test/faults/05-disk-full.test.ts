// Defect 5: a full disk was an internal error (stack trace, exit 1 or 7) that left temp files
// behind, and a failed `eval --beam-size 2` left its new predictions beside the old metrics. Now
// ENOSPC (and EACCES, EROFS, EDQUOT) is one line with exit 2 and a hint, temp files are removed, and
// eval publishes metrics, predictions and report as one set. Needs a small tmpfs, so root (as CI
// runs); elsewhere the CLI tests skip with a note.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, promises as fs, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileSetAtomic } from '../../src/io/atomic.js';
import { diskError } from '../../src/io/disk-errors.js';
import { BIN, runCli, tempDir } from '../helpers.js';
import { expectOneLineError, SCENES, SMALL_TRAIN, tempFilesIn } from './fixtures.js';

const mounts: string[] = [];

/** A tmpfs of `kib` KiB at `dir`, or false when this process may not mount one. */
function mountTmpfs(dir: string, kib: number): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return false;
  }
  mounts.push(dir);
  return true;
}

/** Writes a file until the file system is full. */
function fillUp(dir: string): void {
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${path.join(dir, 'filler')}`, 'bs=4k'], { stdio: 'ignore' });
  } catch {
    // dd stops with ENOSPC: that is the point
  }
}

// Not tempDir(): its clean-up would run before the unmount and fail on the mount points.
const root = mkdtempSync(path.join(os.tmpdir(), 'capgen-full-'));
afterAll(() => {
  for (const dir of mounts.reverse()) execFileSync('umount', [dir]);
  rmSync(root, { recursive: true, force: true });
});

const CAN_MOUNT = process.getuid?.() === 0;
if (!CAN_MOUNT)
  process.stderr.write('note: test/faults/05-disk-full.test.ts: not root, so no tmpfs to fill: the disk-full CLI tests are skipped\n');

describe('disk errors (unit)', () => {
  it('ENOSPC, EROFS, EACCES and EDQUOT become one-line CapgenErrors naming the file; others do not', () => {
    const e = Object.assign(new Error('ENOSPC: no space left on device, write'), {
      code: 'ENOSPC',
      syscall: 'write',
      path: '/x/vectors.bin',
    });
    expect(diskError(e)?.oneLine()).toBe(
      '/x/vectors.bin: no space left on the device (ENOSPC in write) (free some space or write the run folder elsewhere (--out/--run); what was already written is intact)',
    );
    for (const code of ['EROFS', 'EACCES', 'EDQUOT']) expect(diskError(Object.assign(new Error(code), { code }))?.code).toBe('DISK');
    expect(diskError(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBeUndefined();
    expect(diskError(new Error('plain'))).toBeUndefined();
  });

  it('a failed atomic write removes its temp file; a failed set write leaves the old set whole', async () => {
    const dir = tempDir('capgen-atomic-');
    await writeFileAtomic(path.join(dir, 'a.txt'), 'old a');
    await writeFileAtomic(path.join(dir, 'b.txt'), 'old b');
    const notData = 42 as unknown as string; // writeFile rejects it after the temp file was opened
    await expect(writeFileAtomic(path.join(dir, 'a.txt'), notData)).rejects.toThrow();
    await expect(
      writeFileSetAtomic([
        { target: path.join(dir, 'a.txt'), data: 'new a' },
        { target: path.join(dir, 'b.txt'), data: notData },
      ]),
    ).rejects.toThrow();
    expect(await fs.readFile(path.join(dir, 'a.txt'), 'utf8')).toBe('old a');
    expect(await fs.readFile(path.join(dir, 'b.txt'), 'utf8')).toBe('old b');
    expect(await tempFilesIn(dir)).toEqual([]);
  });
});

describe.skipIf(!existsSync(BIN) || !CAN_MOUNT)('a full disk (CLI, tmpfs)', () => {
  const data = path.join(root, 'data');

  it('prepare onto a full disk: exit 2, one line, no temp files (features, then captions only)', async () => {
    const made = await runCli([
      'prepare',
      '--dataset',
      'synthetic',
      '--count',
      SCENES,
      '--seed',
      '1',
      '--data',
      data,
      '--out',
      path.join(root, 'gen'),
    ]);
    expect(made.code, made.stderr).toBe(0);
    const small = path.join(root, 'small');
    expect(mountTmpfs(small, 128)).toBe(true); // the 40 feature rows alone are 190 KiB
    const features = await runCli(['prepare', '--data', data, '--encoder', 'seeded-cnn', '--out', path.join(small, 'run')]);
    expectOneLineError(
      features,
      /capgen: error: .*: no space left on the device \(ENOSPC.*\(free some space or write the run folder elsewhere/,
    );
    expect(await tempFilesIn(small)).toEqual([]);

    const tiny = path.join(root, 'tiny');
    expect(mountTmpfs(tiny, 16)).toBe(true); // captions.jsonl is ~38 KiB
    const captions = await runCli(['prepare', '--data', data, '--encoder', 'none', '--out', path.join(tiny, 'run')]);
    expectOneLineError(captions, /no space left on the device/);
    expect(await tempFilesIn(tiny)).toEqual([]);
  }, 120_000);

  it('train and eval on a full disk: exit 2; eval keeps the previous metrics, predictions and report together', async () => {
    const disk = path.join(root, 'disk');
    expect(mountTmpfs(disk, 2048)).toBe(true);
    const run = path.join(disk, 'run');
    const prepared = await runCli(['prepare', '--data', data, '--encoder', 'seeded-cnn', '--out', run]);
    expect(prepared.code, prepared.stderr).toBe(0);
    const trained = await runCli(['train', '--run', run, '--epochs', '1', ...SMALL_TRAIN]);
    expect(trained.code, trained.stderr).toBe(0);
    const first = await runCli(['eval', '--run', run, '--split', 'test', '--no-thumbnails']);
    expect(first.code, first.stderr).toBe(0);
    const evalDir = path.join(run, 'eval');
    const before = await Promise.all(
      ['metrics.json', 'predictions.jsonl', 'report.html'].map((f) => fs.readFile(path.join(evalDir, f), 'utf8')),
    );

    fillUp(disk);
    expectOneLineError(
      await runCli(['eval', '--run', run, '--split', 'test', '--beam-size', '2', '--no-thumbnails']),
      /no space left on the device/,
    );
    const after = await Promise.all(
      ['metrics.json', 'predictions.jsonl', 'report.html'].map((f) => fs.readFile(path.join(evalDir, f), 'utf8')),
    );
    expect(after).toEqual(before);
    expectOneLineError(await runCli(['train', '--run', run, '--resume', '--epochs', '2']), /no space left on the device/);
    expect(await tempFilesIn(disk)).toEqual([]);
  }, 120_000);
});
