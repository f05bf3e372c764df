// Every capgen command, registered in one place so that `capgen --help` lists them in order.
import type { Command } from 'commander';
import { averageCommand } from './average.js';
import { captionCommand } from './caption.js';
import { demoCommand } from './demo.js';
import { evalCommand } from './eval.js';
import { exportCommand } from './export.js';
import { prepareCommand } from './prepare.js';
import { serveCommand } from './serve.js';
import { trainCommand } from './train.js';

export function registerCommands(program: Command): void {
  program.addCommand(prepareCommand());
  program.addCommand(trainCommand());
  program.addCommand(averageCommand());
  program.addCommand(evalCommand());
  program.addCommand(captionCommand());
  program.addCommand(serveCommand());
  program.addCommand(exportCommand());
  program.addCommand(demoCommand());
}
