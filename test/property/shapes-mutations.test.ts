// Property 2, no silent acceptance: ill-shaped programs never check clean.
//
// 1. Random well-shaped programs (shapes-gen.ts) get one random mutation of each kind that
//    applies (shapes-mutate.ts: swap two dims of an input type, drop an input's leading dim so a
//    2-D tensor goes where a 3-D one is needed, change an input's element type, drop a transpose
//    before a matmul, change a reshape target, change a concat/stack dim, change any axis, a head
//    count that does not divide the model dim, in_features off by one, rewire an argument, swap
//    matmul operands). The concrete evaluator then decides what the checker must say
//    (shapes-oracle.ts `classify`):
//      error             — ill-shaped whatever the symbols' values: a wrong number of dims, a wrong
//                          element type, an axis out of range, two compile-time sizes that differ,
//                          or a compile-time size that does not divide (n_head ∤ d_model):
//                          at least one diagnostic of severity error;
//      error-or-warning  — the sizes involved depend on symbols (t vs s, t vs 12, t odd for
//                          chunk(…, 2)), so other values might fit: an error, or at least a
//                          TFM4002/TFM4009 warning that the unmutated program did not have;
//      valid             — the mutation kept it well-shaped: no error and the right shapes;
//      unclassified      — not a shape rule (an index out of bounds, an undefined name) or a
//                          known checker bug (shapes-bugs.test.ts): invariants only.
//    Every result, whatever the class: no exception, no TFM9001, every diagnostic in the user's
//    file with a span inside the text.
// 2. The models in models/ with --set head counts that do not divide the model dim: TFM3001, at
//    the split_heads call; with ones that do: clean, and the output shape right.
// 3. Hand-written programs with each kind of mutation, where the exact code and line are known.
//
// The seed is printed; replay with TFM_SHAPES_SEED=<seed> (TFM_SHAPES_MUTATION_RUNS=<n>). A failing
// mutated program is shrunk and written to test/property/regressions/shapes-<hash>.tfm.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CheckResult } from "../../src/api.js";
import { evalDim } from "../../src/core/dim.js";
import { LineMap } from "../../src/diag/span.js";
import { repoFile } from "./corpus.js";
import { caseArbitrary, Chooser, generate } from "./shapes-gen.js";
import { mutationKinds, mutations } from "./shapes-mutate.js";
import {
  classify, FILE, invariantProblems, minimize, mutationProblems, runCheck, saveShapesRegression, seedFromEnv, showDiags, type Expectation,
} from "./shapes-oracle.js";
import { printProgram, type Program } from "./shapes-program.js";

const DEFAULT_RUNS = 3500;
const TIME_LIMIT_MS = 25_000;
/** One seed for every property of this file (TFM_SHAPES_SEED, else random), printed. */
const { seed } = seedFromEnv();

// ---- 1. random programs, random mutations -------------------------------------------------------

