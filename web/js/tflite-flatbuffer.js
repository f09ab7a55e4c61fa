// Just enough of the TFLite flatbuffer (tensorflow/lite/schema/schema.fbs) for two jobs LiteRT.js
// does not do for us:
//  - the exporter leaves the batch dimension dynamic (shape_signature [-1, H, W, 3]) and
//    LiteRT.js 2.5 refuses a [1, H, W, 3] input against it; withStaticBatch() sets those -1 to 1,
//    which is what the Python interpreter does when it allocates the tensors;
//  - LiteRT.js reports no quantization parameters, and a quantized output must be dequantized
//    with its own scale and zero point (never hard-coded): ioQuantization() reads them.

// Field numbers in schema.fbs.
const MODEL_SUBGRAPHS = 2;
const SUBGRAPH_TENSORS = 0;
const SUBGRAPH_INPUTS = 1;
const SUBGRAPH_OUTPUTS = 2;
const TENSOR_TYPE = 1;
const TENSOR_NAME = 3;
const TENSOR_QUANTIZATION = 4;
const TENSOR_SHAPE_SIGNATURE = 7;
const QUANTIZATION_SCALE = 2;
const QUANTIZATION_ZERO_POINT = 3;
const TENSOR_TYPES = { 0: 'float32', 1: 'float16', 2: 'int32', 3: 'uint8', 4: 'int64', 7: 'int16', 9: 'int8' };

class FlatBuffer {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  root() { return this.view.getUint32(0, true); }

  /** Absolute position of a table's field, or 0 when the field is absent. */
  field(table, id) {
    const vtable = table - this.view.getInt32(table, true);
    const entry = 4 + 2 * id;
    if (entry >= this.view.getUint16(vtable, true)) return 0;
    const offset = this.view.getUint16(vtable + entry, true);
    return offset ? table + offset : 0;
  }

  /** The table, vector or string a field refers to (an offset stored relative to itself). */
  indirect(position) { return position + this.view.getUint32(position, true); }

  /** [position of the first element, length] of a vector field, or null. */
  vector(table, id) {
    const position = this.field(table, id);
    if (!position) return null;
    const start = this.indirect(position);
    return [start + 4, this.view.getUint32(start, true)];
  }

  tables(table, id) {
    const vector = this.vector(table, id);
    if (!vector) return [];
    const [first, length] = vector;
    return Array.from({ length }, (_, i) => this.indirect(first + 4 * i));
  }

  ints(table, id) {
    const vector = this.vector(table, id);
    if (!vector) return [];
    const [first, length] = vector;
    return Array.from({ length }, (_, i) => this.view.getInt32(first + 4 * i, true));
  }

  string(table, id) {
    const vector = this.vector(table, id);
    return vector ? new TextDecoder().decode(this.bytes.subarray(vector[0], vector[0] + vector[1])) : '';
  }
}

function checkIdentifier(bytes) {
  if (bytes.length < 8 || new TextDecoder().decode(bytes.subarray(4, 8)) !== 'TFL3') {
    throw new Error('not a TFLite model (no "TFL3" identifier)');
  }
}

/** A copy of the flatbuffer with every dynamic (-1) dimension in the tensors' shape_signature set to 1. */
export function withStaticBatch(flatbuffer) {
  checkIdentifier(flatbuffer);
  const bytes = flatbuffer.slice();
  const fb = new FlatBuffer(bytes);
  for (const subgraph of fb.tables(fb.root(), MODEL_SUBGRAPHS)) {
    for (const tensor of fb.tables(subgraph, SUBGRAPH_TENSORS)) {
      const signature = fb.vector(tensor, TENSOR_SHAPE_SIGNATURE);
      if (!signature) continue;
      for (let i = 0; i < signature[1]; i++) {
        const position = signature[0] + 4 * i;
        if (fb.view.getInt32(position, true) === -1) fb.view.setInt32(position, 1, true);
      }
    }
  }
  return bytes;
}

/** {inputs, outputs}: per tensor of the main subgraph {name, dtype, scale, zeroPoint}
 * (scale 0 means not quantized). */
export function ioQuantization(flatbuffer) {
  checkIdentifier(flatbuffer);
  const fb = new FlatBuffer(flatbuffer);
  const [subgraph] = fb.tables(fb.root(), MODEL_SUBGRAPHS);
  const tensors = fb.tables(subgraph, SUBGRAPH_TENSORS);
  const describe = (index) => {
    const tensor = tensors[index];
    const typeField = fb.field(tensor, TENSOR_TYPE);
    const dtype = TENSOR_TYPES[typeField ? fb.view.getInt8(typeField) : 0] ?? 'unsupported';
    let scale = 0;
    let zeroPoint = 0;
    const quantization = fb.field(tensor, TENSOR_QUANTIZATION);
    if (quantization) {
      const table = fb.indirect(quantization);
      const scales = fb.vector(table, QUANTIZATION_SCALE);
      const zeros = fb.vector(table, QUANTIZATION_ZERO_POINT);
      if (scales && scales[1] > 0) scale = fb.view.getFloat32(scales[0], true);
      if (zeros && zeros[1] > 0) zeroPoint = Number(fb.view.getBigInt64(zeros[0], true));
    }
    return { name: fb.string(tensor, TENSOR_NAME), dtype, scale, zeroPoint };
  };
  return {
    inputs: fb.ints(subgraph, SUBGRAPH_INPUTS).map(describe),
    outputs: fb.ints(subgraph, SUBGRAPH_OUTPUTS).map(describe),
  };
}
