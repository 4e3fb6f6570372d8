// Benchmark (not a test): the encoder–decoder (models/transformer.tfm) generating on the CPU with
// its caches (the encoder and the cross-attention keys/values once, the self-attention appended)
// and without (`use_cache=false`: the encoder and the whole target again at every step), the two
// interleaved in one process, each step timed in wall and CPU time (process.cpuUsage, all threads).
//
// Run: npx tsx bench/encdec.ts [--tokens 32] [--src-len 32] [--rounds 3] [--threads 1] [--set name=value ...]
// (default settings: the paper's base model, d_model 512, 6 + 6 layers, vocab 32000, random weights)
import { readFileSync } from "node:fs";
import { compile } from "../src/compile.js";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const tokens = Number(opt("--tokens", "32"));
const srcLen = Number(opt("--src-len", "32"));
const rounds = Number(opt("--rounds", "3"));
const threads = Number(opt("--threads", "1"));
const settings: Record<string, string> = {};
args.forEach((a, i) => {
  if (a === "--set") {
    const [k, v] = args[i + 1]!.split("=");
    settings[k!] = v!;
  }
});

const text = readFileSync("models/transformer.tfm", "utf8");
const load = (useCache: boolean) => compile(text, { file: "models/transformer.tfm", settings: { ...settings, use_cache: String(useCache) } }).load({ random: true, seed: 7 }, { threads });
const sessions = { cached: await load(true), recomputed: await load(false) };
const src = [Array.from({ length: srcLen }, (_, i) => 3 + ((i * 7919) % 97))];
const times: Record<string, { first: number[]; wall: number[]; cpu: number[] }> = { cached: { first: [], wall: [], cpu: [] }, recomputed: { first: [], wall: [], cpu: [] } };
const got: Record<string, number[]> = {};

for (let r = 0; r < rounds; r++) {
  for (const [name, s] of Object.entries(sessions)) {
    const out: number[] = [];
    let [t, c] = [performance.now(), process.cpuUsage()];
    for await (const tok of s.generate([1], { maxNewTokens: tokens, source: { src: { data: src } } })) {
      const [now, cpu] = [performance.now(), process.cpuUsage(c)];
      if (out.length === 0) times[name]!.first.push(now - t);
      else {
        times[name]!.wall.push(now - t);
        times[name]!.cpu.push((cpu.user + cpu.system) / 1000);
      }
      out.push(tok);
      [t, c] = [performance.now(), process.cpuUsage()];
    }
    got[name] = out;
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`models/transformer.tfm ${JSON.stringify(settings)}: source ${srcLen} tokens, ${tokens} new tokens, ${rounds} rounds interleaved, ${threads} thread(s)`);
for (const [name, t] of Object.entries(times)) {
  console.log(`  ${name.padEnd(10)} first call (source and start token) ${t.first.map((x) => x.toFixed(0)).join(", ")} ms by round; per later step: median wall ${median(t.wall).toFixed(2)} ms, CPU ${median(t.cpu).toFixed(2)} ms`);
}
console.log(`  the same tokens: ${JSON.stringify(got["cached"]) === JSON.stringify(got["recomputed"])}`);
for (const s of Object.values(sessions)) s.dispose();
