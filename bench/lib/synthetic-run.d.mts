// Types of bench/lib/synthetic-run.mjs, for the test that checks a generated run trains.
export const COCO_IMAGES: number;
export function writeSyntheticRun(opts: {
  out: string;
  images?: number;
  grid?: number;
  channels?: number;
  captionsPerImage?: number;
  vocab?: number;
  meanWords?: number;
  dtype?: 'float16' | 'float32';
  seed?: number;
  log?: (line: string) => void;
}): Promise<{
  out: string;
  images: number;
  dim: number;
  dtype: 'float16' | 'float32';
  featuresDir: string;
  splitImages: { train: number; dev: number; test: number };
  maxCaptionLength: number;
  vectorBytes: number;
}>;
