// A one-node Slurm cluster for tests and benchmarks: munged, slurmctld and slurmd started as root
// from a slurm.conf generated in a temp folder (ports away from the defaults, so a cluster already on
// the machine is left alone), and stopped by the PIDs in their own pid files: nothing else is touched.
// Used by test/cluster/slurm.test.ts and bench/prepare-shards.mjs. (In bench/lib/ so that
// bench/run.js, which runs every bench/*.mjs, does not run it as a benchmark.)
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const NEEDED = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'sinfo', 'runuser'];

function onPath(command) {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why no cluster can be started here (not root, commands missing), or undefined when one can. */
export function slurmUnavailable() {
  if (process.getuid?.() !== 0) return 'not root, so no Slurm daemons can be started here';
  const missing = NEEDED.filter((c) => !onPath(c));
  return missing.length ? `not found: ${missing.join(', ')} (apt-get install slurmctld slurmd slurm-client munge)` : undefined;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts the cluster in `root` (an existing folder whose parents the munge user can enter) and waits until
 * `sinfo` shows the node idle. Returns the slurm.conf path, the environment the Slurm commands need,
 * and stop(), which ends the three daemons it started (by pid) and waits for them to go.
 */
export async function startSlurmCluster(root, { timeoutMs = 60_000 } = {}) {
  const pidFiles = [];
  const stop = async () => {
    const pids = [...pidFiles]
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
    const deadline = Date.now() + 20_000;
    while (pids.some(pidAlive) && Date.now() < deadline) await sleep(100);
  };
  try {
    execFileSync('chmod', ['755', root]); // munged and the jobs reach into it
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
    const port = 20000 + Math.floor(Math.random() * 20000);
    const conf = path.join(root, 'slurm.conf');
    writeFileSync(
      conf,
      [
        'ClusterName=capgen-local',
        `SlurmctldHost=${host}`,
        'AuthType=auth/munge',
        'CredType=cred/munge',
        `AuthInfo=socket=${socket}`,
        'ProctrackType=proctrack/linuxproc', // no cgroup set-up needed in a container
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
    const env = { SLURM_CONF: conf };
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let state = '';
      try {
        state = execFileSync('sinfo', ['-h', '-o', '%T'], { env: { ...process.env, ...env }, encoding: 'utf8' }).trim();
      } catch {
        // slurmctld not answering yet
      }
      if (state === 'idle') break;
      if (Date.now() > deadline)
        throw new Error(`the Slurm node did not come up idle (sinfo: ${state || 'no answer'}); logs in ${root}/log`);
      await sleep(250);
    }
    return { conf, env, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
