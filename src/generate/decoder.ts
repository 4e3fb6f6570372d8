// Decoding with the state a model declares (src/check: `state k_cache: f32[B, H, past, D]`): the
// graph takes each state's value as an input port and gives its next value as an output port of
// the same name (src/ir/graph.ts `states`). A `Decoder` keeps those values between calls —
// `prefill` starts a sequence from empty state, `step` runs the next tokens on what is cached —
// and `generate` is the loop over it: the last row of the logits, a `Sampler`, the token fed back.
// A model without state generates too, by running the whole sequence at every step. A backend that
// can keep the state where it computes (WebGPU: device buffers) gives a `ResidentRunner`: the
// Decoder then passes only the token ids, and generation asks for the last logits row alone.
// An encoder–decoder whose cross-attention keys and values are states written once (`once`,
// src/ir/phases.ts) runs as two graphs: `encode` on the source at the first call of a sequence,
// which gives those states, and `step` (this Decoder's graph) on them at every call, the first too;
// the later calls take the decoder's tokens alone. A resident runner that keeps inputs
// (`keepsInputs`: WebGPU) is given those states with the first call only, and holds them on the
// device for the rest of the sequence.
import { arrayFor, numel, runtimeDType, type Tensor } from "../core/tensor.js";
import { constValue, evalDim } from "../core/dim.js";
import type { Graph } from "../ir/graph.js";
import { bindInputs } from "../backends/shared/inputs.js";
import { TfmError } from "../bundle/errors.js";
import { Sampler, type SamplingOptions } from "./sample.js";

/** Runs the graph once: every input port (states included) to every output port. */
export type Runner = (inputs: ReadonlyMap<string, Tensor>) => Promise<ReadonlyMap<string, Tensor>>;

/**
 * A runner that keeps the model's state itself between calls (on the device): it takes the model's
 * own inputs only, runs them on the state it holds — empty when `fresh` — and keeps the next state.
 * It returns the outputs but the state; with `lastRow`, only that output, and of it only the last
 * position of each sequence ([batch, 1, vocab]). `capacity` bounds how far its buffers grow. A call
 * that fails leaves the state as it was.
 */
export interface ResidentRunner {
  run(inputs: ReadonlyMap<string, Tensor>, opts: { readonly fresh: boolean; readonly lastRow?: string; readonly capacity?: number; readonly kept?: readonly string[] }): Promise<ReadonlyMap<string, Tensor>>;
  /**
   * Whether the runner keeps inputs too (`kept`: the same for the whole sequence, an
   * encoder–decoder's states written once): given with the `fresh` call only, held (on the device)
   * for the later calls, which do not give them.
   */
  readonly keepsInputs?: boolean;
}

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate at most (default 32). */
  readonly maxNewTokens?: number;
  /** Token ids that end a sequence; the stop token is yielded, then the sequence ends. */
  readonly stop?: readonly number[];
  /**
   * The token that left-pads shorter prompts of a batch (masked out through the model's
   * padding mask: `attention_mask`, `tgt_mask`), and that a finished sequence emits afterwards — Hugging Face's
   * `pad_token_id`. Default: the first stop token, else 0, for padding; a finished sequence then
   * repeats its stop token.
   */
  readonly padTokenId?: number;
}

/** What generation needs to know of a model: the token-ids input, the logits output and the capacity. */
export interface DecoderInfo {
  readonly ids: string;
  readonly logits: string;
  /**
   * The ids' padding mask (1 = real token, 0 = padding), if the model takes one: Hugging Face's
   * `attention_mask` beside `input_ids`, `decoder_attention_mask` beside `decoder_input_ids`,
   * `tgt_mask` beside `tgt`.
   */
  readonly mask?: string;
  /** Positions the model can hold (prompt and generated tokens together); undefined: no limit known. */
  readonly capacity: number | undefined;
  /**
   * An encoder–decoder's source inputs (`src`, `src_mask`), given with the first call of a sequence:
   * the encode graph's inputs, or, for a model without state, the inputs every call is given again.
   */
  readonly source?: readonly string[];
}

