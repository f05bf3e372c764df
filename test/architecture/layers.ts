// The layering of src/: each top-level folder (or file) of src/ sits on a layer, and a module may import
// only from its own layer or lower ones. Lower layers know nothing of what is built on them, so a
// newcomer reads the tree bottom up and a change to a stage cannot break the model or an engine.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** Layers from the bottom; a module may import from its own layer and the ones before it. */
export const LAYERS: readonly (readonly string[])[] = [
  ['errors', 'log', 'util', 'io'], // no capgen knowledge: errors, logging, files, random numbers
  ['run', 'text', 'backend', 'synthetic'], // run-folder formats, words, the tfjs backend, synthetic data
  ['model'], // the decoders' definitions and the checkpoint format (save and load)
  ['decode'], // search over any StepDecoder (greedy, beam, sampling): pure, engine-free
  ['engine'], // tfjs ops and ONNX Runtime, and the one ONNX-or-tfjs choice
  ['features'], // image encoders and the feature cache
  ['captioner'], // checkpoint -> vocabulary -> cleaning -> encoder -> decoding options
  ['prepare', 'train', 'evaluate', 'caption', 'serve', 'export', 'average', 'demo'], // the stages
  ['cli'], // flags -> typed config -> a stage's run()
];

/** The top-level folder (or file, without its extension) of src/ that a path inside srcDir belongs to. */
export function unitOf(srcDir: string, file: string): string {
  const rel = path.relative(srcDir, file);
  return rel.split(path.sep)[0]!.replace(/\.(ts|js)$/, '');
}

export function layerOf(unit: string): number {
  return LAYERS.findIndex((layer) => layer.includes(unit));
}

/** Relative specifiers of a module's static and dynamic imports and re-exports (type-only ones too). */
export function importSpecifiers(source: string): string[] {
  const found: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s*)['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (const m of source.matchAll(re)) found.push(m[1]!);
  return found;
}

export interface LayerViolation {
  /** The importing file, relative to srcDir. */
  file: string;
  specifier: string;
  message: string;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return tsFiles(full);
    return /\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Every import in srcDir that goes up a layer, or from/into a folder no layer names. */
export function layerViolations(srcDir: string): LayerViolation[] {
  const out: LayerViolation[] = [];
  for (const file of tsFiles(srcDir)) {
    const from = unitOf(srcDir, file);
    const fromLayer = layerOf(from);
    const rel = path.relative(srcDir, file);
    if (fromLayer < 0) {
      out.push({
        file: rel,
        specifier: '',
        message: `${rel}: src/${from} is on no layer (add it to LAYERS in test/architecture/layers.ts)`,
      });
      continue;
    }
    for (const specifier of importSpecifiers(readFileSync(file, 'utf8'))) {
      const target = path.resolve(path.dirname(file), specifier);
      if (path.relative(srcDir, target).startsWith('..')) continue; // outside src/ (package.json and the like)
      const to = unitOf(srcDir, target);
      const toLayer = layerOf(to);
      if (toLayer < 0) out.push({ file: rel, specifier, message: `${rel} imports ${specifier}: src/${to} is on no layer` });
      else if (toLayer > fromLayer)
        out.push({
          file: rel,
          specifier,
          message: `${rel} imports ${specifier}: ${from} (layer ${fromLayer}) must not import ${to} (layer ${toLayer})`,
        });
    }
  }
  return out;
}
