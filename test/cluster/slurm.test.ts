// examples/slurm/prepare.sbatch run for real: a one-node Slurm cluster (munged, slurmctld, slurmd)
// started from a generated slurm.conf in a temp folder (bench/lib/slurm-cluster.mjs), the recipe
// submitted as a 2-task job array with `sbatch --wait`, the merge chained with --dependency=afterok,
// and the run's feature cache compared byte for byte with a one-process prepare. Only the daemons
// started here are stopped, by the PIDs in their pid files. Needs root and Debian's slurmctld, slurmd,
// slurm-client and munge (.ci/run installs them); elsewhere it skips and says so.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { slurmUnavailable, startSlurmCluster, type SlurmCluster } from '../../bench/lib/slurm-cluster.mjs';
import { BIN, runCli, skipWithout } from '../helpers.js';
import { SLURM_MERGE, SLURM_PREPARE } from './recipe.js';

/** The flags the recipe passes on to prepare: the offline synthetic dataset's encoder, small batches. */
const FLAGS = ['--encoder', 'seeded-cnn', '--batch-size', '4'];

const cacheDirOf = (root: string) => path.join(root, readdirSync(root).filter((n) => !n.startsWith('.'))[0]);

const IS_ROOT = process.getuid?.() === 0;
const why = slurmUnavailable();
if (!IS_ROOT) process.stderr.write(`note: test/cluster/slurm.test.ts skipped: ${why}\n`);
// As root (CI runs as root and .ci/run installs Slurm), missing Slurm fails with CI set.
const skip = !IS_ROOT || !existsSync(BIN) || skipWithout(why === undefined, 'Slurm', why ?? '');

describe.skipIf(skip)('examples/slurm on a one-node Slurm cluster', () => {
  // Not tempDir(): the daemons must be stopped before their folder goes.
  const root = mkdtempSync(path.join(os.tmpdir(), 'capgen-slurm-'));
  let cluster: SlurmCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('sbatch --array=0-1 prepare.sbatch, then merge.sbatch after it: the cache is byte-identical to one process', async () => {
    cluster = await startSlurmCluster(root);
    const gen = await runCli(['prepare', '--dataset', 'synthetic', '--count', '40', '--encoder', 'none', '--out', path.join(root, 'gen')]);
    expect(gen.code, gen.stderr).toBe(0);
    const data = path.join(root, 'gen', 'dataset');
    const run = path.join(root, 'run');
    // The job's environment is the submitter's (sbatch exports it): the built CLI, on WASM.
    const jobEnv = { ...process.env, ...cluster.env, CAPGEN: `${process.execPath} ${BIN}`, CAPGEN_BACKEND: 'wasm' };
    const sbatch = (args: string[]) =>
      execFileSync('sbatch', ['--parsable', '--wait', `--chdir=${root}`, ...args], { env: jobEnv, encoding: 'utf8' }).trim();
    const arrayJob = sbatch(['--array=0-1', `--output=${path.join(root, 'shard-%A_%a.out')}`, SLURM_PREPARE, data, run, ...FLAGS]);
    const shardLogs = [0, 1].map((i) => readFileSync(path.join(root, `shard-${arrayJob}_${i}.out`), 'utf8'));
    expect(shardLogs[0]).toMatch(/prepared shard 0\/2 of /);
    expect(shardLogs[1]).toMatch(/prepared shard 1\/2 of /);
    const mergeJob = sbatch([
      `--dependency=afterok:${arrayJob}`,
      `--output=${path.join(root, 'merge-%j.out')}`,
      SLURM_MERGE,
      data,
      run,
      ...FLAGS,
    ]);
    expect(readFileSync(path.join(root, `merge-${mergeJob}.out`), 'utf8')).toMatch(/\(0 computed, 40 reused\)/);

    const one = path.join(root, 'one');
    const reference = await runCli(['prepare', '--data', data, '--out', one, ...FLAGS]);
    expect(reference.code, reference.stderr).toBe(0);
    for (const file of ['vectors.bin', 'index.jsonl']) {
      expect(readFileSync(path.join(cacheDirOf(path.join(run, 'features')), file))).toEqual(
        readFileSync(path.join(cacheDirOf(path.join(one, 'features')), file)),
      );
    }
  }, 300_000);
});
