// The capgen command line of the job-array recipes, read from the files themselves, so that the
// Slurm test (which runs examples/slurm/prepare.sbatch) and the Kubernetes test (which can only read
// examples/kubernetes/prepare-job.yaml) compare the same thing.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../helpers.js';

export const SLURM_PREPARE = path.join(REPO_ROOT, 'examples', 'slurm', 'prepare.sbatch');
export const SLURM_MERGE = path.join(REPO_ROOT, 'examples', 'slurm', 'merge.sbatch');
export const K8S_PREPARE = path.join(REPO_ROOT, 'examples', 'kubernetes', 'prepare-job.yaml');

/** A recipe's capgen arguments with its own variables replaced by these names. */
export const SLOTS = { data: '<DATA>', run: '<RUN>', index: '<INDEX>', count: '<COUNT>', flags: '<FLAGS...>' } as const;

/** The arguments after `capgen` on the sbatch script's exec line, variables as SLOTS. */
export function sbatchTemplate(file: string): string[] {
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => /^exec \$\{CAPGEN:-capgen\} /.test(l));
  if (!line) throw new Error(`${file}: no \`exec \${CAPGEN:-capgen} ...\` line`);
  return line
    .replace(/^exec \$\{CAPGEN:-capgen\} /, '')
    .split(/\s+/)
    .map((word) =>
      word
        .replace(/"/g, '')
        .replace('$DATA', SLOTS.data)
        .replace('$RUN', SLOTS.run)
        .replace('$SLURM_ARRAY_TASK_ID', SLOTS.index)
        .replace('$SLURM_ARRAY_TASK_COUNT', SLOTS.count)
        .replace('$@', SLOTS.flags),
    );
}
