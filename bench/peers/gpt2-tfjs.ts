// Benchmark support: models/gpt2.tfm's forward pass written with TensorFlow.js ops (any backend: wasm, cpu), with tfm's weights as tf tensors: prefill and a one-token decode step with a KV cache.
//
// The tied LM head's matrix is stored pre-transposed ([n_embd, vocab]) at load time, so the last
// matmul reads it row-major: tfjs-wasm is about 3× slower on that product when it is read
// transposed (matMul(x, wte, false, true)).
import type * as TF from "@tensorflow/tfjs-core";
import type { Gpt2Config, Weights } from "../workload.js";

export type Tf = typeof TF;

export interface KvCache {
  readonly k: TF.Tensor[];
  readonly v: TF.Tensor[];
}

export interface TfjsGpt2 {
  /** Logits [1, seq, vocab] for the token ids, read back to the CPU. */
  prefill(ids: Int32Array): Float32Array;
  /** Prefill that also returns the keys and values (kept: dispose with `disposeCache`). */
  prefillWithCache(ids: Int32Array): { logits: Float32Array; cache: KvCache };
  /** Logits [1, 1, vocab] for one more token after the cache (the cache is left as it was). */
  decode(id: number, cache: KvCache): Float32Array;
  /** A decode step that keeps the new cache (the caller disposes the old one). */
  step(id: number, cache: KvCache): { logits: Float32Array; cache: KvCache };
  disposeCache(cache: KvCache): void;
  dispose(): void;
}

export function tfjsGpt2(tf: Tf, cfg: Gpt2Config, weights: Weights): TfjsGpt2 {
  const { nLayer: L, nEmbd: C, nHead: H, vocab: V, eps } = cfg;
  const Dh = C / H;
  const owned: TF.Tensor[] = [];
  const keep = <T extends TF.Tensor>(t: T): T => (owned.push(t), t);
  const w = (name: string): TF.Tensor => {
    const t = weights.get(name);
    if (!t || t.dtype !== "f32") throw new Error(`tfjsGpt2: weight ${name} is missing or not f32`);
    return keep(tf.tensor(t.data as Float32Array, [...t.shape], "float32"));
  };
  const wte = w("wte.weight"), wpe = w("wpe.weight");
  const wteT = keep(tf.tidy(() => tf.transpose(wte, [1, 0]))); // [C, V], laid out once
  const ln = (p: string) => ({ g: w(`${p}.weight`), b: w(`${p}.bias`) });
  const lin = (p: string) => ({ w: w(`${p}.weight`), b: w(`${p}.bias`) });
  const layers = Array.from({ length: L }, (_, l) => ({
    ln1: ln(`h.${l}.ln_1`),
    attn: lin(`h.${l}.attn.c_attn`),
    proj: lin(`h.${l}.attn.c_proj`),
    ln2: ln(`h.${l}.ln_2`),
    fc: lin(`h.${l}.mlp.c_fc`),
    fc2: lin(`h.${l}.mlp.c_proj`),
  }));
  const lnf = ln("ln_f");
  const masks = new Map<number, TF.Tensor>();
  /** [T, T]: 0 where j ≤ i, −∞ above the diagonal (added to the scores). */
  const causal = (T: number): TF.Tensor => {
    let m = masks.get(T);
    if (!m) {
      const a = new Float32Array(T * T);
      for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) a[i * T + j] = -Infinity;
      m = keep(tf.keep(tf.tensor(a, [T, T]))); // made inside a tidy: kept past it
      masks.set(T, m);
    }
    return m;
  };

  const layerNorm = (x: TF.Tensor, p: { g: TF.Tensor; b: TF.Tensor }) => {
    const d = tf.sub(x, tf.mean(x, -1, true));
    const v = tf.mean(tf.square(d), -1, true);
    return tf.add(tf.mul(tf.mul(d, tf.rsqrt(tf.add(v, eps))), p.g), p.b);
  };
  const linear = (x2d: TF.Tensor, p: { w: TF.Tensor; b: TF.Tensor }) => tf.add(tf.matMul(x2d as TF.Tensor2D, p.w as TF.Tensor2D), p.b);
  const gelu = (x: TF.Tensor) => {
    const inner = tf.mul(0.7978845608028654, tf.add(x, tf.mul(0.044715, tf.mul(tf.mul(x, x), x))));
    return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
  };
  /** [T, C] → [1, H, T, Dh] */
  const heads = (t: TF.Tensor, T: number) => tf.transpose(tf.reshape(t, [1, T, H, Dh]), [0, 2, 1, 3]);

  /** Batch 1: x is [T, C]. Returns logits [T, V] and each layer's keys/values [1, H, past + T, Dh]. */
  const forward = (ids: Int32Array, past?: KvCache) => {
    const T = ids.length;
    const start = past ? past.k[0]!.shape[2]! : 0;
    const idT = tf.tensor1d(ids, "int32");
    const pos = tf.range(start, start + T, 1, "int32");
    let x = tf.add(tf.gather(wte, idT), tf.gather(wpe, pos)); // [T, C]
    const ks: TF.Tensor[] = [], vs: TF.Tensor[] = [];
    for (let l = 0; l < L; l++) {
      const y = layers[l]!;
      const qkv = linear(layerNorm(x, y.ln1), y.attn);
      const [q, k, v] = tf.split(qkv, 3, 1);
      let kh = heads(k!, T), vh = heads(v!, T);
      if (past) {
        kh = tf.concat([past.k[l]!, kh], 2);
        vh = tf.concat([past.v[l]!, vh], 2);
      }
      ks.push(kh);
      vs.push(vh);
      let scores = tf.div(tf.matMul(heads(q!, T), kh, false, true), Math.sqrt(Dh)); // [1, H, T, S]
      if (!past) scores = tf.add(scores, causal(T));
      const attn = tf.matMul(tf.softmax(scores, -1), vh); // [1, H, T, Dh]
      const merged = tf.reshape(tf.transpose(attn, [0, 2, 1, 3]), [T, C]);
      const h = tf.add(x, linear(merged, y.proj));
      x = tf.add(h, linear(gelu(linear(layerNorm(h, y.ln2), y.fc)), y.fc2));
    }
    const logits = tf.matMul(layerNorm(x, lnf) as TF.Tensor2D, wteT as TF.Tensor2D); // [T, V]
    return { logits, ks, vs };
  };

  const withCache = (ids: Int32Array, past?: KvCache) => {
    const { logits, k, v } = tf.tidy(() => {
      const r = forward(ids, past);
      return { logits: r.logits, k: r.ks, v: r.vs };
    });
    return { logits: read(logits), cache: { k, v } };
  };

  const read = (t: TF.Tensor): Float32Array => {
    const data = t.dataSync() as Float32Array;
    t.dispose();
    return data;
  };

  return {
    prefill: (ids) => read(tf.tidy(() => forward(ids).logits)),
    prefillWithCache: (ids) => withCache(ids),
    step: (id, cache) => withCache(Int32Array.of(id), cache),
    decode: (id, cache) => read(tf.tidy(() => forward(Int32Array.of(id), cache).logits)),
    disposeCache: (cache) => tf.dispose([...cache.k, ...cache.v]),
    dispose: () => tf.dispose(owned),
  };
}

