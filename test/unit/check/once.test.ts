// States written once per sequence (`state mem: f32[B, S, d]`, no `past`; `x = once(mem, value)`):
// the checker's rules, and the three lowerings of such a model (src/ir/phases.ts).
import { describe, expect, it } from "vitest";
import { buildGraph } from "../../../src/api.js";
import { verify } from "../../../src/ir/verify.js";
import { codes, run } from "../../helpers.js";

// A toy encoder–decoder: the encoder's output projected once, the decoder's keys appended.
const model = (memory: string, extra = "") => `model M(d = 4) {
  input src: f32[B, S, d]
  input tgt: f32[B, T, d]
  param w: f32[d, d]
  state mem: ${memory}
  state k_cache: f32[B, past, d]
  m = once(mem, src @ w)
  k = append(k_cache, tgt)${extra}
  output y = tgt @ transpose(m) @ m + sum(k, 1, keepdim=true)
}
`;

describe("states written once (`once`)", () => {
  it("a model with one checks, and `tfm shapes`' states list it without `past`", () => {
    const r = run(model("f32[B, S, d]"));
    expect(r.diagnostics).toEqual([]);
    expect(r.shapes!.states.map((s) => [s.name, s.axis])).toEqual([["mem", -1], ["k_cache", 1]]);
  });

  it("what is written must have the state's type, at the user's `once`", () => {
    expect(codes(model("f32[B, S, 2 * d]"))).toEqual(["TFM4001@7:17"]);
    expect(codes(model("f32[B, S]"))).toEqual(["TFM4003@7:17"]);
    expect(codes(model("i32[B, S, d]"))).toEqual(["TFM4004@7:17"]);
  });

  it("`once` needs a state without `past`, and `append` one with it", () => {
    const src = `model M(d = 4) {
  input x: f32[B, T, d]
  state k: f32[B, past, d]
  state m: f32[B, T, d]
  a = once(k, x)
  b = append(m, x)
  output y = a + b
}
`;
    expect(codes(src)).toEqual(["TFM2019@5:12", "TFM2019@6:14"]);
    expect(run(src).diagnostics.map((d) => d.message)[1]).toContain("has no `past` dim: it is written once per sequence");
  });

  it("a state written once is read only through `once`", () => {
    expect(codes(model("f32[B, S, d]", "\n  z = mem + 1"))).toEqual(["TFM2017@9:3", "TFM2019@9:7"]);
  });

  it("written twice, or never, is TFM4016", () => {
    expect(codes(model("f32[B, S, d]", "\n  m2 = once(mem, src)\n  z = m2"))).toEqual(["TFM4016@9:8", "TFM2017@10:3"]);
    const never = `model M(d = 4) {
  input x: f32[B, T, d]
  state mem: f32[B, T, d]
  output y = x
}
`;
    expect(codes(never)).toEqual(["TFM4016@3:9"]);
    expect(run(never).diagnostics[0]!.message).toBe("the state `mem` is never written: it would stay empty");
  });

  it("lowers to a call from empty state, an encode phase and a step phase", () => {
    const r = run(model("f32[B, S, d]"));
    const [call, encode, step] = (["call", "encode", "step"] as const).map((p) => buildGraph(r, undefined, p)!);
    for (const g of [call, encode, step]) expect(verify(g)).toEqual([]);
    const names = (ps: readonly { name: string }[]) => ps.map((p) => p.name);
    // One call: `once` is its value, and the state is no port.
    expect(names(call.inputs)).toEqual(["src", "tgt", "k_cache"]);
    expect(names(call.outputs)).toEqual(["y", "k_cache"]);
    // The encode phase: the source in, the state written once out, nothing of the decoder.
    expect(names(encode.inputs)).toEqual(["src"]);
    expect(names(encode.outputs)).toEqual(["mem"]);
    expect(encode.states).toEqual([]);
    expect(encode.nodes.map((n) => n.op)).toEqual(["input", "weight", "matmul"]);
    // The step phase: the state an ordinary input, the source and what only it fed gone.
    expect(names(step.inputs)).toEqual(["tgt", "mem", "k_cache"]);
    expect(names(step.outputs)).toEqual(["y", "k_cache"]);
    expect(step.states.map((s) => s.name)).toEqual(["k_cache"]);
    expect(step.nodes.some((n) => n.op === "weight")).toBe(false);
  });
});
