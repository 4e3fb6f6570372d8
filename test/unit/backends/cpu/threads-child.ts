// Run by threads.test.ts in its own process: loads a small GPT-2 with 3 threads, runs it once and
// returns without disposing the session — the process must still exit (the workers are unref'd).
import { readFileSync } from "node:fs";
import { compile } from "../../../../src/compile.js";
import { gemmWorkers } from "../../../../src/backends/cpu/kernels/index.js";

const model = compile(readFileSync("models/gpt2.tfm", "utf8"), { file: "models/gpt2.tfm", settings: { n_layer: 1, n_embd: 64, n_head: 2, vocab_size: 4000, n_positions: 16 } });
const session = await model.load({ random: true }, { threads: 3 });
const out = await session.run({ input_ids: { data: [[1, 2, 3, 4]] } });
console.log(`workers ${gemmWorkers()} logits ${out["logits"]!.shape.join("x")}`);
