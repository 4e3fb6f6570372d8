import fc from "fast-check";
import { caseArbitrary, generate } from "./shapes-gen.js";
import { printProgram } from "./shapes-program.js";
import { runCheck, soundnessProblems, showDiags } from "./shapes-oracle.js";
const seed = Number(process.argv[2] ?? 1);
const N = Number(process.argv[3] ?? 5);
const cases = fc.sample(caseArbitrary(), { seed, numRuns: N });
let fails = 0, total = 0, steps = 0;
const stats = { bindings: 0, warnings: 0, garbled: 0 };
const t0 = performance.now();
for (const c of cases) {
  const g = generate(c, { outOfRangeSlices: process.env["GAPS"] === "1" });
  const text = printProgram(g.program);
  const r = runCheck(text);
  const probs = soundnessProblems(g.program, g.assignments, text, r, stats);
  total++; steps += g.program.steps.length;
  if (probs.length) {
    fails++;
    if (fails <= 2) { console.log(text); console.log(probs.join("\n")); console.log("  diags:", showDiags(text, r)); console.log(JSON.stringify(g.assignments)); }
  } else if (total < 2) console.log(text);
}
console.log(`total ${total} fails ${fails} avg steps ${(steps / total).toFixed(1)} ms ${(performance.now() - t0).toFixed(0)}`, stats);
