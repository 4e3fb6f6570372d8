// Benchmark support: models/gpt2.tfm's forward pass as an ONNX graph (opset 17) with tfm's weights as initializers, for onnxruntime-node: a prefill graph and a one-token decode graph with a KV cache.
//
// The graph is what a PyTorch export of Hugging Face's GPT2LMHeadModel gives, op for op: Gather
// embeddings, LayerNormalization, Conv1D as MatMul + Add, Split into q/k/v, heads by Reshape +
// Transpose, q·kᵀ / √d, the causal mask as Where(mask, scores, −inf) on a sliced [n_positions]²
// buffer, Softmax, the tanh GELU written out, and the LM head as MatMul with Transpose(wte) (tied;
// onnxruntime folds the transpose into a constant when it loads the model). Besides `logits` it
// outputs every layer's keys and values (`present_k.L`, `present_v.L`, [batch, heads, seq, d_head]);
// the decode graph takes them back as `past_k.L`, `past_v.L` and appends one token.
import type { Gpt2Config, Weights } from "../workload.js";
import { boolTensor, DT, encodeModel, f32Tensor, i64Tensor, type OnnxGraph, type OnnxNode, type OnnxTensor, type OnnxValue } from "./onnx-proto.js";

export type OnnxMode = "prefill" | "decode";