/** The encode phase of an encoder–decoder (src/ir/phases.ts): its graph, and a runner for it. */
export interface Encoder {
  readonly graph: Graph;
  readonly run: Runner;
}

/**
 * The positions a model holds, from its own parameter under a Hugging Face config name
 * (`n_positions`, `max_position_embeddings`, ...); undefined when it has none.
 */
export function capacityOf(hparams: ReadonlyMap<string, { readonly kind: string; readonly v?: unknown }> | undefined): number | undefined {
  for (const name of ["n_positions", "max_position_embeddings", "max_seq_len", "max_len", "n_ctx"]) {
    const v = hparams?.get(name);
    if (v?.kind === "int" && typeof v.v === "number") return v.v;
  }
  return undefined;
}

/** Token ids are integers in [0, vocab): TFM8004 naming the first that is not. */
export function checkTokens(rows: readonly (readonly number[])[], g: Graph, logits: string): void {
  const port = g.outputs.find((p) => p.name === logits)!;
  const vocab = constValue(g.nodes[port.node]!.shape.at(-1)!);
  rows.forEach((row, b) => {
    row.forEach((t, i) => {
      if (!Number.isInteger(t) || t < 0 || (vocab !== undefined && t >= vocab)) {
        throw new TfmError("TFM8004", `token ${String(t)} at position ${i}${rows.length > 1 ? ` of sequence ${b}` : ""} is not in the vocabulary: ids are integers in [0, ${vocab ?? "vocab"})`);
      }
    });
  });
}

/**
 * The vocabulary of each integer input that a `gather` reads as its indices (an embedding's lookup:
 * the table's dim along the gather's axis, where it is a constant): by input name.
 */
export function lookupVocab(g: Graph): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of g.inputs) {
    const d = g.nodes[p.node]!.dtype;
    if (d !== "i32" && d !== "i64") continue;
    for (const n of g.nodes) {
      if (n.op !== "gather" || n.inputs[1] !== p.node) continue;
      const table = g.nodes[n.inputs[0]!]!;
      const axis = n.attrs.axis! < 0 ? n.attrs.axis! + table.shape.length : n.attrs.axis!;
      const v = constValue(table.shape[axis]!);
      if (v !== undefined) out.set(p.name, Math.min(v, out.get(p.name) ?? v));
    }
  }
  return out;
}

/**
 * An encoder–decoder's source token ids are in its source vocabulary (`lookupVocab` of the graph
 * that reads them: the encode phase's), as the prompt's are in the target's (`checkTokens`):
 * TFM8004 naming the input, the first id that is not, and its position.
 */
export function checkSource(source: ReadonlyMap<string, Tensor>, g: Graph): void {
  const vocab = lookupVocab(g);
  for (const [name, t] of source) {
    const v = vocab.get(name);
    if (v === undefined) continue;
    const len = t.shape.length >= 2 ? t.shape.at(-1)! : numel(t.shape);
    const rows = len > 0 ? numel(t.shape) / len : 0;
    for (let i = 0; i < numel(t.shape); i++) {
      const id = Number(t.data[i]);
      if (id >= 0 && id < v) continue;
      const [b, pos] = [Math.floor(i / len), i % len];
      throw new TfmError("TFM8004", `source \`${name}\`: token ${id} at position ${pos}${rows > 1 ? ` of sequence ${b}` : ""} is not in the source vocabulary: ids are integers in [0, ${v})`);
    }
  }
}

/** One sequence or a batch of them, as rows; `batched` says which was given. */
export function promptRows(prompt: unknown): { rows: readonly (readonly number[])[]; batched: boolean } {
  if (!Array.isArray(prompt) && !ArrayBuffer.isView(prompt)) throw new TfmError("TFM8002", "the prompt must be token ids: an array of numbers, or an array of such arrays for a batch");
  const list = Array.from(prompt as ArrayLike<unknown>);
  const batched = list.length > 0 && list.every((r) => Array.isArray(r) || ArrayBuffer.isView(r));
  const rows = (batched ? list.map((r) => Array.from(r as ArrayLike<unknown>)) : [list]) as number[][];
  if (rows.some((r) => r.some((t) => typeof t !== "number"))) throw new TfmError("TFM8002", "the prompt must be token ids: numbers only");
  return { rows, batched };
}

