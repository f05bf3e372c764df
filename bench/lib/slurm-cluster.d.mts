// Types of bench/lib/slurm-cluster.mjs, for test/cluster/slurm.test.ts.
export function slurmUnavailable(): string | undefined;
export interface SlurmCluster {
  conf: string;
  env: { SLURM_CONF: string };
  stop(): Promise<void>;
}
export function startSlurmCluster(root: string, options?: { timeoutMs?: number }): Promise<SlurmCluster>;
