// The CPU's kernel transients (src/backends/cpu/transients.ts): `Transients`, which a program's
// budget check calls at every call and which keeps each kernel's figure by the dims it depends on,
// gives exactly largestTransient's figures over a sequence of calls whose dims change one at a time
// (decode steps: only `past`) and back; and the values several kernels absorb are counted once.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../../../src/compile.js";
import { optimize } from "../../../../src/optimize.js";
import { schedule } from "../../../../src/schedule/fuse.js";
import { dimValue } from "../../../../src/backends/shared/inputs.js";
import { largestTransient, sharedAbsorbed, transientBytes, Transients } from "../../../../src/backends/cpu/transients.js";
import type { Node } from "../../../../src/ir/graph.js";

describe("kernel transients", () => {
  const m = compile(readFileSync("models/gpt2.tfm", "utf8"), { file: "models/gpt2.tfm", settings: { n_layer: 2, n_embd: 16, n_head: 2, vocab_size: 37, n_positions: 64 } });
  const s = schedule(optimize(m.graph!).graph);
  const at = (dims: Record<string, number>) => {
    const values = new Map(Object.entries(dims));
    return { values, shape: (n: Node) => n.shape.map((d) => dimValue(d, values)) };
  };

  it("Transients gives largestTransient's figures as the dims change and come back", () => {
    const t = new Transients(s);
    const calls = [{ batch: 1, seq: 9, past: 0 }, ...Array.from({ length: 6 }, (_, i) => ({ batch: 1, seq: 1, past: 9 + i })), { batch: 3, seq: 1, past: 14 }, { batch: 1, seq: 40, past: 0 }, { batch: 1, seq: 1, past: 12 }, { batch: 1, seq: 9, past: 0 }];
    const seen = new Set<number>();
    for (const dims of calls) {
      const { values, shape } = at(dims);
      const want = largestTransient(s, shape);
      const got = t.largest(shape, values);
      expect(got.bytes, JSON.stringify(dims)).toBe(want.bytes);
      expect(got.kernel?.id, JSON.stringify(dims)).toBe(want.kernel?.id);
      seen.add(want.bytes);
    }
    // The figures do change with the dims (the test would not see a stale one otherwise).
    expect(seen.size).toBeGreaterThan(3);
  });

  it("counts the values several kernels absorb (the mask every layer's attention reads) once, beside the largest kernel's", () => {
    const shared = sharedAbsorbed(s);
    expect(shared.size).toBeGreaterThan(0);
    const { shape } = at({ batch: 2, seq: 30, past: 5 });
    const largest = Math.max(...s.kernels.map((k) => transientBytes(k, s.graph, shape)));
    const held = [...shared].reduce((a, id) => a + shape(s.graph.nodes[id]!).reduce((x, d) => x * d, 1) * (s.graph.nodes[id]!.dtype === "bool" ? 1 : 4), 0);
    expect(largestTransient(s, shape).bytes).toBe(largest + held);
  });
});