/** The model's states as empty tensors (`past` = 0) at the dims the inputs give. */
export function emptyStates(g: Graph, inputs: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
  if (!g.states.length) return new Map();
  const states = new Set(g.states.map((s) => s.name));
  const symbols = bindInputs({ ...g, inputs: g.inputs.filter((p) => !states.has(p.name)) }, inputs);
  const out = new Map<string, Tensor>();
  for (const p of g.inputs) {
    if (!states.has(p.name)) continue;
    const n = g.nodes[p.node]!;
    const shape = n.shape.map((d) => evalDim(d, symbols) ?? 0);
    const dtype = runtimeDType[n.dtype];
    out.set(p.name, { dtype, shape, data: arrayFor(dtype, numel(shape)) } as Tensor);
  }
  return out;
}

/** The names an encoder–decoder's input of decoder tokens goes by, in order of preference. */
const idsNames = ["input_ids", "decoder_input_ids", "tgt"];
/** The name of the padding mask of each of those inputs (Hugging Face's, and models/transformer.tfm's beside `src_mask`); `attention_mask` for any other. */
const maskNames: Readonly<Record<string, string>> = { input_ids: "attention_mask", decoder_input_ids: "decoder_attention_mask", tgt: "tgt_mask" };

/**
 * The input of token ids (i32 or i64 `[batch, seq]`, `input_ids`, `decoder_input_ids` or `tgt` if
 * several) and the logits output. With `encoder` (an encoder–decoder's encode phase), `g` is the
 * step graph: the encode graph's outputs are its inputs written once, and its inputs the source. A
 * model without state may take inputs besides the ids and mask when it is an encoder–decoder whose
 * ids go by one of those names: they are its source, given again at every call.
 */
