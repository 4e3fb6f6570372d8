// `tfm viz attention FILE (--weights W | --random-weights) (--input NAME=... | --tokenizer T --prompt TEXT)
// [--batch I] [--capture PATTERN] -o DIR`: runs the model capturing its attention weights (by default
// `**.weights`, what the library's attention functions bind) and draws them (src/viz/attention.ts):
// DIR/attention.svg and .png (every layer × head, the tokens as labels) and DIR/attention.html
// (the same, self-contained, with the drawn numbers as JSON).
import { join } from "node:path";
import { mkdirSync } from "node:fs";
import { compile, renderDiagnostics, TfmError } from "../index.js";
import { diag, hasErrors, type Diagnostic } from "../diag/diagnostic.js";
import { loadInputs, parseInputArg, type InputSpec } from "../runtime/inputs.js";
import { parseSeed } from "../runtime/init.js";
import { fileErrorDiagnostic } from "../runtime/files.js";
import { WeightFileError } from "../weights/errors.js";
import { attentionSpec, type AttentionMap } from "../viz/attention.js";
import { selectCaptures } from "../ir/capture.js";
import { htmlPage, vegaLiteToSvg } from "../viz/render.js";
import { loadTokenizer } from "./generate.js";
import { readSource, UsageError } from "./io.js";
import { writePicture } from "./viz.js";

export interface VizAttentionOptions {
  readonly set: Map<string, string>;
  readonly weights?: string;
  readonly randomWeights?: boolean;
  readonly seed?: string;
  readonly input: readonly string[];
  readonly tokenizer?: string;
  readonly prompt?: string;
  readonly batch?: string;
  readonly capture?: readonly string[];
  readonly output: string;
  readonly force?: boolean;
}

