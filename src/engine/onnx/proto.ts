// A minimal ONNX protobuf writer: just the part of onnx.proto needed to hand ONNX Runtime a
// convolutional graph built in memory (ModelProto > GraphProto > nodes, float initializers).
// Pure: plain values in, the serialized model bytes out.

/** Float tensors stored as raw little-endian bytes; int64 ones (shapes, pads) as int64_data. */
export interface OnnxInitializer {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export type OnnxAttribute = number | string | number[] | { float: number } | { ints: number[] };

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  /** Integers are written as INT, `{ float: x }` as FLOAT, arrays as INTS, strings as STRING. */
  attributes?: Record<string, OnnxAttribute>;
}

/** A tensor value of the graph (float unless `type` says otherwise); a string dimension is symbolic (e.g. 'batch'). */
export interface OnnxValueInfo {
  name: string;
  shape: (number | string)[];
  type?: 'float' | 'int32' | 'int64';
}

export interface OnnxModel {
  opset: number;
  graphName: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

/** The IR version that goes with an opset: 7 with opset 13 (ONNX 1.8), 8 with opsets 14-18 (ONNX 1.9-1.14). */
function irVersion(opset: number): number {
  return opset <= 13 ? 7 : 8;
}
const DATA_TYPE = { float: 1, int32: 6, int64: 7 } as const;
const ATTR_TYPE = { float: 1, int: 2, string: 3, ints: 7 } as const;

/** Wire types of protobuf: varint, 32-bit, and length-delimited. */
const VARINT = 0;
const FIXED32 = 5;
const BYTES = 2;

/** A message under construction: a list of byte chunks, concatenated once at the end. */
class Writer {
  readonly chunks: Uint8Array[] = [];
  length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private varint(value: bigint | number): void {
    // Negative int64 values are two's complement over 10 bytes, as protobuf writes them.
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v) byte |= 0x80;
      out.push(byte);
    } while (v);
    this.push(Uint8Array.from(out));
  }

  private key(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, value: number | bigint): void {
    this.key(field, VARINT);
    this.varint(value);
  }

  float(field: number, value: number): void {
    this.key(field, FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
  }

  bytes(field: number, value: Uint8Array): void {
    this.key(field, BYTES);
    this.varint(value.length);
    this.push(value);
  }

  string(field: number, value: string): void {
    this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (w: Writer) => void): void {
    const inner = new Writer();
    build(inner);
    this.key(field, BYTES);
    this.varint(inner.length);
    for (const c of inner.chunks) this.push(c);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

function writeAttribute(w: Writer, name: string, value: OnnxAttribute): void {
  w.string(1, name);
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: write a non-integer as { float: ${value} }`);
    w.int(3, value);
    w.int(20, ATTR_TYPE.int);
  } else if (typeof value === 'string') {
    w.string(4, value);
    w.int(20, ATTR_TYPE.string);
  } else if (Array.isArray(value) || 'ints' in value) {
    for (const v of Array.isArray(value) ? value : value.ints) w.int(8, v);
    w.int(20, ATTR_TYPE.ints);
  } else {
    w.float(2, value.float);
    w.int(20, ATTR_TYPE.float);
  }
}

function writeTensor(w: Writer, t: OnnxInitializer): void {
  for (const d of t.dims) w.int(1, d);
  if (t.data instanceof Float32Array) {
    w.int(2, DATA_TYPE.float);
    w.string(8, t.name);
    // raw_data is little-endian; so is every platform onnxruntime-node ships for.
    w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  } else {
    w.int(2, DATA_TYPE.int64);
    for (const v of t.data) w.int(7, v);
    w.string(8, t.name);
  }
}

function writeValueInfo(w: Writer, v: OnnxValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, DATA_TYPE[v.type ?? 'float']);
      tensor.message(2, (shape) => {
        for (const d of v.shape) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}

function writeNode(w: Writer, n: OnnxNode): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.op);
  for (const [name, value] of Object.entries(n.attributes ?? {})) w.message(5, (a) => writeAttribute(a, name, value));
}

/** Serializes a model: ModelProto bytes that onnxruntime's InferenceSession.create accepts. */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const w = new Writer();
  w.int(1, irVersion(model.opset));
  w.string(2, 'capgen');
  w.message(7, (g) => {
    for (const n of model.nodes) g.message(1, (m) => writeNode(m, n));
    g.string(2, model.graphName);
    for (const t of model.initializers) g.message(5, (m) => writeTensor(m, t));
    for (const v of model.inputs) g.message(11, (m) => writeValueInfo(m, v));
    for (const v of model.outputs) g.message(12, (m) => writeValueInfo(m, v));
  });
  w.message(8, (o) => {
    o.string(1, ''); // the default ONNX domain
    o.int(2, model.opset);
  });
  return w.finish();
}
