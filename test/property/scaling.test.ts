// Every phase is near-linear in its input: each family of generated programs is timed at size n
// and 4n, phase by phase (runs of the two sizes interleaved, the best of three of each, so that
// the load of other test files hits both alike), and the time may grow at most 8× (linear is 4×;
// quadratic would be 16×). The figures are printed. This is a ratio between runs of the same
// code in one process, not a timed assertion against a clock.
import { describe, expect, it } from "vitest";
import { buildGraph, check } from "../../src/api.js";
import { optimize } from "../../src/optimize.js";
import { schedule } from "../../src/schedule/fuse.js";
import { planMemory } from "../../src/schedule/memory.js";

/** The largest growth allowed from n to 4n. */
const maxRatio = 8;

interface Family {
  readonly name: string;
  readonly n: number;
  readonly text: (n: number) => string;
  /** Whether the program checks, so the later phases run too. */
  readonly clean: boolean;
}

const model = (body: string) => `model M {\n  input x: f32[n]\n${body}}\n`;

const families: Family[] = [
  {
    name: "a chain of elementwise bindings",
    n: 1600,
    clean: true,
    text: (n) => model(`  y0 = x\n${Array.from({ length: n }, (_, i) => `  y${i + 1} = y${i} * 1.5 + 1.0\n`).join("")}  output y = y${n}\n`),
  },
  {
    name: "a wide list literal",
    n: 4000,
    clean: true,
    text: (n) => model(`  output y = sum(stack([${Array.from({ length: n }, () => "x").join(", ")}]), 0)\n`),
  },
  {
    name: "many names, each use a typo (did-you-mean)",
    n: 300,
    clean: false,
    text: (n) => model(`${Array.from({ length: n }, (_, i) => `  value_number_${i} = x + 1.0\n`).join("")}${Array.from({ length: n }, (_, i) => `  other_${i} = valu_number_${i} * 2.0\n`).join("")}  output y = x\n`),
  },
  {
    // Issue 15 §4: 200,000 elements took 14 s and 1 GB (~10 CST nodes an element; now a lone number is one token).
    name: "a list literal of numbers (TFM4010)",
    n: 25000,
    clean: false,
    text: (n) => model(`  output y = x * sum([${Array.from({ length: n }, (_, i) => String(i % 10)).join(", ")}])\n`),
  },
  {
    // Past the depth limit, cut at the token level after the suffix that is reported (src/syntax/tokenize.ts).
    name: "a chain of x[0] (TFM1014)",
    n: 20000,
    clean: false,
    text: (n) => model(`  output y = x${"[0]".repeat(n)}\n`),
  },
  {
    name: "many syntax errors",
    n: 500,
    clean: false,
    text: (n) => model(`${"  y = )\n".repeat(n)}  output y = x\n`),
  },
];

type Phase = "check" | "build" | "optimize" | "schedule" | "plan";

function timePhases(text: string, clean: boolean): Map<Phase, number> {
  const t = new Map<Phase, number>();
  const time = <T>(phase: Phase, f: () => T): T => {
    const t0 = performance.now();
    const v = f();
    t.set(phase, performance.now() - t0);
    return v;
  };
  const r = time("check", () => check(text, "scale.tfm"));
  expect(r.diagnostics.some((d) => d.code === "TFM9001")).toBe(false);
  expect(r.diagnostics.some((d) => d.severity === "error")).toBe(!clean);
  if (!clean) return t;
  const g = time("build", () => buildGraph(r)!);
  const opt = time("optimize", () => optimize(g));
  const s = time("schedule", () => schedule(opt.graph));
  time("plan", () => planMemory(s));
  return t;
}

/** The best time of each phase over three runs of each text, interleaved. */
function best(texts: readonly string[], clean: boolean): Map<Phase, number>[] {
  const runs: Map<Phase, number>[][] = texts.map(() => []);
  for (let i = 0; i < 3; i++) texts.forEach((t, k) => runs[k]!.push(timePhases(t, clean)));
  return runs.map((rs) => new Map([...rs[0]!.keys()].map((p) => [p, Math.min(...rs.map((r) => r.get(p)!))])));
}

describe("scaling: each phase's time from n to 4n", () => {
  for (const f of families) {
    it(`${f.name} (n = ${f.n})`, () => {
      const [small, large] = [f.n, 4 * f.n].map((n) => f.text(n));
      timePhases(small!, f.clean); // warm the JIT
      const [a, b] = best([small!, large!], f.clean) as [Map<Phase, number>, Map<Phase, number>];
      const rows = [...a.keys()].map((p) => {
        // Below a few milliseconds timer noise dominates: compare from a floor of 2 ms.
        const ratio = Math.max(b.get(p)!, 2) / Math.max(a.get(p)!, 2);
        return { phase: p, small: a.get(p)!, large: b.get(p)!, ratio };
      });
      const per64k = (b.get("check")! * 65536) / large!.length;
      console.log(`[scaling] ${f.name}: ${rows.map((r) => `${r.phase} ${r.small.toFixed(1)} → ${r.large.toFixed(1)} ms (${r.ratio.toFixed(2)}×)`).join(", ")}; ${small.length} → ${large!.length} bytes; check ${per64k.toFixed(0)} ms per 64 KiB`);
      for (const r of rows) expect({ phase: r.phase, ratio: r.ratio <= maxRatio ? "near-linear" : r.ratio.toFixed(2) }).toEqual({ phase: r.phase, ratio: "near-linear" });
    });
  }
});
