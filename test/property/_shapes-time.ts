import { generate } from "./shapes-gen.js";
import { printProgram } from "./shapes-program.js";
import { runCheck } from "./shapes-oracle.js";
let seed = 3;
const rnd = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed; };
let tg = 0, tc = 0;
const kinds = new Map<string, number>();
for (let i = 0; i < 1000; i++) {
  const c = { tape: Array.from({ length: 500 }, () => rnd() % 65536), small: [2, 3, 4] as [number, number, number], g1: [1, 2, 3] as [number, number, number], g2: [4, 5, 6] as [number, number, number] };
  const t0 = performance.now();
  const g = generate(c);
  const t1 = performance.now();
  runCheck(printProgram(g.program));
  tc += performance.now() - t1; tg += t1 - t0;
  for (const s of g.program.steps) { const k = s.expr.k === "apply" ? g.program.layers.find((l) => l.name === (s.expr as any).layer)!.kind : s.expr.k; kinds.set(k, (kinds.get(k) ?? 0) + 1); }
}
console.log("gen ms", tg.toFixed(0), "check ms", tc.toFixed(0));
console.log([...kinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}:${n}`).join(" "));