describe("shapes: mutations of random programs are never accepted silently", () => {
  const numRuns = Number(process.env["TFM_SHAPES_MUTATION_RUNS"] || DEFAULT_RUNS);

  it("every ill-shaped mutant gets an error or a warning (seed printed; replay with TFM_SHAPES_SEED)", { timeout: 120_000 }, () => {
    console.log(`[shapes-mutations] seed=${seed} numRuns=${numRuns} (replay: TFM_SHAPES_SEED=${seed})`);
    let tried = 0;
    let mutants = 0;
    const counts = new Map<string, number>();
    const bump = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
    const judge = (program: Program, g: ReturnType<typeof generate>, base: CheckResult) => {
      const text = printProgram(program);
      const r = runCheck(text);
      const { expect: want, why } = classify(program, g.assignments);
      return { text, r, want, why, problems: mutationProblems(want, program, g.assignments, text, r, base) };
    };
    const t0 = performance.now();
    const details = fc.check(
      fc.property(caseArbitrary(), fc.nat(), (c, mseed) => {
        tried++;
        const g = generate(c);
        const base = runCheck(printProgram(g.program));
        for (const m of mutations(g.program, g.assignments, new Chooser(mseed))) {
          mutants++;
          const { text, r, want, why, problems } = judge(m.program, g, base);
          bump(`${m.kind}:${want}`);
          if (want !== "valid" && want !== "unclassified") bump(`caught:${r.diagnostics.some((d) => d.severity === "error") ? "error" : "warning"}`);
          if (problems.length) throw new Error(`${m.kind} (${m.description}) → expected ${want}: ${why}\n${problems.join("\n")}\n  diagnostics:\n    ${showDiags(text, r)}`);
        }
      }),
      { seed, numRuns, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false },
    );
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    const table = mutationKinds.map((k) => `${k} ${(["error", "error-or-warning", "valid", "unclassified"] as Expectation[]).map((e) => `${e}=${counts.get(`${k}:${e}`) ?? 0}`).join(" ")}`);
    console.log(
      `[shapes-mutations] tried ${tried} programs, ${mutants} mutants (${details.numRuns} runs, ${details.numShrinks} shrinks) in ${seconds} s` +
        `${details.interrupted ? " (stopped at the time limit)" : ""}; ill-shaped ones caught by an error: ${counts.get("caught:error") ?? 0}, by a warning only: ${counts.get("caught:warning") ?? 0}\n  ${table.join("\n  ")}`,
    );
    if (details.failed && details.counterexample) {
      const [c, mseed] = details.counterexample;
      const g = generate(c);
      const base = runCheck(printProgram(g.program));
      const failing = mutations(g.program, g.assignments, new Chooser(mseed)).find((m) => judge(m.program, g, base).problems.length);
      if (!failing) expect.fail(`the failure did not reproduce (seed ${seed}): ${String(details.errorInstance)}`);
      const first = judge(failing!.program, g, base);
      const program = minimize(failing!.program, (q) => {
        const j = judge(q, g, base);
        return j.want === first.want && j.problems.length > 0;
      });
      const j = judge(program, g, base);
      const note = `${failing!.kind} (${failing!.description}); expected ${j.want}: ${j.why}\n${j.problems[0] ?? ""}`;
      const path = saveShapesRegression({ property: "mutation", program, assignments: g.assignments, expect: j.want, note });
      expect.fail(`a mutated program broke the property (seed ${seed}, path ${details.counterexamplePath}; replay: TFM_SHAPES_SEED=${seed})\nsaved to ${path}\n\n${j.text}\n${note}\n${j.problems.join("\n")}\n  diagnostics:\n    ${showDiags(j.text, j.r)}`);
    }
    expect(details.failed).toBe(false);
    // Every kind of mutation was exercised, and produced ill-shaped programs.
    for (const k of mutationKinds) expect((counts.get(`${k}:error`) ?? 0) + (counts.get(`${k}:error-or-warning`) ?? 0), `mutation kind ${k}`).toBeGreaterThan(0);
  });
});

// ---- 2. the models, with head counts that do and do not divide the model dim ------------------

interface HeadsCase {
  readonly model: string;
  readonly dim: string;
  readonly heads: string;
  /** Other settings that make the model small and quick to check. */
  readonly small: Record<string, string>;
  /** The output and the line of the split_heads call that must be reported. */
  readonly output: string;
  readonly splitLine: string;
  /** The sinusoidal encoding also needs an even model dim (d_model / 2 frequencies). */
  readonly even?: boolean;
}

const headsCases: HeadsCase[] = [
  { model: "gpt2", dim: "n_embd", heads: "n_head", small: { n_layer: "1", vocab_size: "50" }, output: "logits", splitLine: "k = split_heads(k, n_head)" },
  { model: "bert", dim: "hidden_size", heads: "num_attention_heads", small: { num_hidden_layers: "1", vocab_size: "50" }, output: "last_hidden_state", splitLine: "q = split_heads(query(x), num_attention_heads)" },
  { model: "transformer", dim: "d_model", heads: "nhead", small: { num_encoder_layers: "1", num_decoder_layers: "1", dim_feedforward: "8" }, output: "log_probs", splitLine: "memory = encoder(src_x, memory_mask)", even: true },
];