export function decoderInfo(g: Graph, capacity: number | undefined, encoder?: Graph): DecoderInfo {
  const states = new Set([...g.states.map((s) => s.name), ...(encoder?.outputs.map((p) => p.name) ?? [])]);
  const ins = g.inputs.filter((p) => !states.has(p.name));
  const outs = g.outputs.filter((p) => !states.has(p.name));
  const idsCandidates = ins.filter((p) => (g.nodes[p.node]!.dtype === "i32" || g.nodes[p.node]!.dtype === "i64") && g.nodes[p.node]!.shape.length === 2);
  const named = idsNames.map((n) => idsCandidates.find((p) => p.name === n)).find((p) => p !== undefined);
  const ids = named ?? (idsCandidates.length === 1 ? idsCandidates[0] : undefined);
  const logitsCandidates = outs.filter((p) => g.nodes[p.node]!.dtype === "f32" && g.nodes[p.node]!.shape.length === 3);
  const logits = logitsCandidates.find((p) => p.name === "logits") ?? (logitsCandidates.length === 1 ? logitsCandidates[0] : undefined);
  if (!ids || !logits) {
    const what = !ids ? "one input of token ids, i32[batch, seq] (or one named `input_ids`)" : "one output of logits, f32[batch, seq, vocab] (or one named `logits`)";
    throw new TfmError("TFM8001", `the model \`${g.name}\` cannot generate: it needs ${what}`);
  }
  const maskName = maskNames[ids.name] ?? "attention_mask";
  const mask = ins.find((p) => p !== ids && p.name === maskName && (g.nodes[p.node]!.dtype === "i32" || g.nodes[p.node]!.dtype === "i64") && g.nodes[p.node]!.shape.length === 2);
  const others = ins.filter((p) => p !== ids && p !== mask);
  const source = encoder ? encoder.inputs.map((p) => p.name) : !g.states.length && named && ids.name !== "input_ids" ? others.map((p) => p.name) : [];
  if (others.some((p) => !source.includes(p.name))) throw new TfmError("TFM8001", `the model \`${g.name}\` cannot generate: besides \`${ids.name}\`${mask ? ` and \`${mask.name}\`` : ""} it takes ${others.map((p) => `\`${p.name}\``).join(", ")}, which generation does not give`);
  return { ids: ids.name, logits: logits.name, capacity, ...(mask ? { mask: mask.name } : {}), ...(source.length ? { source } : {}) };
}

export class Decoder {
  private states: Map<string, Tensor> | undefined;
  /** Stateless models: the whole sequence so far, per batch row. */
  private sequence: number[][] = [];
  /** Stateless models with an attention mask: the mask of the whole sequence so far, per batch row. */
  private maskRows: number[][] = [];
  private cached = 0;
  /** The batch the cache holds (resident state: the Decoder does not see the state's shape). */
  private batch = 0;
  /**
   * The source of the sequence: an encoder–decoder's states written once (the encode phase's
   * outputs), or, without state, its source inputs, given again at every call.
   */
  private source = new Map<string, Tensor>();
  /** The states written once that the resident runner holds for this sequence (`ResidentRunner.keepsInputs`): their names. */
  private kept: readonly string[] = [];

  constructor(private readonly graph: Graph, private readonly run: Runner, readonly info: DecoderInfo, private readonly resident?: ResidentRunner, private readonly encoder?: Encoder) {}

  /** Whether the model keeps state (a KV cache) between calls. */
  get stateful(): boolean {
    return this.graph.states.length > 0 || !!this.encoder;
  }

  /** Positions in the cache (prompt and generated tokens so far). */
  get length(): number {
    return this.cached;
  }

  /** A new sequence: the cache is emptied. */
  reset(): void {
    this.states = undefined;
    this.sequence = [];
    this.maskRows = [];
    this.cached = 0;
    this.batch = 0;
    this.source = new Map();
    this.kept = [];
  }

  /** Runs a prompt from empty state and keeps the state: the outputs of the call (logits for every prompt position). */
  async prefill(inputs: ReadonlyMap<string, Tensor>): Promise<Map<string, Tensor>> {
    this.reset();
    return this.step(inputs);
  }

  /** Runs the next positions on the cached state and appends them to it. */
  async step(inputs: ReadonlyMap<string, Tensor>): Promise<Map<string, Tensor>> {
    return this.advance(inputs, false);
  }

  /**
   * An encoder–decoder's source, at the first call of a sequence (the inputs named by
   * `info.source`, taken out of `given`): run through the encode phase, whose outputs (the states
   * written once) are kept, or kept as they are for a model without state. Later calls take none.
   */
  private async withSource(given: ReadonlyMap<string, Tensor>): Promise<ReadonlyMap<string, Tensor>> {
    const names = this.info.source ?? [];
    if (!names.length) return given;
    const here = names.filter((n) => given.has(n));
    const first = this.cached === 0;
    if (!first && here.length) throw new TfmError("TFM6002", `the source (${here.map((n) => `\`${n}\``).join(", ")}) is given with the first call of a sequence only: this one continues it (call reset() for a new sequence)`);
    if (first) {
      const missing = names.filter((n) => !given.has(n));
      if (missing.length) throw new TfmError("TFM5202", `the model \`${this.graph.name}\` is an encoder–decoder: the first call of a sequence needs its source, ${missing.map((n) => `\`${n}\``).join(", ")}, and no value was given for it`);
      const source = new Map(here.map((n) => [n, given.get(n)!] as const));
      checkSource(source, this.encoder?.graph ?? this.graph);
      this.source = this.encoder ? new Map(await this.encoder.run(source)) : source;
    }
    const rest = new Map([...given].filter(([k]) => !names.includes(k)));
    for (const [k, t] of this.source) rest.set(k, t);
    return rest;
  }

  /** `step`; with `lastRow`, the logits of the last position only where the runner can read back just that (a ResidentRunner). */
  private async advance(given: ReadonlyMap<string, Tensor>, lastRow: boolean): Promise<Map<string, Tensor>> {
    const ids = given.get(this.info.ids);
    if (!ids || ids.shape.length !== 2) throw new TfmError("TFM6002", `input \`${this.info.ids}\` must be given as [batch, seq] token ids`);
    const [batch, seq] = ids.shape as [number, number];
    // An attention mask left out: every new token is real.
    const mask = this.info.mask;
    const capacity = this.info.capacity;
    if (capacity !== undefined && this.cached + seq > capacity) {
      throw new TfmError("TFM8003", `the model holds ${capacity} positions: ${this.cached} are used, and ${seq} more do not fit${this.cached ? " (call reset() to start a new sequence)" : ""}`);
    }
    const held = this.resident ? this.batch : this.cached > 0 ? (this.sequence.length || (this.states?.values().next().value as Tensor | undefined)?.shape[0] || 0) : 0;
    if (this.cached > 0 && held && held !== batch) throw new TfmError("TFM6002", `the ${this.stateful ? "cache" : "sequence"} holds a batch of ${held}; this step gives ${batch} sequences (call reset() for a new batch)`);
    const fed = await this.withSource(given);
    const inputs = mask && !fed.has(mask) ? new Map([...fed, [mask, { dtype: "i32", shape: [batch, seq], data: new Int32Array(batch * seq).fill(1) } as Tensor]]) : fed;
    if (!this.stateful) return this.recompute(ids, mask ? inputs.get(mask) : undefined, batch, seq);
    if (this.resident) {
      // A runner that keeps inputs holds the states written once from the first call on: they go to it once, and are not kept here.
      const fresh = this.cached === 0;
      const kept = this.encoder && this.resident.keepsInputs ? (fresh ? [...this.source.keys()] : this.kept) : undefined;
      const given = kept && !fresh ? new Map([...inputs].filter(([k]) => !kept.includes(k))) : inputs;
      const out = await this.resident.run(given, { fresh, ...(lastRow ? { lastRow: this.info.logits } : {}), ...(capacity !== undefined ? { capacity } : {}), ...(kept ? { kept } : {}) });
      if (kept && fresh) {
        this.kept = kept;
        this.source = new Map();
      }
      this.cached += seq;
      this.batch = batch;
      return new Map(out);
    }
    const states = this.cached > 0 && this.states ? this.states : emptyStates(this.graph, inputs);
    const all = new Map([...inputs, ...states]);
    const out = await this.run(all);
    const next = new Map<string, Tensor>();
    const user = new Map<string, Tensor>();
    const isState = new Set(this.graph.states.map((s) => s.name));
    for (const [k, t] of out) (isState.has(k) ? next : user).set(k, t);
    this.states = next;
    this.cached += seq;
    return user;
  }

  /** A model without state: the whole sequence again, and the logits of the new positions only. */
  private async recompute(ids: Tensor, mask: Tensor | undefined, batch: number, seq: number): Promise<Map<string, Tensor>> {
    if (this.sequence.length && this.sequence.length !== batch) throw new TfmError("TFM6002", `the sequence has a batch of ${this.sequence.length}; this step gives ${batch} (call reset() for a new batch)`);
    const grow = (old: readonly number[][], t: Tensor) => Array.from({ length: batch }, (_, b) => [...(old[b] ?? []), ...Array.from(t.data.subarray(b * seq, (b + 1) * seq), Number)]);
    const rows = grow(this.sequence, ids);
    const total = rows[0]!.length;
    const inputs = new Map<string, Tensor>([[this.info.ids, { dtype: "i32", shape: [batch, total], data: Int32Array.from(rows.flat()) }]]);
    const maskRows = mask ? grow(this.maskRows, mask) : [];
    if (mask) inputs.set(this.info.mask!, { dtype: "i32", shape: [batch, total], data: Int32Array.from(maskRows.flat()) });
    // An encoder–decoder without state: its source again, with the whole target so far.
    for (const [k, t] of this.source) inputs.set(k, t);
    const out = await this.run(inputs);
    this.sequence = rows;
    this.maskRows = maskRows;
    this.cached = total;
    const logits = out.get(this.info.logits)!;
    const vocab = logits.shape[2]!;
    const data = new Float32Array(batch * seq * vocab);
    for (let b = 0; b < batch; b++) data.set(logits.data.subarray((b * total + total - seq) * vocab, (b * total + total) * vocab) as Float32Array, b * seq * vocab);
    return new Map([[this.info.logits, { dtype: "f32", shape: [batch, seq, vocab], data }]]);
  }

  /**
   * Generates from `prompt` (one row of token ids per sequence): yields each step's tokens, one per
   * sequence, as they are made. Prompts of different lengths are left-padded with `padTokenId`
   * and masked out through the model's padding mask (`attention_mask`, `tgt_mask`: as Hugging Face's generate does), so
   * each sequence gets the tokens it would get alone. A sequence that has stopped emits
   * `padTokenId` (else repeats its stop token) until every sequence has stopped or `maxNewTokens`
   * is reached. An encoder–decoder takes its `source` (`info.source`: the source tokens, their mask)
   * with the prompt, which is then the decoder's start (its start token).
   */
  async *generate(prompt: readonly (readonly number[])[], options: GenerateOptions = {}, source: ReadonlyMap<string, Tensor> = new Map()): AsyncGenerator<number[]> {
    const sampler = new Sampler(options);
    const max = options.maxNewTokens ?? 32;
    if (!(Number.isInteger(max) && max >= 0)) throw new TfmError("TFM8002", `maxNewTokens is ${String(max)}: it must be an integer ≥ 0`);
    const stop = new Set(options.stop ?? []);
    const batch = prompt.length;
    const len = Math.max(0, ...prompt.map((r) => r.length));
    if (!batch || prompt.some((r) => !r.length)) throw new TfmError("TFM8002", `the prompt${batch > 1 ? " of a sequence" : ""} is empty: give at least one token`);
    const pad = options.padTokenId;
    if (pad !== undefined && !(Number.isInteger(pad) && pad >= 0)) throw new TfmError("TFM8002", `padTokenId is ${String(pad)}: it must be a token id, an integer ≥ 0`);
    const padded = prompt.some((r) => r.length !== len);
    if (padded && !this.info.mask) {
      throw new TfmError("TFM8002", `the prompts have different lengths (${prompt.map((r) => r.length).join(", ")}), and the model \`${this.graph.name}\` takes no \`${maskNames[this.info.ids] ?? "attention_mask"}\` to mask the padding: give them one length, or declare \`input ${maskNames[this.info.ids] ?? "attention_mask"}: i32[batch, seq] = 1\``);
    }
    const padId = pad ?? options.stop?.[0] ?? 0;
    const history = prompt.map((r) => [...r]);
    const done = new Array<number | undefined>(batch).fill(undefined);
    let ids: Tensor = { dtype: "i32", shape: [batch, len], data: Int32Array.from(prompt.flatMap((r) => [...new Array<number>(len - r.length).fill(padId), ...r])) };
    const first = new Map([...source, [this.info.ids, ids]]);
    if (this.info.mask) first.set(this.info.mask, { dtype: "i32", shape: [batch, len], data: Int32Array.from(prompt.flatMap((r) => [...new Array<number>(len - r.length).fill(0), ...new Array<number>(r.length).fill(1)])) });
    this.reset();
    let out = await this.advance(first, true);
    for (let n = 0; n < max; n++) {
      const logits = out.get(this.info.logits)!;
      const [, seq, vocab] = logits.shape as [number, number, number];
      const tokens = history.map((h, b) => {
        if (done[b] !== undefined) return pad ?? done[b]!;
        const row = logits.data.subarray((b * seq + seq - 1) * vocab, (b * seq + seq) * vocab);
        const t = sampler.next(row, h);
        h.push(t);
        if (stop.has(t)) done[b] = t;
        return t;
      });
      yield tokens;
      if (done.every((d) => d !== undefined) || n === max - 1) return;
      ids = { dtype: "i32", shape: [batch, 1], data: Int32Array.from(tokens) };
      out = await this.advance(new Map([[this.info.ids, ids]]), true);
    }
  }
}
