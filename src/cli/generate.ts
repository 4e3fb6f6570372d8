// `tfm generate FILE (--weights W | --random-weights [SEED]) (--prompt TEXT --tokenizer T | --input-ids 464,2068)
// [--max-new-tokens N] [--temperature T --top-k K --top-p P --repetition-penalty R --seed S] [--stop IDS]
// [--pad-token-id ID] [--backend cpu|webgpu] [--json]`: generates tokens with the model's KV cache (its
// `state`), and streams them as text (with a tokenizer) or as ids; `--json` prints `{"tokens": [...],
// "text": "..."}`. Several `--prompt`s (or `--input-ids`) are a batch: left-padded to one length and
// masked through the model's `attention_mask`; each sequence is printed on its own line when done
// (`--json`: `{"tokens": [[...], ...], "text": [...]}`), up to and with its stop token.
// An encoder–decoder (models/transformer.tfm) takes its source — `--source-ids 5,6,7` or
// `--source TEXT` (repeat either for a batch: shorter sources are padded at the end and masked
// through the source mask input), or any input as `--input 'src=[[5,6,7]]'` — and the decoder
// starts from `--input-ids`, else `--start-token`, else the model's `decoder_start_token_id`.
import { diag, hasErrors, sortDiagnostics, type Diagnostic } from "../diag/diagnostic.js";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { TfmError, type Session } from "../index.js";
import { fileErrorDiagnostic, readFileBytes } from "../runtime/files.js";
import { parseSeed } from "../runtime/init.js";
import { WeightFileError } from "../weights/errors.js";
import { decoderInfo } from "../generate/decoder.js";
import type { GenerateOptions, TensorIn } from "../session.js";
import { gpt2Tokenizer, hfTokenizer, textStream, type TextTokenizer } from "../generate/tokenizer.js";
import { parseThreads, readSource, UsageError } from "./io.js";
import { parseInputArg } from "../runtime/inputs.js";
import { compileFor } from "./run.js";

const isDirectory = (p: string): boolean => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

export interface GenerateCliOptions {
  readonly set: Map<string, string>;
  readonly weights?: string;
  readonly randomWeights?: boolean | string;
  readonly tokenizer?: string;
  /** One per sequence of the batch (commander collects repeated flags; a string is one). */
  readonly prompt?: string | readonly string[];
  readonly inputIds?: string | readonly string[];
  /** An encoder–decoder's source: token ids, text (with the tokenizer), or inputs as `name=JSON`. */
  readonly sourceIds?: string | readonly string[];
  readonly source?: string | readonly string[];
  readonly input?: readonly string[];
  /** An encoder–decoder: the decoder's start token, when no --input-ids are given. */
  readonly startToken?: string;
  readonly padTokenId?: string;
  readonly maxNewTokens?: string;
  readonly temperature?: string;
  readonly topK?: string;
  readonly topP?: string;
  readonly repetitionPenalty?: string;
  readonly seed?: string;
  /** cpu: threads for the matrix products (`--threads N`; default the cores). */
  readonly threads?: string;
  /** How the weights are kept (`--weights-dtype f32|int8|f16`: int8 on the CPU, f16 on WebGPU). */
  readonly weightsDtype?: "f32" | "int8" | "f16";
  readonly stop?: string;
  readonly json?: boolean;
  readonly fuse?: boolean;
  readonly backend?: "cpu" | "webgpu";
}

const number = (flag: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw new UsageError(`${flag} needs a number, got ${JSON.stringify(v)}`);
  return n;
};

const ids = (flag: string, v: string): number[] =>
  v.split(",").map((s) => {
    const n = Number(s.trim());
    if (s.trim() === "" || !Number.isInteger(n)) throw new UsageError(`${flag} takes integer token ids separated by commas (464,2068,7586), got ${JSON.stringify(v)}`);
    return n;
  });