describe("shapes: head counts set with --set on the models", () => {
  for (const hc of headsCases) {
    it(`${hc.model}: ${hc.heads} must divide ${hc.dim} (TFM3001 at the split, else clean)`, () => {
      const text = readFileSync(repoFile(`models/${hc.model}.tfm`), "utf8");
      const map = new LineMap(text);
      const splitLine = text.split("\n").findIndex((l) => l.includes(hc.splitLine)) + 1;
      expect(splitLine).toBeGreaterThan(0);
      let tried = 0;
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 8 }), (perHead, heads) => {
          tried++;
          const dim = perHead * heads + (perHead % 3 === 0 ? 0 : perHead % heads); // sometimes divisible, sometimes not
          const r = runCheck(text, { ...hc.small, [hc.dim]: String(dim), [hc.heads]: String(heads) });
          expect(invariantProblems(text, r)).toEqual([]);
          const errors = r.diagnostics.filter((d) => d.severity === "error");
          if (hc.even && dim % 2 !== 0) {
            // d_model / 2 in sinusoidal_encoding: TFM3001 as well, at the positional encoding.
            expect(errors.length, showDiags(text, r)).toBeGreaterThan(0);
            expect(errors.every((d) => d.code === "TFM3001"), showDiags(text, r)).toBe(true);
          } else if (dim % heads !== 0) {
            expect(errors.length, `${hc.dim}=${dim} ${hc.heads}=${heads}: ${showDiags(text, r)}`).toBeGreaterThan(0);
            expect(errors.every((d) => d.code === "TFM3001"), showDiags(text, r)).toBe(true);
            expect(errors.some((d) => map.position(d.span.start).line === splitLine), showDiags(text, r)).toBe(true);
          } else {
            expect(r.diagnostics, `${hc.dim}=${dim} ${hc.heads}=${heads}: ${showDiags(text, r)}`).toEqual([]);
            const out = r.shapes!.outputs.find((o) => o.name === hc.output)!;
            expect(out.value.kind).toBe("tensor");
            // [batch, seq, <last>]: the last dim is a compile-time number.
            if (out.value.kind === "tensor") expect(out.value.shape.length).toBe(3);
            if (out.value.kind === "tensor" && hc.model === "bert") expect(evalDim(out.value.shape[2]!, new Map())).toBe(dim);
          }
        }),
        { seed, numRuns: 25 },
      );
      console.log(`[shapes-mutations] ${hc.model}: tried ${tried} settings of ${hc.dim}/${hc.heads} (seed=${seed})`);
    });
  }
});

// ---- 3. hand-written programs, one mutation each, with the exact diagnostic --------------------

const ATTN = `model Attn(d = 16, nh = 4) {
  input x: f32[b, t, d]
  input mem: f32[b, s, d]
  layer q_proj = Linear(d, d)
  layer k_proj = Linear(d, d)
  q = split_heads(q_proj(x), nh)
  k = split_heads(k_proj(mem), nh)
  v = split_heads(mem, nh)
  scores = q @ transpose(k)
  w = softmax(scores)
  h = transpose(w @ v, 1, 2)
  both = concat([x, mem], dim=1)
  output y = reshape(h, [b, t, d])
  output z = sum(both, -1)
}
`;

/** Same, with every dim a compile-time number: then a mismatch is certain. */
const ATTN_FIXED = ATTN.replace("input x: f32[b, t, d]", "input x: f32[b, 8, d]").replace("input mem: f32[b, s, d]", "input mem: f32[b, 8, d]").replace("[b, t, d]", "[b, 8, d]");

interface Hand {
  readonly name: string;
  readonly base: string;
  readonly from: string;
  readonly to: string;
  readonly settings?: Record<string, string>;
  /** The diagnostic that must be there, and a text on the line where it must be ("none": clean). */
  readonly code: string;
  readonly severity: "error" | "warning" | "none";
  readonly line: string;
}

