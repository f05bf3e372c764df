// `capgen prepare`: placeholder until the prepare stage lands (issue 2).
import { Command } from 'commander';
import { CapgenError } from '../errors.js';

export function prepareCommand(): Command {
  return new Command('prepare').description('clean and tokenize captions, build vocabulary and splits, cache image features').action(() => {
    throw new CapgenError('USAGE', 'prepare is not implemented yet');
  });
}
