// A plain-array reference of the ops ResNet50 uses (NHWC, one image), written independently of tfjs
// to check the tfjs network: conv2d with TF padding rules, BatchNorm (not folded), ReLU, add, max pool.

export interface Map3 {
  h: number;
  w: number;
  c: number;
  /** [h, w, c] row-major */
  data: Float64Array;
}

function tfPadding(size: number, k: number, stride: number, padding: 'same' | 'valid'): { out: number; before: number } {
  if (padding === 'valid') return { out: Math.floor((size - k) / stride) + 1, before: 0 };
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + k - size, 0);
  return { out, before: Math.floor(total / 2) };
}

export function zeroPad(x: Map3, p: number): Map3 {
  const h = x.h + 2 * p;
  const w = x.w + 2 * p;
  const data = new Float64Array(h * w * x.c);
  for (let i = 0; i < x.h; i++)
    for (let j = 0; j < x.w; j++) for (let c = 0; c < x.c; c++) data[((i + p) * w + j + p) * x.c + c] = x.data[(i * x.w + j) * x.c + c];
  return { h, w, c: x.c, data };
}

/** kernel [k, k, in, out] row-major, as Keras stores it. */
export function conv2d(
  x: Map3,
  kernel: Float32Array,
  bias: Float32Array,
  opts: { k: number; stride: number; padding: 'same' | 'valid'; out: number },
): Map3 {
  const { k, stride, out } = opts;
  const ph = tfPadding(x.h, k, stride, opts.padding);
  const pw = tfPadding(x.w, k, stride, opts.padding);
  const data = new Float64Array(ph.out * pw.out * out);
  for (let i = 0; i < ph.out; i++) {
    for (let j = 0; j < pw.out; j++) {
      for (let o = 0; o < out; o++) {
        let sum = bias[o];
        for (let di = 0; di < k; di++) {
          const y = i * stride + di - ph.before;
          if (y < 0 || y >= x.h) continue;
          for (let dj = 0; dj < k; dj++) {
            const xx = j * stride + dj - pw.before;
            if (xx < 0 || xx >= x.w) continue;
            for (let c = 0; c < x.c; c++) sum += x.data[(y * x.w + xx) * x.c + c] * kernel[((di * k + dj) * x.c + c) * out + o];
          }
        }
        data[(i * pw.out + j) * out + o] = sum;
      }
    }
  }
  return { h: ph.out, w: pw.out, c: out, data };
}

export function batchNorm(
  x: Map3,
  p: { gamma: Float32Array; beta: Float32Array; mean: Float32Array; variance: Float32Array; epsilon: number },
): Map3 {
  const data = x.data.map((v, i) => {
    const c = i % x.c;
    return ((v - p.mean[c]) / Math.sqrt(p.variance[c] + p.epsilon)) * p.gamma[c] + p.beta[c];
  });
  return { ...x, data };
}

export const relu = (x: Map3): Map3 => ({ ...x, data: x.data.map((v) => Math.max(0, v)) });
export const add = (a: Map3, b: Map3): Map3 => ({ ...a, data: a.data.map((v, i) => v + b.data[i]) });

export function maxPool(x: Map3, k: number, stride: number): Map3 {
  const h = Math.floor((x.h - k) / stride) + 1;
  const w = Math.floor((x.w - k) / stride) + 1;
  const data = new Float64Array(h * w * x.c).fill(-Infinity);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++)
      for (let c = 0; c < x.c; c++)
        for (let di = 0; di < k; di++)
          for (let dj = 0; dj < k; dj++)
            data[(i * w + j) * x.c + c] = Math.max(
              data[(i * w + j) * x.c + c],
              x.data[((i * stride + di) * x.w + j * stride + dj) * x.c + c],
            );
  return { h, w, c: x.c, data };
}

export function globalMean(x: Map3): Float64Array {
  const out = new Float64Array(x.c);
  for (let i = 0; i < x.h * x.w; i++) for (let c = 0; c < x.c; c++) out[c] += x.data[i * x.c + c] / (x.h * x.w);
  return out;
}

/** Average pooling with TF's rules: 'same' pads after the odd pixel and divides by the cells inside the image. */
export function avgPool(x: Map3, k: number, stride: number, padding: 'same' | 'valid'): Map3 {
  const ph = tfPadding(x.h, k, stride, padding);
  const pw = tfPadding(x.w, k, stride, padding);
  const data = new Float64Array(ph.out * pw.out * x.c);
  for (let i = 0; i < ph.out; i++)
    for (let j = 0; j < pw.out; j++)
      for (let c = 0; c < x.c; c++) {
        let sum = 0;
        let count = 0;
        for (let di = 0; di < k; di++)
          for (let dj = 0; dj < k; dj++) {
            const y = i * stride + di - ph.before;
            const xx = j * stride + dj - pw.before;
            if (y < 0 || y >= x.h || xx < 0 || xx >= x.w) continue;
            sum += x.data[(y * x.w + xx) * x.c + c];
            count++;
          }
        data[(i * pw.out + j) * x.c + c] = sum / count;
      }
  return { h: ph.out, w: pw.out, c: x.c, data };
}

/** Channel concatenation of maps of the same size. */
export function concat(xs: Map3[]): Map3 {
  const c = xs.reduce((a, x) => a + x.c, 0);
  const { h, w } = xs[0];
  const data = new Float64Array(h * w * c);
  for (let p = 0; p < h * w; p++) {
    let o = 0;
    for (const x of xs) {
      for (let k = 0; k < x.c; k++) data[p * c + o + k] = x.data[p * x.c + k];
      o += x.c;
    }
  }
  return { h, w, c, data };
}