export async function runGenerate(file: string, opts: GenerateCliOptions, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  if (!opts.weights === !opts.randomWeights) throw new UsageError("give exactly one of --weights FILE and --random-weights");
  const givesSource = opts.sourceIds !== undefined || opts.source !== undefined || !!opts.input?.length;
  if (opts.prompt !== undefined && opts.inputIds !== undefined) throw new UsageError("give one of --prompt TEXT (with --tokenizer) and --input-ids 464,2068,...");
  if (opts.prompt === undefined && opts.inputIds === undefined && !givesSource) throw new UsageError("give --prompt TEXT (with --tokenizer) or --input-ids 464,2068,... (an encoder–decoder: its source, --source-ids, --source or --input)");
  if (opts.sourceIds !== undefined && opts.source !== undefined) throw new UsageError("give one of --source-ids and --source");
  // A Hugging Face folder's own tokenizer.json is the default tokenizer.
  const folderTokenizer = opts.weights && isDirectory(opts.weights) && existsSync(join(opts.weights, "tokenizer.json")) ? join(opts.weights, "tokenizer.json") : undefined;
  const tokenizer = opts.tokenizer ?? folderTokenizer;
  if (opts.prompt !== undefined && !tokenizer) throw new UsageError("--prompt needs --tokenizer (a tokenizer.json, or `gpt2` for GPT-2's own)");
  if (opts.source !== undefined && !tokenizer) throw new UsageError("--source needs --tokenizer (a tokenizer.json, or `gpt2` for GPT-2's own)");
  const threads = parseThreads(opts.threads);
  const seed = typeof opts.randomWeights === "string" ? parseSeed(opts.randomWeights) : 0;
  if (typeof seed !== "number") throw new UsageError(seed.error);
  let options: GenerateOptions = {
    maxNewTokens: number("--max-new-tokens", opts.maxNewTokens) ?? 32,
    ...(opts.temperature !== undefined ? { temperature: number("--temperature", opts.temperature)! } : {}),
    ...(opts.topK !== undefined ? { topK: number("--top-k", opts.topK)! } : {}),
    ...(opts.topP !== undefined ? { topP: number("--top-p", opts.topP)! } : {}),
    ...(opts.repetitionPenalty !== undefined ? { repetitionPenalty: number("--repetition-penalty", opts.repetitionPenalty)! } : {}),
    ...(opts.seed !== undefined ? { seed: number("--seed", opts.seed)! } : {}),
    ...(opts.padTokenId !== undefined ? { padTokenId: number("--pad-token-id", opts.padTokenId)! } : {}),
  };
  const list = (v: string | readonly string[] | undefined): readonly string[] => (v === undefined ? [] : typeof v === "string" ? [v] : v);
  const { text, decodeErrors } = readSource(file);
  // A folder's config.json sets the parameters it names (--set wins), as for tfm run.
  const compiled = compileFor(text, file, opts.set, opts.weights ? [opts.weights] : [], "all", err);
  const model = compiled.model;
  const fail = (ds: readonly Diagnostic[]) => {
    err(model.render(sortDiagnostics(ds)) + "\n");
    return 1;
  };
  if ("failed" in compiled) return fail(compiled.failed);
  const checked = [...decodeErrors, ...model.diagnostics];
  if (hasErrors(checked)) return fail(checked);
  if (!model.graph || !model.name) return fail([diag(file, "TFM2008", { start: 0, end: 0 }, "the file defines no `model` to run")]);
  const at = model.checked.model!.decl.name.span;
  const coded = (e: unknown): number => {
    if (e instanceof TfmError) return fail(e.diagnostics ?? [diag(e.file ?? file, e.code, e.file ? { start: 0, end: 0 } : at, e.message.slice(e.code.length + 2))]);
    if (e instanceof WeightFileError) return fail([fileErrorDiagnostic(e)]);
    throw e;
  };

  let tok: TextTokenizer | undefined;
  let prompts: number[][];
  let source: Record<string, TensorIn> | undefined;
  try {
    tok = tokenizer ? await loadTokenizer(tokenizer) : undefined;
    source = givesSource ? sourceOf(model, opts, tok) : undefined;
    prompts =
      opts.inputIds !== undefined ? list(opts.inputIds).map((v) => ids("--input-ids", v))
      : opts.prompt !== undefined ? list(opts.prompt).map((p) => tok!.encode(p))
      : startPrompts(model, opts, source!);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    return coded(e);
  }
  const stop = opts.stop !== undefined ? (opts.stop.trim() === "" ? [] : ids("--stop", opts.stop)) : tok?.eos !== undefined ? [tok.eos] : [];
  if (source) options = { ...options, source };
  if (prompts.length > 1) return generateBatch(model, file, prompts, { ...options, stop }, tok, opts, threads, seed, coded, out, err);
  const prompt = prompts[0]!;

  let session: Session;
  const t0 = performance.now();
  try {
    session = await loadSession(model, opts, threads, seed, err);
  } catch (e) {
    return coded(e);
  }
  const t1 = performance.now();
  const tokens: number[] = [];
  // An encoder–decoder's text starts after its start token (the prompt), which is not printed.
  const stream = tok ? textStream(tok, prompt) : undefined;
  const times: number[] = [];
  try {
    // An encoder–decoder's output starts after its start token.
    if (!opts.json && !source) out(tok ? tok.decode(prompt) : prompt.join(" "));
    let last = performance.now();
    for await (const t of session.generate(prompt, { ...options, stop })) {
      const now = performance.now();
      times.push(now - last);
      last = now;
      tokens.push(t);
      if (!opts.json) out(stream ? stream(t) : `${source && tokens.length === 1 ? "" : " "}${t}`);
    }
  } catch (e) {
    if (!opts.json) out("\n");
    return coded(e);
  } finally {
    session.dispose();
  }
  if (opts.json) out(JSON.stringify({ tokens, ...(tok ? { text: tok.decode(tokens) } : {}) }) + "\n");
  else {
    out("\n");
    const decode = times.slice(1);
    const perToken = decode.length ? decode.reduce((a, b) => a + b, 0) / decode.length : 0;
    const cache = session.stateful ? `with its KV cache (${prompt.length + tokens.length - 1} positions)` : "without a cache (the whole sequence at every step)";
    const from = source ? `the source (${Object.keys(source).join(", ")}) and start token ${prompt.join(",")}` : `a ${prompt.length}-token prompt`;
    err(`${file}: ${tokens.length} tokens from ${from} ${cache}: load ${(t1 - t0).toFixed(0)} ms, prefill ${(times[0] ?? 0).toFixed(1)} ms, ${perToken.toFixed(1)} ms per token after it\n`);
  }
  return 0;
}