const hand: Hand[] = [
  // drop a transpose before a matmul: q @ k with k [b, nh, s, dh]: the inner dims are dh (4) and s,
  // equal only if s == 4, so a warning; with every dim fixed, an error.
  { name: "drop a transpose (symbolic s)", base: ATTN, from: "q @ transpose(k)", to: "q @ k", code: "TFM4002", severity: "warning", line: "scores = q @ k" },
  { name: "drop a transpose (fixed dims)", base: ATTN_FIXED, from: "q @ transpose(k)", to: "q @ k", code: "TFM4006", severity: "error", line: "scores = q @ k" },
  // n_head not dividing d_model
  { name: "nh ∤ d via --set", base: ATTN, from: "", to: "", settings: { nh: "3" }, code: "TFM3001", severity: "error", line: "q = split_heads(q_proj(x), nh)" },
  { name: "split_heads(mem, 3)", base: ATTN, from: "split_heads(mem, nh)", to: "split_heads(mem, 3)", code: "TFM3001", severity: "error", line: "v = split_heads(mem, 3)" },
  { name: "MultiheadAttention(10, 3)", base: "model M {\n  input x: f32[b, t, 10]\n  layer attn = MultiheadAttention(10, 2)\n  output y = attn(x, x, x)\n}\n", from: "MultiheadAttention(10, 2)", to: "MultiheadAttention(10, 3)", code: "TFM3001", severity: "error", line: "output y = attn(x, x, x)" },
  // swap two dims in an input type: Linear(d, d) now meets t where it needs 16: t might be 16
  { name: "swap input dims", base: ATTN, from: "input x: f32[b, t, d]", to: "input x: f32[b, d, t]", code: "TFM4002", severity: "warning", line: "q = split_heads(q_proj(x), nh)" },
  { name: "swap input dims (fixed)", base: ATTN_FIXED, from: "input x: f32[b, 8, d]", to: "input x: f32[b, d, 8]", code: "TFM4001", severity: "error", line: "q = split_heads(q_proj(x), nh)" },
  // feed a 2-D tensor where a 3-D one is needed (as the test of source document 001 does)
  { name: "2-D into split_heads", base: ATTN, from: "input x: f32[b, t, d]", to: "input x: f32[t, d]", code: "TFM4003", severity: "error", line: "q = split_heads(q_proj(x), nh)" },
  { name: "2-D into MultiheadAttention", base: "model M {\n  input x: f32[b, t, 8]\n  layer attn = MultiheadAttention(8, 2)\n  output y = attn(x, x, x)\n}\n", from: "f32[b, t, 8]", to: "f32[t, 8]", code: "TFM4003", severity: "error", line: "output y = attn(x, x, x)" },
  // change a reshape target
  { name: "reshape to another symbol", base: ATTN, from: "[b, t, d])", to: "[b, s, d])", code: "TFM4002", severity: "warning", line: "output y = reshape(h, [b, s, d])" },
  { name: "reshape to another size", base: ATTN, from: "[b, t, d])", to: "[b, t, d + 1])", code: "TFM4007", severity: "error", line: "output y = reshape(h, [b, t, d + 1])" },
  // change a concat dim
  { name: "concat along d", base: ATTN, from: "dim=1)", to: "dim=2)", code: "TFM4002", severity: "warning", line: "both = concat([x, mem], dim=2)" },
  { name: "concat along a missing dim", base: ATTN, from: "dim=1)", to: "dim=3)", code: "TFM4008", severity: "error", line: "both = concat([x, mem], dim=3)" },
  // a wrong axis
  { name: "softmax over a missing dim", base: ATTN, from: "softmax(scores)", to: "softmax(scores, 4)", code: "TFM4008", severity: "error", line: "w = softmax(scores, 4)" },
  { name: "transpose a missing dim", base: ATTN, from: "transpose(w @ v, 1, 2)", to: "transpose(w @ v, 1, 4)", code: "TFM4008", severity: "error", line: "h = transpose(w @ v, 1, 4)" },
  // transposing the wrong dims before a reshape keeps the element count: no shape rule can see it
  { name: "transpose the wrong dims, then reshape", base: ATTN, from: "transpose(w @ v, 1, 2)", to: "transpose(w @ v, 0, 2)", code: "", severity: "none", line: "" },
  // in_features off by one
  { name: "Linear(d + 1, d)", base: ATTN, from: "layer q_proj = Linear(d, d)", to: "layer q_proj = Linear(d + 1, d)", code: "TFM4001", severity: "error", line: "q = split_heads(q_proj(x), nh)" },
  // the wrong tensor: attention weights [b, nh, t, s] times queries [b, nh, t, dh]
  { name: "w @ q instead of w @ v", base: ATTN, from: "w @ v", to: "w @ q", code: "TFM4002", severity: "warning", line: "h = transpose(w @ q, 1, 2)" },
  // a causal mask of the wrong length: [s, s] against scores [b, nh, t, t]
  {
    name: "causal_mask of the wrong length",
    base: "model M(d = 8) {\n  input x: f32[b, t, d]\n  input mem: f32[b, s, d]\n  output y = scaled_dot_product_attention(x, x, x, causal_mask(t))\n}\n",
    from: "causal_mask(t)", to: "causal_mask(s)", code: "TFM4002", severity: "warning", line: "output y = scaled_dot_product_attention(x, x, x, causal_mask(s))",
  },
];

