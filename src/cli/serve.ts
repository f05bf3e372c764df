// `capgen serve`: flags -> ServeConfig -> runServe (a web page and an HTTP API over one checkpoint).
import { Command } from 'commander';
import { DEFAULT_RUN_DIR } from '../run/layout.js';
import type { ServeConfig } from '../serve/run.js';
import { DEFAULT_MAX_BEAM_SIZE } from '../serve/upload.js';
import { backendOption, decodingOptions, floatArg, intArg } from './options.js';

export function serveCommand(): Command {
  const [beamSize, lengthPenalty, blockNgrams] = decodingOptions({
    beamSizeHelp:
      'beam width of API requests without ?beam= and the decoding the page preselects (default: API greedy, page 3 beams); 1 = greedy',
    beamSizeDefault: null,
    maxBeamSize: DEFAULT_MAX_BEAM_SIZE,
  });
  return new Command('serve')
    .description('serve a web page and an HTTP API that caption uploaded images with a trained checkpoint')
    .option('--run <dir>', 'run folder whose best checkpoint is served', DEFAULT_RUN_DIR)
    .option('--checkpoint <dir>', 'checkpoint folder to serve (default: <run>/train/best)')
    .option('--port <n>', 'TCP port (5000: what the original Flask app used; 0 = any free port)', intArg(0, 65535), 5000)
    .option('--host <address>', 'address to listen on (127.0.0.1: this machine only; 0.0.0.0 to share on the network)', '127.0.0.1')
    .option('--max-upload-mb <n>', 'largest accepted upload in MB (10: any phone photo, but bounded memory)', floatArg(0.001, 1024), 10)
    .option(
      '--encoder <path>',
      "the encoder's model.json (or ResNet50 .h5) when it is no longer where prepare found it; checked against the checkpoint",
    )
    .option('--name <text>', "the model's name on the page and in API answers (default: the run folder's base name; paths are never shown)")
    .addOption(beamSize)
    .addOption(lengthPenalty)
    .addOption(blockNgrams)
    .option('--client-side', 'serve the page of `capgen export --format web`: the browser runs the model, images never leave it')
    .addOption(backendOption())
    .action(async (opts) => {
      const config: ServeConfig = {
        runDir: opts.run,
        checkpoint: opts.checkpoint,
        host: opts.host,
        port: opts.port,
        maxUploadMb: opts.maxUploadMb,
        backend: opts.backend,
        beamSize: opts.beamSize,
        lengthPenalty: opts.lengthPenalty,
        blockNgrams: opts.blockNgrams,
        encoderPath: opts.encoder,
        name: opts.name,
        clientSide: opts.clientSide ?? false,
      };
      const { runServe } = await import('../serve/run.js'); // loaded on use: --help stays fast
      await runServe(config);
    });
}
