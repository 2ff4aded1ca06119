import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

/** ONNX element types used by the graphs (TensorProto.DataType). */
export const OnnxType = { FLOAT: 1, INT64: 7, BOOL: 9, FLOAT16: 10 } as const;
export type OnnxTypeCode = (typeof OnnxType)[keyof typeof OnnxType];

/** A dimension: fixed size or symbolic name (batch, sequence, past length). */
export type Dim = number | string;

export type AttributeValue = number | number[] | string | { floatValue: number };

/** Tensor data kept outside the .onnx file (PROTOCOL §4.1: the package's weights.bin). */
export type ExternalRef = { location: string; offset: number; length: number };

/**
 * Minimal ONNX graph builder: named values, nodes in topological order, initializers either
 * inline (small constants) or external. Emits a ModelProto with one opset import.
 */
export class GraphBuilder {
  readonly #nodes: onnxProto.onnx.INodeProto[] = [];
  readonly #initializers: onnxProto.onnx.ITensorProto[] = [];
  readonly #inputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly #outputs: onnxProto.onnx.IValueInfoProto[] = [];
  #counter = 0;

  constructor(readonly name: string, readonly opset = 17) {}

  input(name: string, type: OnnxTypeCode, dims: Dim[]): string {
    this.#inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(value: string, name: string, type: OnnxTypeCode, dims: Dim[]): void {
    // Route through Identity so a graph output may carry a fixed public name.
    this.#nodes.push({ opType: "Identity", input: [value], output: [name], name: `out_${name}` });
    this.#outputs.push(valueInfo(name, type, dims));
  }

  /** Append a node; returns its output names (fresh unless given). */
  op(opType: string, inputs: string[], attrs: Record<string, AttributeValue> = {}, outputs = 1): string[] {
    const outs = Array.from({ length: outputs }, () => `${opType.toLowerCase()}_${this.#counter++}`);
    this.#nodes.push({
      opType,
      input: inputs,
      output: outs,
      name: `${opType}_${this.#counter}`,
      attribute: Object.entries(attrs).map(([name, v]) => attribute(name, v)),
    });
    return outs;
  }

  /** Single-output shorthand. */
  node(opType: string, inputs: string[], attrs: Record<string, AttributeValue> = {}): string {
    return this.op(opType, inputs, attrs, 1)[0]!;
  }

  constFloat(values: number[] | Float32Array, dims: number[], name = `c_${this.#counter++}`): string {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    this.#initializers.push({ name, dims, dataType: OnnxType.FLOAT, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) });
    return name;
  }

  constInt64(values: number[], dims: number[] = [values.length], name = `c_${this.#counter++}`): string {
    const data = BigInt64Array.from(values.map(BigInt));
    this.#initializers.push({ name, dims, dataType: OnnxType.INT64, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  /** An initializer whose bytes live in an external file next to the model. */
  external(name: string, type: OnnxTypeCode, dims: number[], ref: ExternalRef): string {
    this.#initializers.push({
      name,
      dims,
      dataType: type,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: "location", value: ref.location },
        { key: "offset", value: String(ref.offset) },
        { key: "length", value: String(ref.length) },
      ],
    });
    return name;
  }

  encode(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: "stepproof",
      opsetImport: [{ domain: "", version: this.opset }],
      graph: {
        name: this.name,
        node: this.#nodes,
        initializer: this.#initializers,
        input: this.#inputs,
        output: this.#outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, elemType: number, dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === "number") return { name, type: T.INT, i: v };
  if (typeof v === "string") return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  return { name, type: T.FLOAT, f: v.floatValue };
}
