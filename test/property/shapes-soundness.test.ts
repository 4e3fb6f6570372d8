// Property 1, soundness of the shape checker. Random well-shaped programs over the builtin and
// layer catalogue (shapes-gen.ts: elementwise ops with broadcasting and scalars, comparisons,
// where, matmul with batch and 1-D operands, transpose, permute, reshape with head split and
// merge, unsqueeze/squeeze, concat/stack, chunk with unpacking, take, reductions with keepdim,
// cumsum, cast, arange, zeros/ones/full, indexing and slicing, relu/gelu/softmax/log_softmax,
// masked_softmax, causal_mask, split_heads/merge_heads, scaled_dot_product_attention, Linear,
// LayerNorm, Embedding, FeedForward, MultiheadAttention, TransformerEncoderLayer) are checked, and:
//
//   - the checker reports no error (warnings TFM4009, an unprovable division, are allowed; a
//     TFM4002 only together with one, since the generator never equates different polynomials);
//   - every binding's symbolic shape (shapes.types at its name) and every output's (shapes.outputs,
//     through evalDim), evaluated at the symbols' values, equals the shape the independent
//     concrete evaluator (concrete-shapes.ts) computes, under three assignments of b, t, s.
//
// The seed is printed; replay with TFM_SHAPES_SEED=<seed>, change the length with
// TFM_SHAPES_RUNS=<n>. TFM_SHAPES_GAPS=1 also generates the constructs the checker is known to
// get wrong (out-of-range slices; shapes-bugs.test.ts). A failing program is shrunk and written
// to test/property/regressions/shapes-<hash>.tfm, which shapes-regressions.test.ts replays.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { caseArbitrary, generate } from "./shapes-gen.js";
import { minimize, runCheck, saveShapesRegression, seedFromEnv, showDiags, soundnessProblems, strictGaps, type SoundnessStats } from "./shapes-oracle.js";
import { arithOps, cmpOps, printProgram, type Expr, type Program } from "./shapes-program.js";

/** About 1-2 ms a program on the 2-core dev machine; the time limit keeps slow machines bounded. */
const DEFAULT_RUNS = 20_000;
const TIME_LIMIT_MS = 25_000;

/** What a binding exercises: the builtin, operator class, stdlib function or layer. */
function label(e: Expr, p: Program): string {
  if (e.k === "apply") return p.layers.find((l) => l.name === e.layer)?.kind ?? "apply";
  if (e.k === "std") return e.fn;
  if (e.k === "bin") return (arithOps as readonly string[]).includes(e.op) ? "arith" : (cmpOps as readonly string[]).includes(e.op) ? "compare" : "logic";
  if (e.k === "reduce") return e.fn;
  if (e.k === "fill") return e.fn;
  if (e.k === "matmul") return e.infix ? "@" : "matmul";
  if (e.k === "unary") return "unary";
  return e.k;
}

const catalogue = [
  "unary", "neg", "not", "arith", "compare", "logic", "call2", "where", "@", "matmul", "transpose", "permute", "reshape", "unsqueeze", "squeeze",
  "concat", "stack", "chunk", "take", "sum", "mean", "max", "min", "argmax", "cumsum", "cast", "arange", "zeros", "ones", "full", "index",
  "relu", "gelu", "gelu_tanh", "softmax", "log_softmax", "masked_softmax", "causal_mask", "split_heads", "merge_heads", "sdpa",
  "Linear", "LayerNorm", "Embedding", "MultiheadAttention", "FeedForward", "TransformerEncoderLayer",
];

describe("shapes: soundness on random well-shaped programs", () => {
  const { seed } = seedFromEnv();
  const numRuns = Number(process.env["TFM_SHAPES_RUNS"] || DEFAULT_RUNS);
  const opts = { outOfRangeSlices: strictGaps() };

  it("symbolic shapes agree with the concrete evaluator (seed printed; replay with TFM_SHAPES_SEED)", { timeout: 120_000 }, () => {
    expect(Number.isInteger(seed), "TFM_SHAPES_SEED must be an integer").toBe(true);
    console.log(`[shapes-soundness] seed=${seed} numRuns=${numRuns} (replay: TFM_SHAPES_SEED=${seed})`);
    let tried = 0;
    let steps = 0;
    const stats: SoundnessStats = { bindings: 0, warnings: 0, garbled: 0 };
    const covered = new Set<string>();
    const t0 = performance.now();
    const details = fc.check(
      fc.property(caseArbitrary(), (c) => {
        tried++;
        const g = generate(c, opts);
        steps += g.program.steps.length;
        for (const st of g.program.steps) covered.add(label(st.expr, g.program));
        const text = printProgram(g.program);
        const r = runCheck(text); // an exception fails the property
        const problems = soundnessProblems(g.program, g.assignments, text, r, stats);
        if (problems.length) throw new Error(`${problems.join("\n")}\n  diagnostics:\n    ${showDiags(text, r)}`);
      }),
      { seed, numRuns, interruptAfterTimeLimit: TIME_LIMIT_MS, markInterruptAsFailure: false },
    );
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(
      `[shapes-soundness] tried ${tried} programs (${details.numRuns} runs, ${details.numShrinks} shrinks; ${steps} bindings, ` +
        `${stats.bindings} shapes compared, ${stats.warnings} TFM4xxx warnings, ${stats.garbled} garbled by a known bug) in ${seconds} s` +
        `${details.interrupted ? " (stopped at the time limit)" : ""}`,
    );
    if (details.failed && details.counterexample) {
      const [c] = details.counterexample;
      const g = generate(c, opts);
      const judge = (q: Program) => {
        const text = printProgram(q);
        return soundnessProblems(q, g.assignments, text, runCheck(text));
      };
      const program = minimize(g.program, (q) => judge(q).length > 0);
      const text = printProgram(program);
      const problems = judge(program);
      const path = saveShapesRegression({ property: "soundness", program, assignments: g.assignments, note: problems[0] ?? "" });
      expect.fail(
        `the checker disagrees with the concrete evaluator (seed ${seed}, path ${details.counterexamplePath}; replay: TFM_SHAPES_SEED=${seed})\nsaved to ${path}\n\n` +
          `${text}\nassignments: ${JSON.stringify(g.assignments)}\n${problems.join("\n")}\n  diagnostics:\n    ${showDiags(text, runCheck(text))}`,
      );
    }
    expect(details.failed).toBe(false);
    expect(tried).toBeGreaterThan(100);
    // The whole catalogue was exercised.
    const missing = catalogue.filter((k) => !covered.has(k));
    console.log(`[shapes-soundness] catalogue coverage: ${catalogue.length - missing.length}/${catalogue.length}${missing.length ? ` (missing: ${missing.join(", ")})` : ""}`);
    if (tried >= 2000) expect(missing).toEqual([]);
  });
});
