// Text to token ids and back. A Hugging Face `tokenizer.json` goes through @huggingface/tokenizers
// (the tokenizer of transformers.js: BPE, WordPiece, Unigram, with their normalizers,
// pre-tokenizers and decoders); GPT-2's byte-level BPE is built in ("gpt2": gpt-tokenizer's
// r50k_base ranks, which are GPT-2's), so GPT-2 needs no download. Both load only when used.
import { TfmError } from "../bundle/errors.js";

export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** The end-of-text token, when the tokenizer names one: generation stops there by default. */
  readonly eos?: number;
}

/** GPT-2's own tokenizer (50,257 tokens; `<|endoftext|>` = 50256). */
export async function gpt2Tokenizer(): Promise<TextTokenizer> {
  const bpe = await import("gpt-tokenizer/encoding/r50k_base");
  return { encode: (text) => bpe.encode(text), decode: (ids) => bpe.decode([...ids]), eos: 50256 };
}

/** A tokenizer from the parsed contents of a Hugging Face `tokenizer.json` (and its `tokenizer_config.json`, if any). */
export async function hfTokenizer(json: unknown, config: unknown = {}, source = "tokenizer.json"): Promise<TextTokenizer> {
  const bad = (why: string) => new TfmError("TFM8005", `${source} is not a Hugging Face tokenizer: ${why}`, { file: source });
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw bad("it is not a JSON object");
  const model = (json as { model?: unknown }).model;
  if (model === null || typeof model !== "object" || typeof (model as { type?: unknown }).type !== "string" && !("vocab" in (model as object))) throw bad("it has no `model` with a `type` and a `vocab`");
  const { Tokenizer } = await import("@huggingface/tokenizers");
  let t: InstanceType<typeof Tokenizer>;
  try {
    t = new Tokenizer(json, config && typeof config === "object" ? config : {});
  } catch (e) {
    throw bad(e instanceof Error ? e.message : String(e));
  }
  const eos = endOfText(json, config);
  const wrap = <T>(what: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw bad(`${what} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  return {
    encode: (text) => wrap("encoding", () => t.encode(text, { add_special_tokens: false }).ids),
    decode: (ids) => wrap("decoding", () => t.decode([...ids], { skip_special_tokens: false })),
    ...(eos !== undefined ? { eos } : {}),
  };
}

/** The end-of-text token: tokenizer_config's `eos_token`, else an added token named like one. */
function endOfText(json: unknown, config: unknown): number | undefined {
  const added = ((json as { added_tokens?: unknown }).added_tokens ?? []) as { id?: unknown; content?: unknown }[];
  if (!Array.isArray(added)) return undefined;
  const named = (config as { eos_token?: unknown } | undefined)?.eos_token;
  const eosName = typeof named === "string" ? named : named && typeof named === "object" ? (named as { content?: unknown }).content : undefined;
  const names = typeof eosName === "string" ? [eosName] : ["<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>"];
  for (const n of names) {
    const hit = added.find((a) => a && a.content === n && typeof a.id === "number");
    if (hit) return hit.id as number;
  }
  return undefined;
}

/**
 * Streams text as tokens come after `prompt`: each call gives the text the new token adds to the
 * whole sequence's (so spaces between words come out as the tokenizer's decoder puts them). A token that ends
 * inside a multi-byte character adds nothing until the character is whole.
 */
export function textStream(tok: TextTokenizer, prompt: readonly number[] = []): (token: number) => string {
  const ids: number[] = [...prompt];
  let shown = tok.decode(ids).length;
  return (token) => {
    ids.push(token);
    const text = tok.decode(ids);
    if (text.endsWith("\uFFFD")) return "";
    const next = text.slice(shown);
    shown = text.length;
    return next;
  };
}
