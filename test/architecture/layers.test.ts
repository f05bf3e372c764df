// The layering rule of src/ (test/architecture/layers.ts), checked on the real tree and, to show the
// check can fail, on a fixture tree that imports the wrong way.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importSpecifiers, layerViolations } from './layers.js';

const here = path.dirname(fileURLToPath(import.meta.url));

describe('src/ layering', () => {
  it('no module imports from a higher layer', () => {
    expect(layerViolations(path.join(here, '../../src')).map((v) => v.message)).toEqual([]);
  });

  it('reports a wrong-way import (model importing engine) and a folder on no layer', () => {
    const messages = layerViolations(path.join(here, '../fixtures/layers-wrong/src')).map((v) => v.message);
    expect(messages).toEqual([
      expect.stringMatching(
        /^model\/checkpoint\.ts imports \.\.\/engine\/choice\.js: model \(layer \d\) must not import engine \(layer \d\)$/,
      ),
      expect.stringMatching(/^newfolder\/x\.ts: src\/newfolder is on no layer/),
    ]);
  });

  it('sees static, type-only, dynamic and re-export imports, not packages', () => {
    const source = [
      "import { a } from '../model/a.js';",
      "import type { B } from './b.js';",
      "export { c } from '../engine/c.js';",
      "const d = await import('../features/d.js');",
      "import '../io/side-effect.js';",
      "import * as tf from '@tensorflow/tfjs';",
      'export {',
      '  e,',
      "} from '../decode/e.js';",
    ].join('\n');
    expect(importSpecifiers(source)).toEqual([
      '../model/a.js',
      './b.js',
      '../engine/c.js',
      '../features/d.js',
      '../io/side-effect.js',
      '../decode/e.js',
    ]);
  });
});