export async function runVizAttention(file: string, opts: VizAttentionOptions, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  if (!opts.weights === !opts.randomWeights) throw new UsageError("give exactly one of --weights PATH and --random-weights");
  if (opts.prompt !== undefined && !opts.tokenizer) throw new UsageError("--prompt needs --tokenizer (a tokenizer.json, or `gpt2` for GPT-2's own)");
  if (opts.output.trim() === "") throw new UsageError("-o/--output needs a directory name (it was empty)");
  const batch = Number(opts.batch ?? "0");
  if (!Number.isInteger(batch) || batch < 0) throw new UsageError(`--batch ${opts.batch}: a batch index (0, 1, ...)`);
  const seed = opts.randomWeights ? parseSeed(opts.seed ?? "0") : 0;
  if (typeof seed !== "number") throw new UsageError(seed.error);
  const { text } = readSource(file);
  const patterns = opts.capture?.length ? opts.capture : ["**.weights"];
  const plain = compile(text, { file, settings: opts.set });
  // Each weight's mask, where the model binds one beside it (`weights` → `weights_mask`, as the
  // library's attention does): the picture greys what the mask forbids, not what happens to be 0.
  const names = plain.captureNames;
  const masks = new Map(selectCaptures(patterns, names).names.filter((n) => names.includes(`${n}_mask`)).map((n) => [n, `${n}_mask`]));
  const model = masks.size ? plain.capturing([...patterns, ...masks.values()]) : plain.capturing(patterns);
  const fail = (ds: readonly Diagnostic[]) => {
    err(model.render([...ds]) + "\n");
    return 1;
  };
  if (hasErrors(model.diagnostics)) return fail(model.diagnostics);
  try {
    void model.graph;
  } catch (e) {
    if (!(e instanceof TfmError) || e.code !== "TFM5214") throw e;
    return fail((e.problems ?? []).map((p) => diag(file, "TFM5214", { start: 0, end: 0 }, p.message, { notes: p.notes })));
  }
  if (!model.graph) return fail([diag(file, "TFM2008", { start: 0, end: 0 }, "the file defines no `model` to run")]);
  const tok = opts.tokenizer ? await loadTokenizer(opts.tokenizer) : undefined;
  const specs: InputSpec[] = opts.input.map((a) => {
    const s = parseInputArg(a);
    if ("error" in s) throw new UsageError(s.error);
    return s;
  });
  // The token ids label the axes: the first required integer input (none: the positions do).
  const idsInput = model.inputs.find((i) => (i.dtype === "i32" || i.dtype === "i64") && !i.optional);
  if (opts.prompt !== undefined && !idsInput) throw new UsageError(`--prompt: ${model.name ?? file} has no integer input to take the prompt's token ids`);
  if (opts.prompt !== undefined && tok && idsInput) specs.unshift(parseInputArg(`${idsInput.name}=${JSON.stringify([tok.encode(opts.prompt)])}`) as InputSpec);
  const inputs = loadInputs(model.checked, specs);
  if (!inputs.tensors) return fail(inputs.diagnostics);
  const maskNames = new Set(masks.values());
  const captured = new Set(model.graph.outputs.map((o) => o.name).filter((n) => !model.outputs.some((o) => o.name === n) && !model.graph!.states.some((s) => s.name === n) && !maskNames.has(n)));
  try {
    const session = await model.load(opts.randomWeights ? { random: true, seed } : opts.weights!, {});
    let outputs;
    try {
      outputs = await session.run(Object.fromEntries(inputs.tensors));
    } finally {
      session.dispose();
    }
    const ids = idsInput ? inputs.tensors.get(idsInput.name) : undefined;
    const maps: AttentionMap[] = [];
    for (const name of captured) {
      const t = outputs[name]!;
      const s = t.shape;
      if (s.length < 2 || s.length > 4) throw new UsageError(`${name} is ${t.dtype}[${s.join(", ")}]: not attention weights ([batch,] [heads,] queries, keys); choose others with --capture`);
      const [keys, queries] = [s[s.length - 1]!, s[s.length - 2]!];
      const heads = s.length >= 3 ? s[s.length - 3]! : 1;
      const b = s.length === 4 ? s[0]! : 1;
      if (batch >= b) throw new UsageError(`--batch ${batch}: the batch has ${b} item${b === 1 ? "" : "s"}`);
      const per = heads * queries * keys;
      const mask = masks.has(name) ? outputs[masks.get(name)!] : undefined;
      const allowed = mask && broadcastMask(mask, s, batch);
      maps.push({ name, heads, queries, keys, values: Float32Array.from(t.data.slice(batch * per, (batch + 1) * per) as ArrayLike<number>), ...(allowed ? { allowed } : {}) });
    }
    const seq = ids && ids.shape.length === 2 ? Array.from(ids.data.slice(batch * ids.shape[1]!, (batch + 1) * ids.shape[1]!) as ArrayLike<number>, Number) : [];
    const tokens = seq.map((id) => (tok ? tok.decode([id]) : String(id)));
    const title = `${model.name ?? file}: attention weights${ids && ids.shape[0]! > 1 ? ` (batch item ${batch})` : ""}`;
    const { spec, cells, truncated } = attentionSpec(maps, tokens, { title });
    const svg = await vegaLiteToSvg(spec);
    mkdirSync(opts.output, { recursive: true });
    const data = { model: model.name, batch, tokens, ids: seq, maps: maps.map((m) => ({ name: m.name, heads: m.heads, queries: m.queries, keys: m.keys })), cells, truncated };
    const page = () => htmlPage(title, `<h1 style="font-size:18px">${title.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</h1><p>Rows: layers; columns: heads. Grey cells are masked (where the attention's mask is false).</p><figure>${svg}</figure>`, data);
    const written = [];
    for (const f of ["svg", "png", "html"] as const) written.push(await writePicture(join(opts.output, `attention.${f}`), f, svg, page, opts.force ?? false));
    out(`${written.join("\n")}\n${maps.length} layers × ${Math.max(...maps.map((m) => m.heads))} heads, ${tokens.length} tokens\n`);
    return 0;
  } catch (e) {
    if (e instanceof WeightFileError) return fail([fileErrorDiagnostic(e, opts.output)]);
    if (e instanceof TfmError && e.diagnostics) return fail(e.diagnostics);
    throw e;
  }
}

/**
 * The mask of batch item `batch` as heads × queries × keys (1 allowed, 0 masked): `mask` broadcast
 * to the weights' shape `w` ([batch,] [heads,] queries, keys), numpy's rule (aligned on the right,
 * size-1 dims repeat; a scalar allows or masks all). Undefined when it does not broadcast to them.
 */
export function broadcastMask(mask: { shape: readonly number[]; data: ArrayLike<number | bigint | boolean> }, w: readonly number[], batch: number): Uint8Array | undefined {
  const ms = mask.shape;
  if (ms.length > w.length || ms.some((d, i) => d !== 1 && d !== w[w.length - ms.length + i])) return undefined;
  const full = [...Array(4 - w.length).fill(1), ...w]; // [B, H, Q, K]
  const [, H, Q, K] = full as [number, number, number, number];
  // The stride of each of [B, H, Q, K] in the mask's data (0 where it broadcasts).
  const strides = [0, 0, 0, 0];
  for (let i = ms.length - 1, stride = 1; i >= 0; i--) {
    const axis = 4 - ms.length + i;
    if (ms[i] !== 1) strides[axis] = stride;
    stride *= ms[i]!;
  }
  const out = new Uint8Array(H * Q * K);
  const b = w.length === 4 ? batch : 0;
  for (let h = 0; h < H; h++)
    for (let q = 0; q < Q; q++)
      for (let k = 0; k < K; k++) out[(h * Q + q) * K + k] = Number(mask.data[b * strides[0]! + h * strides[1]! + q * strides[2]! + k * strides[3]!]) ? 1 : 0;
  return out;
}