/** The source's input names: the encode phase's inputs, or a stateless encoder–decoder's other inputs; TFM8002 when the model has none. */
function sourceNames(model: ReturnType<typeof compileFor>["model"]): readonly string[] {
  const p = model.phases;
  const names = (p ? decoderInfo(p.step, undefined, p.encode) : decoderInfo(model.graph!, undefined)).source ?? [];
  if (!names.length) throw new TfmError("TFM8002", `the model \`${model.name}\` takes no source: --source-ids, --source and --input are for an encoder–decoder (give the prompt as --input-ids or --prompt)`);
  return names;
}

/**
 * An encoder–decoder's source, as the inputs of its first call: `--input name=JSON` as given, and
 * `--source-ids` / `--source` rows as the source ids input (the source input not named *mask),
 * padded at the end with 0 to one length, with the mask input (1 = token, 0 = padding) if it has one.
 */
function sourceOf(model: ReturnType<typeof compileFor>["model"], opts: GenerateCliOptions, tok: TextTokenizer | undefined): Record<string, TensorIn> {
  const names = sourceNames(model);
  const out: Record<string, TensorIn> = {};
  for (const a of opts.input ?? []) {
    const spec = parseInputArg(a);
    if ("error" in spec) throw new UsageError(spec.error);
    if (spec.source.kind !== "json") throw new UsageError(`tfm generate takes --input as name=JSON (${spec.name}=[[5, 6, 7]]): files are for tfm run`);
    let data: unknown;
    try {
      data = JSON.parse(spec.source.text);
    } catch (e) {
      throw new UsageError(`--input ${spec.name}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    out[spec.name] = { data: data as TensorIn["data"] };
  }
  const list = (v: string | readonly string[] | undefined): readonly string[] => (v === undefined ? [] : typeof v === "string" ? [v] : v);
  const rows = opts.sourceIds !== undefined ? list(opts.sourceIds).map((v) => ids("--source-ids", v)) : list(opts.source).map((t) => tok!.encode(t));
  if (rows.length) {
    const idsName = names.filter((n) => !/mask$/i.test(n));
    const maskName = names.find((n) => /mask$/i.test(n));
    if (idsName.length !== 1) throw new UsageError(`--source-ids and --source give the model's one source ids input, but \`${model.name}\` takes ${names.map((n) => `\`${n}\``).join(", ")}: give them as --input NAME=[[...]]`);
    if (rows.some((r) => !r.length)) throw new TfmError("TFM8002", "a source is empty: give at least one token");
    const len = Math.max(...rows.map((r) => r.length));
    if (rows.some((r) => r.length !== len) && !maskName) throw new TfmError("TFM8002", `the sources have different lengths (${rows.map((r) => r.length).join(", ")}), and the model takes no source mask to mask the padding`);
    out[idsName[0]!] = { data: rows.map((r) => [...r, ...new Array<number>(len - r.length).fill(0)]) };
    if (maskName && !(maskName in out)) out[maskName] = { data: rows.map((r) => [...r.map(() => 1), ...new Array<number>(len - r.length).fill(0)]) };
  }
  return out;
}

/** An encoder–decoder's decoder prompts: its start token (`--start-token`, else `decoder_start_token_id`), once per source row. */
function startPrompts(model: ReturnType<typeof compileFor>["model"], opts: GenerateCliOptions, source: Record<string, TensorIn>): number[][] {
  const hp = model.checked.instance?.model.hparams.get("decoder_start_token_id");
  const start = opts.startToken !== undefined ? ids("--start-token", opts.startToken) : hp?.kind === "int" && typeof hp.v === "number" ? [hp.v] : undefined;
  if (!start || start.length !== 1) {
    throw new TfmError("TFM8002", start ? "--start-token takes one token id" : `the decoder of \`${model.name}\` needs a start token: give --start-token ID or --input-ids, or give the model a parameter \`decoder_start_token_id\``);
  }
  const first = Object.values(source)[0]?.data;
  const batch = Array.isArray(first) && first.length > 0 && Array.isArray(first[0]) ? first.length : 1;
  return Array.from({ length: batch }, () => [...start]);
}

/** `gpt2` (built in), or a tokenizer.json path (its tokenizer_config.json beside it is read too, if there). */
export async function loadTokenizer(spec: string): Promise<TextTokenizer> {
  if (spec === "gpt2") return gpt2Tokenizer();
  const json = readJson(spec, true);
  const configPath = spec.replace(/[^/\\]*$/, "tokenizer_config.json");
  const config = configPath !== spec ? readJson(configPath, false) : undefined;
  return hfTokenizer(json, config ?? {}, spec);
}

function readJson(path: string, required: boolean): unknown {
  let bytes: Uint8Array;
  try {
    bytes = readFileBytes(path);
  } catch (e) {
    if (!required) return undefined;
    throw new TfmError("TFM8005", `cannot read the tokenizer ${path}: ${e instanceof Error ? e.message : String(e)}`, { file: path });
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    if (!required) return undefined;
    throw new TfmError("TFM8005", `${path} is not a Hugging Face tokenizer: it is not valid UTF-8 JSON (${e instanceof Error ? e.message : String(e)})`, { file: path });
  }
}

/** The session generation runs on, as the options ask (weights or random ones, backend, threads, weight dtype). */
function loadSession(model: ReturnType<typeof compileFor>["model"], opts: GenerateCliOptions, threads: number | undefined, seed: number, err: (s: string) => void): Promise<Session> {
  return model.load(opts.randomWeights ? { random: true, seed } : opts.weights!, { backend: opts.backend ?? "cpu", fuse: opts.fuse !== false, checkConfig: false, onNote: (n) => err(`note: ${n}\n`), ...(threads !== undefined ? { threads } : {}), ...(opts.weightsDtype && opts.weightsDtype !== "f32" ? { weightsDtype: opts.weightsDtype } : {}) });
}

/**
 * A batch: the sequences are generated together (left-padded, masked), then each is printed on its
 * own line, up to and with its stop token; `--json` gives the lists.
 */
async function generateBatch(
  model: ReturnType<typeof compileFor>["model"],
  file: string,
  prompts: number[][],
  options: GenerateOptions,
  tok: TextTokenizer | undefined,
  opts: GenerateCliOptions,
  threads: number | undefined,
  seed: number,
  coded: (e: unknown) => number,
  out: (s: string) => void,
  err: (s: string) => void,
): Promise<number> {
  let session: Session;
  const t0 = performance.now();
  try {
    session = await loadSession(model, opts, threads, seed, err);
  } catch (e) {
    return coded(e);
  }
  const t1 = performance.now();
  const rows: number[][] = prompts.map(() => []);
  const stop = new Set(options.stop ?? []);
  try {
    for await (const step of session.generate(prompts, options)) {
      step.forEach((t, b) => {
        const row = rows[b]!;
        if (!row.length || !stop.has(row[row.length - 1]!)) row.push(t);
      });
    }
  } catch (e) {
    return coded(e);
  } finally {
    session.dispose();
  }
  const t2 = performance.now();
  if (opts.json) out(JSON.stringify({ tokens: rows, ...(tok ? { text: rows.map((r) => tok.decode(r)) } : {}) }) + "\n");
  else {
    // An encoder–decoder's line is what it generated, without its start token.
    const line = (b: number, r: number[]) => (options.source ? r : [...prompts[b]!, ...r]);
    for (const [b, r] of rows.entries()) out((tok ? tok.decode(line(b, r)) : line(b, r).join(" ")) + "\n");
  }
  if (!opts.json && options.source) err(`${file}: a batch of ${prompts.length} sources, each decoded from start token ${prompts[0]!.join(",")}: ${Math.max(...rows.map((r) => r.length))} steps, load ${(t1 - t0).toFixed(0)} ms, generation ${(t2 - t1).toFixed(0)} ms\n`);
  else if (!opts.json) err(`${file}: a batch of ${prompts.length} (prompts of ${prompts.map((p) => p.length).join(", ")} tokens${new Set(prompts.map((p) => p.length)).size > 1 ? ", left-padded" : ""}): ${Math.max(...rows.map((r) => r.length))} steps, load ${(t1 - t0).toFixed(0)} ms, generation ${(t2 - t1).toFixed(0)} ms\n`);
  return 0;
}
