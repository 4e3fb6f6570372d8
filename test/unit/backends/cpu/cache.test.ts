// The state kept in place (src/backends/cpu/cache.ts, CpuProgram.runResident): a prefill and decode
// steps give logits bit for bit equal to the plain runs that pass the state in and take it out
// (`append` as concat, a copy of the whole cache per step) — the same kernels in the same order,
// only the cache read as a view of a buffer at capacity — and a decode step copies nothing of the
// cache: it writes the new positions only, into the same buffers, allocated once.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CpuProgram } from "../../../../src/backends/cpu/interpret.js";
import { compile } from "../../../../src/compile.js";
import type { Tensor } from "../../../../src/core/tensor.js";
import { emptyStates } from "../../../../src/generate/decoder.js";
import { randomWeights } from "../../../../src/runtime/init.js";
import { stateReadsInPlace, wasmGemmAvailable } from "../../../../src/backends/cpu/kernels/wasm/gemm.js";
import { plainKernels, threadedKernels } from "../../../../src/backends/cpu/kernels/index.js";
import { attentionAcrossRuns, lastRowsRuns, setRunAcross } from "../../../../src/backends/cpu/fused.js";
import { holdThreads } from "./helpers.js";

const models = {
  gpt2: { file: "models/gpt2.tfm", settings: { n_layer: 2, n_embd: 16, n_head: 2, vocab_size: 37, n_positions: 32 } },
  // GQA: 4 query heads read 2 cached key/value heads (repeat_kv).
  llama: { file: "models/llama.tfm", settings: { hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 37, max_position_embeddings: 32 } },
};

function program(name: keyof typeof models, fuse: boolean): CpuProgram {
  const { file, settings } = models[name];
  const m = compile(readFileSync(file, "utf8"), { file, settings });
  expect(m.diagnostics).toEqual([]);
  return new CpuProgram(m.graph!, randomWeights(m.checked.instance!.weights, 3), undefined, { fuse });
}

const ids = (batch: number, seq: number, salt: number): Tensor => ({ dtype: "i32", shape: [batch, seq], data: Int32Array.from({ length: batch * seq }, (_, i) => (i * 7 + salt) % 37) });
/** A call's inputs: the ids and their attention mask (all real tokens; the interpreter applies no defaults). */
const feed = (input: Tensor): [string, Tensor][] => [["input_ids", input], ["attention_mask", { dtype: "i32", shape: input.shape, data: new Int32Array(input.data.length).fill(1) }]];

