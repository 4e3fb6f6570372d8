import { check } from "../../src/api.js";
const src = process.argv[2]!;
const r = check(src, "t.tfm");
for (const d of r.diagnostics) console.log(d.code, d.severity, d.span.start, d.span.end, d.message);
if (r.shapes) for (const [k, v] of r.shapes.types) if (k.startsWith("t.tfm")) console.log(k, JSON.stringify(src.slice(+k.split(":")[1]!, +k.split(":")[2]!)), v.join(" | "));
