// examples/slurm/prepare.sbatch run for real: a one-node Slurm cluster (munged, slurmctld, slurmd)
// started from a generated slurm.conf in a temp folder, the recipe submitted as a 2-task job array
// with `sbatch --wait`, the merge chained with --dependency=afterok, and the run's feature cache
// compared byte for byte with a one-process prepare. Only the daemons started here are stopped, by
// the PIDs in their pid files. Needs root and Debian's slurmctld, slurmd, slurm-client and munge
// (.ci/run installs them); elsewhere it skips and says so.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, runCli, skipWithout } from '../helpers.js';
import { SLURM_MERGE, SLURM_PREPARE } from './recipe.js';

const DAEMONS = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'sinfo', 'runuser'];

function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const IS_ROOT = process.getuid?.() === 0;
const missing = DAEMONS.filter((d) => !onPath(d));
/** The flags the recipe passes on to prepare: the offline synthetic dataset's encoder, small batches. */
const FLAGS = ['--encoder', 'seeded-cnn', '--batch-size', '4'];

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const cacheDirOf = (root: string) => path.join(root, readdirSync(root).filter((n) => !n.startsWith('.'))[0]);

if (!IS_ROOT) process.stderr.write('note: test/cluster/slurm.test.ts: not root, so no Slurm daemons can be started here: skipped\n');
const skip =
  !IS_ROOT ||
  !existsSync(BIN) ||
  skipWithout(missing.length === 0, 'Slurm (apt-get install slurmctld slurmd slurm-client munge)', `not found: ${missing.join(', ')}`);

describe.skipIf(skip)('examples/slurm on a one-node Slurm cluster', () => {
  // Not tempDir(): the daemons must be stopped before their folder goes.
  const root = mkdtempSync(path.join(os.tmpdir(), 'capgen-slurm-'));
  chmodSync(root, 0o755); // munged and the job (root here) must reach into it
  const pidFiles: string[] = [];
  afterAll(async () => {
    // Only what this test started, by pid, in reverse order; then wait for them to go.
    const pids = pidFiles
      .reverse()
      .filter((f) => existsSync(f))
      .map((f) => Number(readFileSync(f, 'utf8').trim()))
      .filter((pid) => Number.isInteger(pid) && pid > 1);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await waitUntil('the Slurm daemons to stop', () => pids.every((p) => !pidAlive(p)), 20_000).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  const conf = path.join(root, 'slurm.conf');
  const env = { SLURM_CONF: conf };

  it('starts munged, slurmctld and slurmd from a generated slurm.conf; the node comes up idle', async () => {
    const munge = path.join(root, 'munge');
    mkdirSync(munge, { mode: 0o755 }); // munged wants its socket's folder executable by all
    execFileSync('chown', ['munge:munge', munge]);
    const key = path.join(munge, 'munge.key');
    writeFileSync(key, randomBytes(1024), { mode: 0o400 });
    execFileSync('chown', ['munge:munge', key]);
    const socket = path.join(munge, 'munge.socket');
    pidFiles.push(path.join(munge, 'munged.pid'));
    execFileSync('runuser', [
      '-u',
      'munge',
      '--',
      'munged',
      `--socket=${socket}`,
      `--key-file=${key}`,
      `--pid-file=${path.join(munge, 'munged.pid')}`,
      `--log-file=${path.join(munge, 'munged.log')}`,
      `--seed-file=${path.join(munge, 'munged.seed')}`,
    ]);
    for (const d of ['state', 'spool', 'log']) mkdirSync(path.join(root, d));
    const host = os.hostname();
    // Ports away from the defaults (6817/6818), so that a cluster already on this machine is left alone.
    const port = 20000 + Math.floor(Math.random() * 20000);
    writeFileSync(
      conf,
      [
        'ClusterName=capgen-test',
        `SlurmctldHost=${host}`,
        'AuthType=auth/munge',
        'CredType=cred/munge',
        `AuthInfo=socket=${socket}`,
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_Core',
        'SlurmUser=root',
        'SlurmdUser=root',
        `SlurmctldPort=${port}`,
        `SlurmdPort=${port + 1}`,
        `StateSaveLocation=${path.join(root, 'state')}`,
        `SlurmdSpoolDir=${path.join(root, 'spool')}`,
        `SlurmctldPidFile=${path.join(root, 'slurmctld.pid')}`,
        `SlurmdPidFile=${path.join(root, 'slurmd.pid')}`,
        `SlurmctldLogFile=${path.join(root, 'log', 'slurmctld.log')}`,
        `SlurmdLogFile=${path.join(root, 'log', 'slurmd.log')}`,
        'ReturnToService=2',
        'MpiDefault=none',
        'JobAcctGatherType=jobacct_gather/none',
        'AccountingStorageType=accounting_storage/none',
        `NodeName=${host} CPUs=${os.availableParallelism()} State=UNKNOWN`,
        `PartitionName=capgen Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
        '',
      ].join('\n'),
    );
    pidFiles.push(path.join(root, 'slurmctld.pid'));
    execFileSync('slurmctld', ['-f', conf]);
    pidFiles.push(path.join(root, 'slurmd.pid'));
    execFileSync('slurmd', ['-f', conf]);
    await waitUntil(
      'sinfo to show the node idle',
      () => {
        try {
          return execFileSync('sinfo', ['-h', '-o', '%T'], { env: { ...process.env, ...env }, encoding: 'utf8' }).trim() === 'idle';
        } catch {
          return false;
        }
      },
      60_000,
    );
  }, 90_000);

  it('sbatch --array=0-1 prepare.sbatch, then merge.sbatch after it: the cache is byte-identical to one process', async () => {
    expect(existsSync(conf)).toBe(true); // the cluster of the first test
    const gen = await runCli(['prepare', '--dataset', 'synthetic', '--count', '40', '--encoder', 'none', '--out', path.join(root, 'gen')]);
    expect(gen.code, gen.stderr).toBe(0);
    const data = path.join(root, 'gen', 'dataset');
    const run = path.join(root, 'run');
    // The job's environment is the submitter's (sbatch exports it): the built CLI, on WASM.
    const jobEnv = { ...process.env, ...env, CAPGEN: `${process.execPath} ${BIN}`, CAPGEN_BACKEND: 'wasm' };
    const sbatch = (args: string[]) =>
      execFileSync('sbatch', ['--parsable', '--wait', `--chdir=${root}`, ...args], { env: jobEnv, encoding: 'utf8' }).trim();
    const arrayJob = sbatch(['--array=0-1', `--output=${path.join(root, 'shard-%A_%a.out')}`, SLURM_PREPARE, data, run, ...FLAGS]);
    const shardLogs = [0, 1].map((i) => readFileSync(path.join(root, `shard-${arrayJob}_${i}.out`), 'utf8'));
    expect(shardLogs[0]).toMatch(/prepared shard 0\/2 of /);
    expect(shardLogs[1]).toMatch(/prepared shard 1\/2 of /);
    sbatch([`--dependency=afterok:${arrayJob}`, `--output=${path.join(root, 'merge-%j.out')}`, SLURM_MERGE, data, run, ...FLAGS]);
    const mergeLog = readFileSync(path.join(root, readdirSync(root).find((n) => n.startsWith('merge-')) as string), 'utf8');
    expect(mergeLog).toMatch(/\(0 computed, 40 reused\)/);

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
