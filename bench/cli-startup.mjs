// How long `capgen --version`, `capgen --help` and every `capgen <command> --help` take, end to end
// (a fresh `node bin/capgen.js` each time, as a user's shell runs it). The target is under 0.5 s each:
// the commands load their stages (TensorFlow.js, ONNX Runtime, ...) only inside their actions.
// Options: --runs N (default 10; the median and the slowest are printed). Needs `npm run build` first.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TARGET_MS = 500;
const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(here, '..', 'bin', 'capgen.js');
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 10;

function timeMs(args) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`capgen ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

const { buildProgram } = await import(path.join(here, '..', 'dist', 'cli', 'main.js'));
const commands = buildProgram().commands.map((c) => c.name());
const cases = [['--version'], ['--help'], ...commands.map((c) => [c, '--help'])];

console.log(
  `load average before: ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}; ${runs} runs each; Node ${process.version}`,
);
let over = 0;
for (const args of cases) {
  const times = Array.from({ length: runs }, () => timeMs(args).ms).sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const slowest = times[times.length - 1];
  if (median > TARGET_MS) over++;
  console.log(
    `capgen ${args.join(' ').padEnd(16)} median ${median.toFixed(0).padStart(5)} ms, slowest ${slowest.toFixed(0).padStart(5)} ms${median > TARGET_MS ? `  OVER ${TARGET_MS} ms` : ''}`,
  );
}
console.log(
  `load average after: ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
process.exitCode = over ? 1 : 0;
