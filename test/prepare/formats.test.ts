// The dataset formats come from one list (the descriptors in src/prepare/readers/): detection order,
// --format's choices, `prepare --help` and README's list all agree with it.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepareCommand } from '../../src/cli/prepare.js';
import { DATASET_FORMATS, DATASET_READERS, formatsMarkdown } from '../../src/prepare/formats.js';
import { REPO_ROOT } from '../helpers.js';

const README = path.join(REPO_ROOT, 'README.md');
const BEGIN = '<!-- formats:begin -->\n';
const END = '<!-- formats:end -->';

function readmeSection(text: string): string {
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${BEGIN.trim()} ... ${END} section`);
  return text.slice(start + BEGIN.length, end);
}

describe('dataset formats', () => {
  it('every reader file that exports a descriptor is a format, in rank order, names unique', async () => {
    const dir = path.join(REPO_ROOT, 'src', 'prepare', 'readers');
    const withDescriptor: string[] = [];
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const mod = (await import(path.join(dir, f))) as { datasetFormat?: { name: string } };
      if (mod.datasetFormat) withDescriptor.push(mod.datasetFormat.name);
    }
    expect([...DATASET_FORMATS].sort()).toEqual(withDescriptor.sort());
    expect(DATASET_FORMATS.slice(0, 4)).toEqual(['flickr8k', 'kaggle', 'flickr30k', 'karpathy']);
    const ranks = DATASET_READERS.map((r) => r.rank);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
  });

  it("--format's choices and prepare --help list every format with its help line", () => {
    const cmd = prepareCommand();
    const format = cmd.options.find((o) => o.long === '--format');
    expect(format?.argChoices).toEqual([...DATASET_FORMATS]);
    let help = '';
    cmd.configureOutput({ writeOut: (s) => (help += s) });
    cmd.outputHelp();
    for (const r of DATASET_READERS)
      expect(help).toMatch(new RegExp(`\\n  ${r.name} +${r.help.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`));
  });

  it("README's list of formats is the one generated from the descriptors", () => {
    const text = readFileSync(README, 'utf8');
    const want = `${formatsMarkdown()}\n`;
    if (process.env.CAPGEN_UPDATE_README === '1') {
      const start = text.indexOf(BEGIN) + BEGIN.length;
      writeFileSync(README, text.slice(0, start) + want + text.slice(text.indexOf(END)));
      return;
    }
    expect(readmeSection(text), 'README.md is out of date: run CAPGEN_UPDATE_README=1 npx vitest run test/prepare/formats.test.ts').toBe(
      want,
    );
  });
});