describe("the KV cache kept in place (CPU)", () => {
  for (const name of ["gpt2", "llama"] as const) {
    for (const fuse of [true, false]) {
      it(`${name}, ${fuse ? "fused" : "op by op"}: logits bit for bit those of the plain runs, state written in place`, () => {
        const plain = program(name, fuse);
        const kept = program(name, fuse);
        const g = plain.graph;
        const batch = 2;
        const calls = [ids(batch, 5, 1), ids(batch, 1, 2), ids(batch, 1, 3), ids(batch, 3, 4), ids(batch, 1, 5)];
        let states = emptyStates(g, new Map(feed(calls[0]!)));
        let buffers: Tensor["data"][] | undefined;
        let length = 0;
        for (const [i, input] of calls.entries()) {
          const out = plain.run(new Map([...feed(input), ...states]));
          states = new Map(g.states.map((st) => [st.name, out.outputs.get(st.name)!]));
          const before = { ...kept.cacheCounters };
          const readsBefore = stateReadsInPlace();
          const res = kept.runResident(new Map(feed(input)), { fresh: i === 0, capacity: 32 });
          // GPT-2's fused decode steps: attention's products read the keys and values where the GEMM's memory holds them (Kernels.stateArray).
          if (name === "gpt2" && fuse && input.shape[1] === 1 && wasmGemmAvailable()) expect(stateReadsInPlace() - readsBefore).toBeGreaterThan(0);
          expect([...res.outputs.keys()]).toEqual(["logits"]);
          expect(res.outputs.get("logits")!.data).toEqual(out.outputs.get("logits")!.data);
          length += input.shape[1]!;
          // The state buffers: at capacity from the first call, the same ones at every step.
          const now = kept.keptStates!;
          expect(now.length).toBe(length);
          const mine = g.states.map((st) => now.buffers.get(st.name)!.data);
          for (const [k, st] of g.states.entries()) {
            const b = now.buffers.get(st.name)!;
            expect(b.shape[st.axis]).toBe(32);
            // What it holds is the plain run's state.
            const v = states.get(st.name)!;
            const [outer, inner] = [v.shape.slice(0, st.axis).reduce((a, d) => a * d, 1), v.shape.slice(st.axis + 1).reduce((a, d) => a * d, 1)];
            for (let o = 0; o < outer; o++) expect(b.data.subarray(o * 32 * inner, o * 32 * inner + length * inner)).toEqual(v.data.subarray(o * length * inner, (o + 1) * length * inner));
            if (buffers) expect(mine[k]).toBe(buffers[k]);
          }
          buffers ??= mine;
          const step = { written: kept.cacheCounters.written - before.written, copied: kept.cacheCounters.copied - before.copied, allocated: kept.cacheCounters.allocated - before.allocated };
          const newBytes = g.states.reduce((s, st) => s + (states.get(st.name)!.data.length / length) * input.shape[1]! * 4, 0);
          expect(step.written).toBe(newBytes);
          if (i > 0) expect(step.allocated).toBe(0);
          // GPT-2's attention reads the cache in place (fused or op by op: see below for llama).
          // Only the padding mask's history (i32 [batch, past + seq], read by plain op kernels) may be copied, never a KV cache.
          if (name === "gpt2" && fuse) expect(step.copied).toBeLessThanOrEqual(batch * length * 4);
          if (i === calls.length - 1) console.log(`[cache] ${name} ${fuse ? "fused" : "op by op"}: last step wrote ${step.written} B, copied ${step.copied} B, allocated ${step.allocated} B`);
        }
        // A new sequence keeps the buffers allocated.
        const allocated = kept.cacheCounters.allocated;
        kept.runResident(new Map(feed(ids(batch, 2, 9))), { fresh: true, capacity: 32 });
        expect(kept.cacheCounters.allocated).toBe(allocated);
        expect(kept.keptStates!.length).toBe(2);
      });
    }
  }

  it("grows by copying when no capacity is given, and refuses a state given as an input", () => {
    const kept = program("gpt2", true);
    const k0 = () => kept.keptStates!.buffers.get("h.0.attn.k_cache")!;
    kept.runResident(new Map(feed(ids(1, 3, 1))), { fresh: true });
    expect(k0().shape[2]).toBe(3);
    kept.runResident(new Map(feed(ids(1, 1, 1))), { fresh: false });
    expect(k0().shape[2]).toBe(8);
    expect(kept.cacheCounters.copied).toBeGreaterThan(0);
    expect(() => kept.runResident(new Map(feed(ids(2, 1, 1))), { fresh: false })).toThrow(/kept at \[1, [\d, ]+\]; this call needs \[2, /);
    const st = kept.graph.states[0]!.name;
    expect(() => kept.runResident(new Map([...feed(ids(1, 1, 1)), [st, ids(1, 1, 1)]]), { fresh: false })).toThrow(/is kept by the session/);
  });
});

describe("decode attention across heads (fused.ts runAcross)", () => {
  holdThreads(3);
  // GPT-2 with 4 heads of 16 (a head's keys a multiple of 4: the small products read them in place).
  const gpt2 = { file: "models/gpt2.tfm", settings: { n_layer: 2, n_embd: 64, n_head: 4, vocab_size: 37, n_positions: 40 } };
  for (const batch of [1, 2]) {
    it(`batch ${batch}: decode steps give the bits of attention head by head, for 1, 2 and 3 threads`, () => {
      const m = compile(readFileSync(gpt2.file, "utf8"), gpt2);
      const weights = randomWeights(m.checked.instance!.weights, 5);
      const calls = [ids(batch, 33, 1), ids(batch, 1, 2), ids(batch, 1, 3), ids(batch, 2, 4), ids(batch, 1, 5)];
      const logits = (threads: number, across: boolean) => {
        setRunAcross(across);
        try {
          const p = new CpuProgram(m.graph!, weights, threadedKernels(threads));
          const before = attentionAcrossRuns();
          const out = calls.map((input, i) => p.runResident(new Map(feed(input)), { fresh: i === 0, capacity: 40 }).outputs.get("logits")!.data);
          // The two attention kernels of each step: the two-token step's too (its mask's rows, shared
          // by the heads, repeated for each). Not the prefill's (33 query rows, by blocks).
          if (wasmGemmAvailable()) expect(attentionAcrossRuns() - before).toBe(across ? 2 * calls.filter((c) => c.shape[1] < 4).length : 0);
          return out;
        } finally {
          setRunAcross(true);
        }
      };
      const want = logits(1, false);
      for (const threads of [1, 2, 3]) expect(logits(threads, true), `${threads} threads`).toEqual(want);
    });
  }
});

describe("a call that returns only the last position's logits (lastRow, a generation's prefill)", () => {
  for (const [name, kernels] of [["gpt2", undefined], ["llama", undefined], ["gpt2", plainKernels]] as const) {
    it(`${name}${kernels ? ", TypeScript kernels" : ""}: the LM head computes its last 4 rows of each sequence, the bits of the whole call's last rows`, () => {
      const { file, settings } = models[name];
      const m = compile(readFileSync(file, "utf8"), { file, settings });
      const make = () => new CpuProgram(m.graph!, randomWeights(m.checked.instance!.weights, 3), kernels);
      const [whole, last] = [make(), make()];
      for (const [seq, salt] of [[19, 1], [3, 2], [9, 3]] as const) {
        const input = ids(2, seq, salt);
        const all = whole.runResident(new Map(feed(input)), { fresh: true }).outputs.get("logits")!;
        const before = lastRowsRuns();
        const got = last.runResident(new Map(feed(input)), { fresh: true, lastRow: "logits" }).outputs.get("logits")!;
        expect(lastRowsRuns() - before, `seq ${seq}`).toBe(seq > 4 ? 1 : 0);
        expect(got.shape).toEqual([2, 1, 37]);
        const V = 37;
        const want = [0, 1].flatMap((b) => [...all.data.subarray((b * seq + seq - 1) * V, (b * seq + seq) * V)]);
        expect([...got.data], `seq ${seq}`).toEqual(want);
      }
    });
  }
});
