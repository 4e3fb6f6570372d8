// Random weights' normals in WebAssembly (src/runtime/normals-wasm.ts) are the JavaScript
// ziggurat's, bit for bit: the same generator state gives the same values for several σ and
// lengths (chunk edges included), through all three of its cases — inside a layer, the wedge
// (exp by series, in the module) and the tail (handed back to JavaScript) — and leaves the
// generator where the JavaScript path leaves it.
import { describe, expect, it } from "vitest";
import { fillNormalsJs, fillWeight, normalsInto, Rng } from "../../../src/runtime/init.js";
import { CHUNK } from "../../../src/runtime/normals-wasm.js";

const R = 3.442619855899; // where the ziggurat's tail starts

describe("normals in WebAssembly", () => {
  for (const [sigma, n] of [[1, 3_000_000], [0.02, CHUNK + 1], [1.5, 2 * CHUNK - 1], [0.125, 7]] as const) {
    it(`σ = ${sigma}, ${n} values: the JavaScript ziggurat's bits, and its generator state after`, () => {
      const wasm = fillWeight(new Float32Array(n), { kind: "normal", std: sigma }, 7, `w${n}`);
      const js = fillNormalsJs(new Float32Array(n), sigma, new Rng(7, `w${n}`));
      const differ = wasm.findIndex((v, i) => !Object.is(v, js[i]));
      expect(differ, differ >= 0 ? `first difference at ${differ}: ${wasm[differ]} against ${js[differ]}` : "").toBe(-1);
      if (n >= 1_000_000) {
        // Tails were drawn (|x| > R), and so, at this length, were wedges (~1% of draws).
        expect(wasm.filter((v) => Math.abs(v) > R * sigma).length).toBeGreaterThan(100);
      }
    });
  }

  it("leaves the generator where JavaScript leaves it", () => {
    for (const n of [5, CHUNK, 200_001]) {
      const a = new Rng(3, "s"), b = new Rng(3, "s");
      const wasm = normalsInto(new Float32Array(n), 0.5, a);
      const js = fillNormalsJs(new Float32Array(n), 0.5, b);
      expect(wasm.findIndex((v, i) => !Object.is(v, js[i]))).toBe(-1);
      expect([a.next(), a.next()]).toEqual([b.next(), b.next()]);
    }
  });
});
