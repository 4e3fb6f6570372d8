import { readFileSync } from "node:fs";
import { check, buildGraph } from "../src/api.js";
import { CpuProgram } from "../src/backends/cpu/interpret.js";
import { randomWeights } from "../src/runtime/init.js";
const text = readFileSync("models/gpt2.tfm", "utf8");
let t0 = performance.now();
const r = check(text, "models/gpt2.tfm", { settings: new Map() });
console.log(r.diagnostics.map(d=>d.message));
const g = buildGraph(r)!;
let t1 = performance.now();
const w = randomWeights(r.instance!.weights, 0);
let t2 = performance.now();
const p = new CpuProgram(g, w);
let t3 = performance.now();
console.log("check", t1-t0, "weights", t2-t1, "program", t3-t2, g.nodes.length);
console.log(r.instance!.weights.slice(0,20).map(x=>`${x.name} ${x.shape} ${x.owner} ${x.transposed}`));
const ids = new Int32Array(128); for (let i=0;i<128;i++) ids[i]=(i*7919)%50257;
for (let k=0;k<3;k++){ const t=performance.now(); const res = p.run(new Map([["input_ids", {dtype:"i32", shape:[1,128], data:ids} as any]]), {profile:k==2}); console.log(performance.now()-t); if(res.profile) console.log(res.profile);}
