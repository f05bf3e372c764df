// examples/kubernetes/prepare-job.yaml cannot run here (no cluster): this checks what can be checked
// offline. It parses (PyYAML, when python3 has it; else a line check), it is an Indexed Job on a
// shared volume whose shard count matches --shard, and its capgen command line is the Slurm
// recipe's, which test/cluster/slurm.test.ts runs for real, with the same merge step after it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { K8S_PREPARE, SLOTS, SLURM_MERGE, SLURM_PREPARE, sbatchTemplate } from './recipe.js';

interface Container {
  command: string[];
  volumeMounts: { name: string; mountPath: string }[];
}
interface JobDoc {
  kind: string;
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    completionMode?: string;
    completions: number;
    parallelism?: number;
    template: { spec: { containers: Container[]; volumes: { name: string; persistentVolumeClaim?: { claimName: string } }[] } };
  };
}

function parseYaml(file: string): JobDoc[] | undefined {
  try {
    const json = execFileSync(
      'python3',
      ['-c', 'import json, sys, yaml; json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)', file],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    return JSON.parse(json) as JobDoc[];
  } catch {
    return undefined;
  }
}

/** The container's capgen arguments with the dataset, run, index, count and flags as SLOTS. */
function template(command: string[], count?: number): string[] {
  expect(command[0]).toBe('capgen');
  const out: string[] = [];
  let i = 1;
  for (; i < command.length; i++) {
    const word = command[i];
    const previous = command[i - 1];
    if (previous === '--data') out.push(SLOTS.data);
    else if (previous === '--out') out.push(SLOTS.run);
    else if (previous === '--shard') {
      expect(word).toBe(`$(JOB_COMPLETION_INDEX)/${count}`);
      out.push(`${SLOTS.index}/${SLOTS.count}`);
    } else if (word === 'prepare' || word === '--data' || word === '--out' || word === '--shard') out.push(word);
    else break;
  }
  if (i < command.length) out.push(SLOTS.flags);
  return out;
}

describe('examples/kubernetes/prepare-job.yaml', () => {
  const docs = parseYaml(K8S_PREPARE);
  if (!docs) process.stderr.write('note: python3 with PyYAML is missing: prepare-job.yaml gets a line check only\n');

  it.skipIf(!docs)(
    'an Indexed Job (completions = the shard count) and a merge Job, on one shared volume, running the Slurm recipe’s command',
    () => {
      const [shards, merge] = docs as JobDoc[];
      expect(docs).toHaveLength(2);
      expect(shards.kind).toBe('Job');
      expect(shards.spec.completionMode).toBe('Indexed');
      expect(shards.spec.parallelism).toBeGreaterThan(0);
      const shard = shards.spec.template.spec.containers[0];
      const mergeContainer = merge.spec.template.spec.containers[0];
      expect(template(shard.command, shards.spec.completions)).toEqual(sbatchTemplate(SLURM_PREPARE));
      expect(template(mergeContainer.command)).toEqual(sbatchTemplate(SLURM_MERGE));
      // The same dataset, run folder and flags in both Jobs: only --shard differs.
      const withoutShard = shard.command.filter((w, i) => w !== '--shard' && shard.command[i - 1] !== '--shard');
      expect(mergeContainer.command).toEqual(withoutShard);
      // Both mount one PersistentVolumeClaim at the folder the paths are in.
      for (const job of [shards, merge]) {
        const spec = job.spec.template.spec;
        const claim = spec.volumes[0].persistentVolumeClaim?.claimName;
        expect(claim).toBe(shards.spec.template.spec.volumes[0].persistentVolumeClaim?.claimName);
        const mount = spec.containers[0].volumeMounts[0].mountPath;
        for (const flag of ['--data', '--out'])
          expect(spec.containers[0].command[spec.containers[0].command.indexOf(flag) + 1].startsWith(`${mount}/`)).toBe(true);
      }
      expect(shards.metadata.labels['capgen-step']).toBe('shards');
      expect(merge.metadata.labels['capgen-step']).toBe('merge');
    },
  );

  it('the line check: the keys an Indexed Job needs are there', () => {
    const text = readFileSync(K8S_PREPARE, 'utf8');
    expect(text).toMatch(/^\s+completionMode: Indexed$/m);
    expect(text).toMatch(/^\s+- \$\(JOB_COMPLETION_INDEX\)\/\d+$/m);
    expect(text).toMatch(/^\s+persistentVolumeClaim:$/m);
  });

  it('the Slurm recipes pass --shard from the array task id and count, and the merge is the same line without it', () => {
    expect(sbatchTemplate(SLURM_PREPARE)).toEqual([
      'prepare',
      '--data',
      SLOTS.data,
      '--out',
      SLOTS.run,
      '--shard',
      `${SLOTS.index}/${SLOTS.count}`,
      SLOTS.flags,
    ]);
    expect(sbatchTemplate(SLURM_MERGE)).toEqual(['prepare', '--data', SLOTS.data, '--out', SLOTS.run, SLOTS.flags]);
  });
});
