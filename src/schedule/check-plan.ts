// Verifies a memory plan against a schedule, from the schedule's own liveness (like verify.ts for
// graphs): every value has a buffer provably big enough for it, nothing else has one, and two
// values live at the same step share a buffer only as a permitted in-place pair (the output of
// the step that last reads the input, listed in the plan and allowed by in-place.ts).
import { showDim } from "../core/dim.js";
import { holds, showMax } from "./dim-max.js";
import { canWriteOver } from "./in-place.js";
import type { Schedule } from "./kernel.js";
import { liveness, ScheduleError, type Value } from "./liveness.js";
import type { MemoryPlan } from "./memory.js";

/** The problems found; empty when the plan is sound for the schedule. */
export function checkPlan(plan: MemoryPlan, s: Schedule = plan.schedule): string[] {
  const problems: string[] = [];
  let lv;
  try {
    lv = liveness(s, plan.elementBytes);
  } catch (e) {
    if (e instanceof ScheduleError) return [e.message];
    throw e;
  }
  const held: Value[][] = plan.sizes.map(() => []);
  for (const v of lv.values) {
    const b = plan.buffers.get(v.node);
    if (b === undefined || !Number.isInteger(b) || b < 0 || b >= plan.sizes.length) {
      problems.push(`%${v.node} (written at step ${v.def}) has no buffer`);
      continue;
    }
    if (!holds(plan.sizes[b]!, v.bytes)) problems.push(`%${v.node} needs ${showDim(v.bytes)} bytes, but buffer ${b} has ${showMax(plan.sizes[b]!)}`);
    held[b]!.push(v);
  }
  for (const node of plan.buffers.keys()) if (!lv.byNode.has(node)) problems.push(`%${node} has a buffer but is not a value the schedule writes`);
  for (const p of s.graph.nodes) {
    const expected = lv.valueOf(p.id);
    const b = plan.bufferOf(p.id);
    if ((expected === undefined ? undefined : plan.buffers.get(expected.node)) !== b) problems.push(`bufferOf(%${p.id}) is ${b}, not its value's buffer`);
  }
  const listed = new Set(plan.inPlace.map((p) => `${p.step}:${p.input}:${p.output}`));
  const permitted = (a: Value, b: Value) =>
    a.def < b.def && a.last === b.def && listed.has(`${b.def}:${a.node}:${b.node}`) && canWriteOver(s, lv, b.def, a.node, b.node, plan.elementBytes, plan.inPlaceKinds);
  held.forEach((vs, b) => {
    const sorted = [...vs].sort((x, y) => x.def - y.def || x.node - y.node);
    for (let i = 0; i < sorted.length; i++) {
      for (let j = i + 1; j < sorted.length; j++) {
        const [x, y] = [sorted[i]!, sorted[j]!];
        if (y.def > x.last) continue;
        if (!permitted(x, y)) problems.push(`buffer ${b}: %${x.node} (live at steps ${x.def}..${x.last}) and %${y.node} (${y.def}..${y.last}) overlap`);
      }
    }
  });
  for (const p of plan.inPlace) {
    if (plan.buffers.get(p.input) === undefined || plan.buffers.get(p.input) !== plan.buffers.get(p.output)) problems.push(`in place at step ${p.step}: %${p.output} is not in %${p.input}'s buffer`);
  }
  return problems;
}
