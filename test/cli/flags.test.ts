// One meaning per flag: a long flag that two commands share means the same thing in both (the table
// below says what, and every command's help text must say it), the run folder is always --run, --out is
// always the command's own output, and old spellings are hidden aliases that still work with a note.
import path from 'node:path';
import type { Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { runCli, tempDir } from '../helpers.js';

/**
 * Every long flag used by more than one command, with the meaning its help text must carry in each.
 * A new shared flag needs a row here: that is the moment to check it means the same everywhere.
 */
const SHARED_MEANINGS: Record<string, { meaning: string; help: RegExp }> = {
  '--run': { meaning: 'the run folder', help: /^run folder/ },
  '--out': { meaning: "the command's own output (never the run folder)", help: /^(?!.*run folder\b(?! ?\/))(folder|file|output|write)/i },
  '--checkpoint': { meaning: 'a checkpoint folder instead of <run>/train/best', help: /^checkpoint folder/ },
  '--backend': { meaning: 'the TensorFlow.js compute backend', help: /^compute backend/ },
  '--engine': { meaning: 'what runs the computation: onnx, tfjs or auto', help: /^what runs the .*onnx.*tfjs.*auto/ },
  '--batch-size': {
    meaning: 'how many items one call or step handles, naming the items and the call',
    help: /^(images|captions) per (encoder call|model call|training step)/,
  },
  '--features-dtype': { meaning: 'number type of the image features', help: /^number type of the image features/ },
  '--beam-size': { meaning: 'beam width (1 = greedy)', help: /beam width|decoding .*1 = greedy/ },
  '--length-penalty': { meaning: 'beam ranking by log-probability / length^alpha', help: /log-probability \/ length\^alpha/ },
  '--block-ngrams': { meaning: 'no N words in a row twice in a caption', help: /^no N words in a row twice/ },
  '--json': { meaning: 'JSON on stdout instead of text', help: /JSON on stdout/ },
  '--seed': { meaning: 'the random seed', help: /^seed/ },
  '--count': { meaning: 'how many synthetic images to generate', help: /^synthetic (images|scenes) to generate/ },
  '--epochs': { meaning: 'training epochs', help: /epochs/ },
  '--overwrite': { meaning: 'replace an existing output instead of refusing', help: /^replace .*refuses/ },
  '--encoder': { meaning: 'the image encoder (prepare: which; caption/serve: where its file is now)', help: /encoder/ },
  '--format': { meaning: 'file format (prepare: of the captions read; export: of the files written)', help: /format|tfjs/ },
  // Flags other work adds to several commands: the same meaning wherever they appear.
  '--shard': { meaning: 'this process handles shard I of N of the inputs', help: /shard/i },
  '--list': { meaning: 'list instead of running', help: /^list/i },
};

const visibleLongOptions = (c: Command): Option[] => c.options.filter((o: Option) => !o.hidden && o.long !== undefined);

describe('flags across commands', () => {
  const program = buildProgram();

  it('a flag shared by two commands is in the table and means the same in each', () => {
    const users = new Map<string, Command[]>();
    for (const c of program.commands) for (const o of visibleLongOptions(c)) users.set(o.long!, [...(users.get(o.long!) ?? []), c]);
    const shared = [...users].filter(([, cs]) => cs.length > 1);
    expect(shared.length).toBeGreaterThan(10);
    const unknown = shared.map(([flag]) => flag).filter((flag) => !(flag in SHARED_MEANINGS));
    expect(unknown, 'shared flags without a meaning in SHARED_MEANINGS').toEqual([]);
    const mismatched = shared.flatMap(([flag, cs]) =>
      cs
        .map((c) => `${c.name()} ${flag}: ${c.options.find((o: Option) => o.long === flag)!.description}`)
        .filter((line) => !SHARED_MEANINGS[flag].help.test(line.slice(line.indexOf(': ') + 2))),
    );
    expect(mismatched).toEqual([]);
  });

  it('every command that reads or writes a run folder takes --run, and no command calls it anything else', () => {
    for (const c of program.commands) {
      expect(
        visibleLongOptions(c).map((o) => o.long),
        c.name(),
      ).toContain('--run');
      for (const o of visibleLongOptions(c))
        if (o.long !== '--run') expect(o.description, `${c.name()} ${o.long}`).not.toMatch(/^run folder/);
    }
  });

  it('hidden options are old spellings of a visible flag of the same command', () => {
    for (const c of program.commands) {
      for (const o of c.options.filter((x: Option) => x.hidden)) {
        const target = o.description.match(/^deprecated spelling of (--[\w-]+)$/)?.[1];
        expect(target, `${c.name()} ${o.long}`).toBeDefined();
        expect(visibleLongOptions(c).map((v) => v.long)).toContain(target);
      }
    }
  });

  it('old spellings still work, with a deprecation note naming the new flag; two different values are refused', async () => {
    const dir = tempDir();
    const missing = path.join(dir, 'no-such-dataset');
    const old = await runCli([
      'prepare',
      '--data',
      missing,
      '--dtype',
      'float16',
      '--split',
      '0.5,0.25,0.25',
      '--out',
      path.join(dir, 'run'),
    ]);
    expect(old.stderr).toContain('warning: prepare --dtype is deprecated: use --features-dtype');
    expect(old.stderr).toContain('warning: prepare --split is deprecated: use --split-shares');
    expect(old.stderr).toContain('warning: prepare --out is deprecated: use --run');
    expect(old.code).toBe(2); // the dataset is missing: the flags themselves were accepted
    expect(old.stderr).toContain(missing);
    const both = await runCli(['prepare', '--data', missing, '--run', path.join(dir, 'a'), '--out', path.join(dir, 'b')]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--run .* and --out .* disagree/);
  });
});
