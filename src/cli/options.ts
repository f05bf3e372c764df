// Flag parsers and shared options, so that every command spells and validates them the same way.
import { InvalidArgumentError, Option } from 'commander';
import { BACKEND_CHOICES, type BackendChoice } from '../backend/index.js';

export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}, got '${v}'`);
    return n;
  };
}

export function floatArg(min: number, max = Number.POSITIVE_INFINITY): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a number from ${min} to ${max}, got '${v}'`);
    return n;
  };
}

/** `--backend`, defaulting to $CAPGEN_BACKEND, then auto. */
export function backendOption(): Option {
  return new Option('--backend <name>', 'compute backend (auto tries gpu, node, wasm, cpu in that order)')
    .choices([...BACKEND_CHOICES])
    .env('CAPGEN_BACKEND')
    .default('auto' satisfies BackendChoice);
}
