// The accuracy cost of other weights (int8, f16) against f32, measured the same way by every test
// of them: on the GPT-2 fixture with PyTorch-made weights (test/fixtures/gpt2.py, built into a
// fresh folder by test/fixtures/build.py), the logits' largest error over the prompt and the greedy
// tokens' agreement over 57 steps (the 7-token prompt and 57 fill the fixture's 64 positions).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { compile, type CompiledModel } from "../../src/compile.js";
import type { Session } from "../../src/session.js";

const python = process.env["TFM_PYTHON"] ?? "/usr/bin/python3";

/** The GPT-2 generate fixture, built once for the calling describe block (removed after it). */
export function gpt2Fixture(): () => { model: CompiledModel; weights: string; prompt: number[][] } {
  let out = "";
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), "tfm-agreement-"));
    const r = spawnSync(python, ["test/fixtures/build.py", out], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`building the PyTorch fixtures failed (${python}): ${r.error?.message ?? r.stderr}`);
  }, 120_000);
  afterAll(() => out && rmSync(out, { recursive: true, force: true }));
  return () => {
    const dir = join(out, "gpt2_generate");
    const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { model: string; settings: Record<string, number> };
    const ref = JSON.parse(readFileSync(join(dir, "generate.json"), "utf8")) as { prompt: number[][] };
    return { model: compile(readFileSync(m.model, "utf8"), { file: m.model, settings: m.settings }), weights: join(dir, "weights.safetensors"), prompt: ref.prompt };
  };
}

export interface Agreement {
  /** The largest |logit error| over the prompt, and the largest |logit| of f32's. */
  readonly err: number;
  readonly scale: number;
  /** Per prompt row: the steps whose tokens are equal, and how many first tokens are. */
  readonly same: readonly number[];
  readonly prefix: readonly number[];
  /** The sentence the test prints. */
  readonly line: string;
}

/** How `other` agrees with `f32` on `prompt`: its logits, then 57 greedy tokens. */
export async function agreement(f32: Session, other: Session, prompt: number[][], what: string): Promise<Agreement> {
  const ids = { input_ids: { data: prompt } };
  const [a, b] = [(await f32.run(ids)).logits!.data, (await other.run(ids)).logits!.data];
  let err = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  const gen = async (s: Session) => {
    const steps: number[][] = [];
    for await (const t of s.generate(prompt, { maxNewTokens: 57 })) steps.push(t);
    return prompt.map((_, r) => steps.map((t) => t[r]!));
  };
  const [ta, tb] = [await gen(f32), await gen(other)];
  const same = ta.map((row, r) => row.filter((t, i) => t === tb[r]![i]).length);
  const prefix = ta.map((row, r) => {
    let i = 0;
    while (i < row.length && row[i] === tb[r]![i]) i++;
    return i;
  });
  const line = `${what}: max |logit error| ${err.toExponential(2)} (max |logit| ${scale.toFixed(2)}, ${((100 * err) / scale).toFixed(3)}%); greedy ${ta[0]!.length} tokens × ${ta.length}: equal at ${same.join(", ")} positions, same first ${prefix.join(", ")} tokens`;
  return { err, scale, same, prefix, line };
}
