// The decoding flags of the captioning commands come from one definition (src/cli/options.ts
// decodingOptions): the same help and the same accepted range in caption, eval, serve and export.
import type { Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { captionCommand } from '../../src/cli/caption.js';
import { evalCommand } from '../../src/cli/eval.js';
import { exportCommand } from '../../src/cli/export.js';
import { serveCommand } from '../../src/cli/serve.js';

const COMMANDS: [string, () => Command][] = [
  ['caption', captionCommand],
  ['eval', evalCommand],
  ['serve', serveCommand],
  ['export', exportCommand],
];

function option(cmd: Command, long: string): Option {
  const found = cmd.options.find((o) => o.long === long);
  if (!found) throw new Error(`${cmd.name()} has no ${long}`);
  return found;
}

/** What the option's parser makes of a value: the number, or 'refused'. */
function parse(o: Option, value: string): number | 'refused' {
  try {
    return (o.parseArg as (v: string, previous: unknown) => number)(value, undefined);
  } catch {
    return 'refused';
  }
}

describe('decoding flags', () => {
  it.each(COMMANDS)('%s: --length-penalty and --block-ngrams as every captioning command has them', (_name, make) => {
    const cmd = make();
    const penalty = option(cmd, '--length-penalty');
    expect(penalty.description).toBe('beam ranking: log-probability / length^alpha (0 = total log-probability)');
    expect(penalty.defaultValue).toBe(0.5);
    expect(['0', '0.7', '5', '6', '-1'].map((v) => parse(penalty, v))).toEqual([0, 0.7, 5, 'refused', 'refused']);
    const block = option(cmd, '--block-ngrams');
    expect(block.defaultValue).toBe(2);
    expect(['0', '3', '11', '-1'].map((v) => parse(block, v))).toEqual([0, 3, 'refused', 'refused']);
    const beam = option(cmd, '--beam-size');
    expect(['0', '1', '3'].map((v) => parse(beam, v))).toEqual(['refused', 1, 3]);
  });

  it('--beam-size: the same widest beam everywhere but serve (whose requests are bounded lower)', () => {
    const widest = (make: () => Command) => (parse(option(make(), '--beam-size'), '100') === 100 ? 100 : 'lower');
    expect(COMMANDS.map(([name, make]) => [name, widest(make)])).toEqual([
      ['caption', 100],
      ['eval', 100],
      ['serve', 'lower'],
      ['export', 100],
    ]);
  });
});