export function gpt2Onnx(cfg: Gpt2Config, weights: Weights, mode: OnnxMode): Uint8Array {
  const { nLayer: L, nEmbd: C, nHead: H, vocab: V, nPositions: NP, eps } = cfg;
  const Dh = C / H;
  const nodes: OnnxNode[] = [];
  const inits: OnnxTensor[] = [];
  let tmp = 0;
  /** Appends a node with one output and returns that output's name (a fresh one unless given). */
  const op = (type: string, inputs: string[], attrs?: OnnxNode["attrs"], out = `t${tmp++}`): string => {
    nodes.push({ op: type, inputs, outputs: [out], ...(attrs ? { attrs } : {}) });
    return out;
  };
  const w = (name: string): string => {
    if (!inits.some((t) => t.name === name)) {
      const t = weights.get(name);
      if (!t || t.dtype !== "f32") throw new Error(`gpt2Onnx: weight ${name} is missing or not f32`);
      inits.push(f32Tensor(name, t.shape, t.data as Float32Array));
    }
    return name;
  };
  // Constants, added to the initializers on first use.
  const consts: Record<string, () => OnnxTensor> = {
    zero: () => i64Tensor("zero", [], [0]),
    one: () => i64Tensor("one", [], [1]),
    two: () => i64Tensor("two", [], [2]),
    one_1d: () => i64Tensor("one_1d", [1], [1]),
    two_1d: () => i64Tensor("two_1d", [1], [2]),
    zeros_2: () => i64Tensor("zeros_2", [2], [0, 0]),
    axes_01: () => i64Tensor("axes_01", [2], [0, 1]),
    split_qkv: () => i64Tensor("split_qkv", [3], [C, C, C]),
    heads_shape: () => i64Tensor("heads_shape", [4], [0, 0, H, Dh]),
    merge_shape: () => i64Tensor("merge_shape", [3], [0, 0, C]),
    sqrt_dh: () => f32Tensor("sqrt_dh", [], Float32Array.of(Math.sqrt(Dh))),
    neg_inf: () => f32Tensor("neg_inf", [], Float32Array.of(-Infinity)),
    half: () => f32Tensor("half", [], Float32Array.of(0.5)),
    f_one: () => f32Tensor("f_one", [], Float32Array.of(1)),
    gelu_a: () => f32Tensor("gelu_a", [], Float32Array.of(0.7978845608028654)),
    gelu_b: () => f32Tensor("gelu_b", [], Float32Array.of(0.044715)),
  };
  const used = new Set<string>();
  const cst = (name: string): string => {
    if (!used.has(name)) {
      used.add(name);
      inits.push(consts[name]!());
    }
    return name;
  };

  const inputs: OnnxValue[] = [{ name: "input_ids", dtype: DT.INT64, dims: ["batch", "seq"] }];
  const outputs: OnnxValue[] = [{ name: "logits", dtype: DT.FLOAT, dims: ["batch", "seq", V] }];
  for (let l = 0; l < L; l++) {
    if (mode === "decode") {
      inputs.push({ name: `past_k.${l}`, dtype: DT.FLOAT, dims: ["batch", H, "past", Dh] });
      inputs.push({ name: `past_v.${l}`, dtype: DT.FLOAT, dims: ["batch", H, "past", Dh] });
    }
    outputs.push({ name: `present_k.${l}`, dtype: DT.FLOAT, dims: ["batch", H, "total", Dh] });
    outputs.push({ name: `present_v.${l}`, dtype: DT.FLOAT, dims: ["batch", H, "total", Dh] });
  }

  // Positions start after the cache: 0 for prefill, past_k.0's length for decode.
  const idsShape = op("Shape", ["input_ids"]);
  const T = op("Gather", [idsShape, cst("one")], { axis: 0 });
  const start = mode === "decode" ? op("Gather", [op("Shape", ["past_k.0"]), cst("two")], { axis: 0 }) : cst("zero");
  const pos = op("Range", [start, op("Add", [start, T]), cst("one")]);
  let x = op("Add", [op("Gather", [w("wte.weight"), "input_ids"], { axis: 0 }), op("Gather", [w("wpe.weight"), pos], { axis: 0 })]);

  // The causal mask (prefill only: one new token may see the whole cache): buffer[:T, :T].
  let mask: string | undefined;
  if (mode === "prefill") {
    const buf = new Uint8Array(NP * NP);
    for (let i = 0; i < NP; i++) for (let j = 0; j <= i; j++) buf[i * NP + j] = 1;
    inits.push(boolTensor("causal_buffer", [NP, NP], buf));
    const tVec = op("Slice", [idsShape, cst("one_1d"), cst("two_1d")]);
    mask = op("Slice", ["causal_buffer", cst("zeros_2"), op("Concat", [tVec, tVec], { axis: 0 }), cst("axes_01")]);
  }

  const layerNorm = (x: string, prefix: string) => op("LayerNormalization", [x, w(`${prefix}.weight`), w(`${prefix}.bias`)], { axis: -1, epsilon: { float: eps } });
  const conv1d = (x: string, prefix: string) => op("Add", [op("MatMul", [x, w(`${prefix}.weight`)]), w(`${prefix}.bias`)]);
  const heads = (t: string) => op("Transpose", [op("Reshape", [t, cst("heads_shape")])], { perm: [0, 2, 1, 3] });

  for (let l = 0; l < L; l++) {
    const p = `h.${l}`;
    const qkv = conv1d(layerNorm(x, `${p}.ln_1`), `${p}.attn.c_attn`);
    const [q, k, v] = [`q${l}`, `k${l}`, `v${l}`];
    nodes.push({ op: "Split", inputs: [qkv, cst("split_qkv")], outputs: [q, k, v], attrs: { axis: -1 } });
    let kh = heads(k), vh = heads(v);
    if (mode === "decode") {
      kh = op("Concat", [`past_k.${l}`, kh], { axis: 2 }, `present_k.${l}`);
      vh = op("Concat", [`past_v.${l}`, vh], { axis: 2 }, `present_v.${l}`);
    } else {
      kh = op("Identity", [kh], undefined, `present_k.${l}`);
      vh = op("Identity", [vh], undefined, `present_v.${l}`);
    }
    let scores = op("Div", [op("MatMul", [heads(q), op("Transpose", [kh], { perm: [0, 1, 3, 2] })]), cst("sqrt_dh")]);
    if (mask) scores = op("Where", [mask, scores, cst("neg_inf")]);
    const attn = op("MatMul", [op("Softmax", [scores], { axis: -1 }), vh]);
    const merged = op("Reshape", [op("Transpose", [attn], { perm: [0, 2, 1, 3] }), cst("merge_shape")]);
    const h = op("Add", [x, conv1d(merged, `${p}.attn.c_proj`)]);
    const f = conv1d(layerNorm(h, `${p}.ln_2`), `${p}.mlp.c_fc`);
    // gelu_tanh(f) = 0.5·f·(1 + tanh(√(2/π)·(f + 0.044715·f³)))
    const f3 = op("Mul", [op("Mul", [f, f]), f]);
    const th = op("Tanh", [op("Mul", [cst("gelu_a"), op("Add", [f, op("Mul", [cst("gelu_b"), f3])])])]);
    const g = op("Mul", [op("Mul", [cst("half"), f]), op("Add", [cst("f_one"), th])]);
    x = op("Add", [h, conv1d(g, `${p}.mlp.c_proj`)]);
  }
  const xf = layerNorm(x, "ln_f");
  op("MatMul", [xf, op("Transpose", [w("wte.weight")], { perm: [1, 0] })], undefined, "logits");

  const graph: OnnxGraph = { name: `gpt2_${mode}`, nodes, initializers: inits, inputs, outputs };
  return encodeModel(graph, 17);
}