describe("shapes: hand-written mutations, each with its diagnostic", () => {
  for (const h of hand) {
    it(`${h.name}: ${h.severity === "none" ? "clean (shape-preserving; only numerics can catch it)" : `${h.severity} ${h.code}`}`, () => {
      // The unmutated program is clean.
      const clean = runCheck(h.base);
      expect(clean.diagnostics.filter((d) => d.severity === "error" || d.code.startsWith("TFM4")), showDiags(h.base, clean)).toEqual([]);
      expect(h.from === "" || h.base.split(h.from).length === 2, `"${h.from}" must occur once`).toBe(true);
      const text = h.from === "" ? h.base : h.base.replace(h.from, h.to);
      const r = runCheck(text, h.settings);
      expect(invariantProblems(text, r)).toEqual([]);
      if (h.severity === "none") {
        expect(r.diagnostics, showDiags(text, r)).toEqual([]);
        return;
      }
      const map = new LineMap(text);
      const line = text.split("\n").findIndex((l) => l.includes(h.line)) + 1;
      expect(line, `no line with "${h.line}"`).toBeGreaterThan(0);
      const hit = r.diagnostics.find((d) => d.code === h.code && d.severity === h.severity && d.file === FILE && map.position(d.span.start).line === line);
      expect(hit, `expected ${h.severity} ${h.code} on line ${line}; got:\n    ${showDiags(text, r)}`).toBeDefined();
      // A mismatch between symbolic dims is a warning only: no error beside it.
      if (h.severity === "warning") expect(r.diagnostics.filter((d) => d.severity === "error"), showDiags(text, r)).toEqual([]);
    });
  }

  it("transformer.tfm with the decoder's inputs swapped: seq vs src_len is a warning, not silence", () => {
    const text = readFileSync(repoFile("models/transformer.tfm"), "utf8");
    const from = "x = decoder(tgt_x, memory, memory_mask, padding_mask(target_mask))";
    expect(text.includes(from)).toBe(true);
    const mutated = text.replace(from, "x = decoder(memory, tgt_x, memory_mask, padding_mask(target_mask))");
    const r = runCheck(mutated, { num_encoder_layers: "1", num_decoder_layers: "1" });
    expect(invariantProblems(mutated, r)).toEqual([]);
    expect(r.diagnostics.filter((d) => d.severity === "error"), showDiags(mutated, r)).toEqual([]);
    const warnings = r.diagnostics.filter((d) => d.code === "TFM4002");
    expect(warnings.length, showDiags(mutated, r)).toBeGreaterThan(0);
    expect(warnings.some((d) => /src_len/.test(d.message) && /tgt_len/.test(d.message)), showDiags(mutated, r)).toBe(true);
  });
});

