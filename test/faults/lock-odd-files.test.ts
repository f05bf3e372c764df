// The lock file in odd states: a folder with its name (was: exit 1 EISDIR), a disk too full to
// write it (was: an empty lock left behind and an error naming no file), and temp files of atomic
// writes left by kill -9 or a second Ctrl-C, cleaned by the next command that takes the lock alone.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeLeftoverTemps } from '../../src/io/atomic.js';
import { acquireRunLock, LOCK_FILE } from '../../src/run/lock.js';
import { BIN, runCli, tempDir } from '../helpers.js';
import { expectOneLineError, prepareSynthetic } from './fixtures.js';

const CAN_MOUNT = process.getuid?.() === 0;
if (!CAN_MOUNT)
  process.stderr.write('note: test/faults/lock-odd-files.test.ts: not root, so no tmpfs to fill: the full-disk lock test is skipped\n');

describe('lock file in odd states', () => {
  const root = tempDir('capgen-lockodd-');

  it('a folder named like the lock file: a one-line usage error naming it, and the folder is left alone', () => {
    const run = path.join(root, 'dir-lock');
    mkdirSync(path.join(run, LOCK_FILE, 'inside'), { recursive: true });
    expect(() => acquireRunLock(run, 'train')).toThrow(
      expect.objectContaining({ code: 'USAGE', file: path.join(run, LOCK_FILE), message: expect.stringMatching(/is not a file/) }),
    );
    expect(existsSync(path.join(run, LOCK_FILE, 'inside'))).toBe(true);
    expect(readdirSync(run)).toEqual([LOCK_FILE]); // no temp file left beside it
  });

  it.skipIf(!existsSync(BIN))(
    'the CLI: exit 2, one line',
    async () => {
      const run = path.join(root, 'dir-lock-cli');
      mkdirSync(path.join(run, LOCK_FILE), { recursive: true });
      expectOneLineError(
        await runCli(['prepare', '--dataset', 'synthetic', '--count', '5', '--encoder', 'none', '--out', run]),
        /\.capgen\.lock: the lock file is not a file/,
      );
    },
    60_000,
  );

  it('temp files of killed atomic writes are removed (exactly the names atomic.ts makes); an .old folder whose target is gone is put back', () => {
    const run = path.join(root, 'leftovers');
    const train = path.join(run, 'train');
    const made = [
      path.join(train, '.best.0a1b2c3d.tmp', 'weights.bin'),
      path.join(train, '.last.deadbeef.tmp', 'optimizer.bin'),
      path.join(train, '.history.json.12345678.tmp'),
      path.join(run, 'export', '.ex_web.abcdef01.tmp', 'index.html'),
      path.join(run, 'features', 'k', '.cache.json.00000000.tmp'),
    ];
    const kept = [
      path.join(train, 'best', 'weights.bin'),
      path.join(run, 'notes.tmp'), // not a capgen name
      path.join(run, '.mine.xyz.tmp'), // not 8 hex digits
      path.join(run, 'best.0a1b2c3d.tmp'), // not hidden
    ];
    for (const f of [...made, ...kept]) {
      mkdirSync(path.dirname(f), { recursive: true });
      writeFileSync(f, 'x');
    }
    // Killed between replaceDirAtomic's two renames: the old last/ is aside and last/ is missing.
    const old = path.join(train, '.last.feedf00d.tmp.old');
    mkdirSync(old);
    writeFileSync(path.join(old, 'checkpoint.json'), 'previous');

    const lock = acquireRunLock(run, 'train');
    lock.release();
    for (const f of made) expect(existsSync(f), f).toBe(false);
    expect(existsSync(path.join(train, '.best.0a1b2c3d.tmp'))).toBe(false);
    for (const f of kept) expect(existsSync(f), f).toBe(true);
    expect(existsSync(path.join(train, 'last', 'checkpoint.json'))).toBe(true);
    expect(existsSync(old)).toBe(false);
    expect(removeLeftoverTemps(run)).toBe(0);
  });

  it('a shard writer leaves temp files alone (other shards may be writing them)', () => {
    const run = path.join(root, 'shard-temps');
    const temp = path.join(run, 'features', 'k', 'shards', '1-of-2', '.cache.json.0a1b2c3d.tmp');
    mkdirSync(path.dirname(temp), { recursive: true });
    writeFileSync(temp, 'x');
    acquireRunLock(run, 'prepare --shard 0/2', { shard: { index: 0, count: 2 } }).release();
    expect(existsSync(temp)).toBe(true);
  });

  it.skipIf(!existsSync(BIN))(
    'the next command that takes the lock cleans up (CLI)',
    async () => {
      const run = path.join(root, 'cli-leftovers');
      await prepareSynthetic(run, ['--encoder', 'none']);
      const temp = path.join(run, 'train', '.best.0a1b2c3d.tmp');
      mkdirSync(temp, { recursive: true });
      writeFileSync(path.join(temp, 'weights.bin'), 'partial');
      const r = await runCli(['prepare', '--data', path.join(run, 'dataset'), '--encoder', 'none', '--out', run]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/removed 1 temp file left by an interrupted capgen/);
      expect(existsSync(temp)).toBe(false);
    },
    60_000,
  );
});

describe.skipIf(!CAN_MOUNT || !existsSync(BIN))('lock on a full disk (tmpfs)', () => {
  // Not tempDir(): its clean-up would run before the unmount.
  const root = mkdtempSync(path.join(os.tmpdir(), 'capgen-lockfull-'));
  let mounted = false;
  afterAll(() => {
    if (mounted) execFileSync('umount', [root]);
    rmSync(root, { recursive: true, force: true });
  });

  it('exit 2 naming the lock file, and no empty lock left behind', async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', root]);
    mounted = true;
    const run = path.join(root, 'run');
    mkdirSync(run);
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${path.join(root, 'filler')}`, 'bs=4k'], { stdio: 'ignore' });
    } catch {
      // dd stops with ENOSPC: that is the point
    }
    const r = await runCli(['prepare', '--dataset', 'synthetic', '--count', '5', '--encoder', 'none', '--out', run]);
    expectOneLineError(r, new RegExp(`${run}/\\.capgen\\.lock: no space left on the device`));
    expect(readdirSync(run)).toEqual([]);
  }, 60_000);
});
