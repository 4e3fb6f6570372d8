// Checkpoint names adapted to the model's before binding (browser-safe):
//  - explicit prefixes: `--strip-prefix P` (repeatable) removes P from the names that start with it,
//    then `--add-prefix P` puts P before every name;
//  - a known wrapper prefix (`transformer.`, `model.`, `bert.`): when the model's names bind only
//    after stripping it (every weight the model declares is then present, and some were not), it
//    is stripped, said in one note;
//  - tied weights saved twice: a tensor the model does not declare whose name is a known alias of
//    a tied weight (`lm_head.weight` of `wte.weight`, the LM head tied to the token embedding, as
//    GPT2LMHeadModel's state_dict holds it) is dropped, said in one note, when it has the bound
//    weight's dtype and shape and exactly its bytes: then it carries nothing the model lacks. When
//    its bytes differ it stays, and binding reports it as unexpected (TFM5102): the weights are not tied.
import type { SafetensorsFile, TensorEntry } from "../weights/safetensors.js";
import { showName } from "./names.js";

export interface NameOptions {
  readonly stripPrefix?: readonly string[];
  readonly addPrefix?: string;
}

/** Wrapper-module prefixes Hugging Face's task models put before the base model's names. */
export const knownPrefixes = ["transformer.", "model.", "bert.", "roberta.", "gpt_neox.", "encoder."] as const;

/** Names under which a task model saves a weight tied to one of the base model's, alias → the names it ties to. */
export const tiedAliases: Readonly<Record<string, readonly string[]>> = {
  "lm_head.weight": ["wte.weight", "embed_tokens.weight", "embed_in.weight", "word_embeddings.weight", "embeddings.word_embeddings.weight", "shared.weight"],
};

const renamed = (file: SafetensorsFile, rename: (n: string) => string): SafetensorsFile => {
  const tensors = new Map<string, TensorEntry>();
  for (const [n, e] of file.tensors) {
    const m = rename(n);
    // Two names that become one: keep the first; binding then reports the other under its own name.
    if (tensors.has(m)) tensors.set(n, e);
    else tensors.set(m, e);
  }
  return { tensors, metadata: file.metadata };
};

const equalBytes = (a: TensorEntry, b: TensorEntry): boolean => {
  if (a.dtype !== b.dtype || a.byteLength !== b.byteLength || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  const x = a.bytes();
  const y = b.bytes();
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
};

/**
 * The checkpoint with its names adapted to `modelNames` as described above, and one note per
 * adaptation made.
 */
export function adaptNames(modelNames: ReadonlySet<string>, file: SafetensorsFile, opts: NameOptions = {}): { file: SafetensorsFile; notes: string[] } {
  const notes: string[] = [];
  let f = file;
  const strips = opts.stripPrefix ?? [];
  if (strips.length || opts.addPrefix) {
    f = renamed(f, (n) => {
      const p = strips.find((s) => n.startsWith(s));
      return (opts.addPrefix ?? "") + (p ? n.slice(p.length) : n);
    });
  } else {
    const present = (t: SafetensorsFile) => [...modelNames].filter((n) => t.tensors.has(n)).length;
    const before = present(f);
    if (before < modelNames.size) {
      for (const p of knownPrefixes) {
        const carrying = [...f.tensors.keys()].filter((n) => n.startsWith(p)).length;
        if (!carrying) continue;
        const g = renamed(f, (n) => (n.startsWith(p) ? n.slice(p.length) : n));
        if (present(g) === modelNames.size) {
          notes.push(`the checkpoint's names carry the prefix ${showName(p)} (${carrying} of ${f.tensors.size}): stripped it to bind`);
          f = g;
          break;
        }
      }
    }
  }
  // Tied weights saved twice.
  const dropped: { alias: string; target: string }[] = [];
  for (const [alias, targets] of Object.entries(tiedAliases)) {
    const e = f.tensors.get(alias);
    if (!e || modelNames.has(alias)) continue;
    const target = targets.find((t) => modelNames.has(t) && f.tensors.has(t)) ?? [...modelNames].find((m) => targets.some((t) => m.endsWith(`.${t}`)) && f.tensors.has(m));
    if (target === undefined || !equalBytes(e, f.tensors.get(target)!)) continue;
    dropped.push({ alias, target });
  }
  if (dropped.length) {
    const tensors = new Map(f.tensors);
    for (const d of dropped) tensors.delete(d.alias);
    f = { tensors, metadata: f.metadata };
    notes.push(`dropped ${dropped.map((d) => `${showName(d.alias)}, a copy of ${showName(d.target)} (tied weights saved twice: same dtype, shape and bytes)`).join("; ")}`);
  }
  return { file: f, notes };
}
