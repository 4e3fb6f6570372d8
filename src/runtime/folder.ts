// Checkpoints as people have them (Node): `--weights` names a safetensors or PyTorch (torch.save)
// file, a Hugging Face folder (`model.safetensors`, or `model.safetensors.index.json` and its
// shards, or else `pytorch_model.bin` or `pytorch_model.bin.index.json` and its shards, with its
// `config.json`), an index file itself, or several files given as shards. Each file's format is
// told by its first bytes (src/weights/file-source.ts openWeights). The files are opened by
// range (src/weights/file-source.ts: the headers now, tensor data when bound) and merged into one
// checkpoint; a tensor in two files is TFM5105, a folder without weights or a malformed index TFM5106.
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, normalize, sep } from "node:path";
import { WeightFileError, quote } from "../weights/errors.js";
import { openWeights } from "../weights/file-source.js";
import type { SafetensorsFile, TensorEntry } from "../weights/safetensors.js";
import { readBounded } from "./files.js";

/** The files of a checkpoint, and its config.json when it has one. */
export interface CheckpointFiles {
  /** The safetensors files, in the order they are merged. */
  readonly files: readonly string[];
  /** The folder's config.json (or the one beside an index file), when there is one. */
  readonly config?: string;
  /** How messages name the checkpoint: the path given, or `DIR (3 files)`. */
  readonly name: string;
}

/** Index and config files are JSON text: at most this many bytes are read. */
const maxJsonBytes = 64 << 20;

const indexName = "model.safetensors.index.json";
const singleName = "model.safetensors";
/** PyTorch's names in a folder (torch.save): read when the folder has no safetensors. */
const binIndexName = "pytorch_model.bin.index.json";
const binName = "pytorch_model.bin";

/** Where the weights are, from what `--weights` gave (one path or several). Throws WeightFileError TFM5106 / TFM5018. */
export function locateCheckpoint(paths: readonly string[]): CheckpointFiles {
  if (paths.length === 0) throw new WeightFileError("TFM5106", "no weights were given");
  const found = paths.map(locateOne);
  const files = found.flatMap((f) => f.files);
  const configs = [...new Set(found.flatMap((f) => (f.config ? [f.config] : [])))];
  const name = paths.length === 1 && files.length === 1 ? paths[0]! : `${paths.join(", ")} (${files.length} files)`;
  return { files, name, ...(configs.length ? { config: configs[0]! } : {}) };
}

function locateOne(path: string): { files: string[]; config?: string } {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new WeightFileError("TFM5018", `cannot open ${path}: no such file or directory`, { file: path });
  }
  const configIn = (dir: string) => (existsSync(join(dir, "config.json")) ? { config: join(dir, "config.json") } : {});
  if (st.isDirectory()) {
    if (existsSync(join(path, indexName))) return { files: indexShards(join(path, indexName)), ...configIn(path) };
    if (existsSync(join(path, singleName))) return { files: [join(path, singleName)], ...configIn(path) };
    const entries = readdirSync(path);
    const shards = entries.filter((n) => n.endsWith(".safetensors")).sort();
    if (shards.length === 1) return { files: [join(path, shards[0]!)], ...configIn(path) };
    if (!shards.length && existsSync(join(path, binIndexName))) return { files: indexShards(join(path, binIndexName)), ...configIn(path) };
    if (!shards.length && existsSync(join(path, binName))) return { files: [join(path, binName)], ...configIn(path) };
    const why = shards.length > 1
      ? `it has ${shards.length} .safetensors files but no ${indexName} saying which belong together: give them as --weights A --weights B ...`
      : `it has none of ${singleName}, ${indexName}, ${binName}, ${binIndexName}`;
    throw new WeightFileError("TFM5106", `${path} is a folder without weights tfm can read: ${why}`, { file: path });
  }
  if (path.endsWith(".index.json")) return { files: indexShards(path), ...configIn(dirname(path)) };
  return { files: [path] };
}

/** Reads a JSON file of at most maxJsonBytes; throws TFM5106 (via `what`) when it is not JSON. */
export function readJsonFile(path: string, code: "TFM5106" | "TFM5107"): unknown {
  const r = readBounded(path, maxJsonBytes);
  if (!("bytes" in r)) throw new WeightFileError(code, `${path} is ${r.tooLarge} bytes, over the limit of ${maxJsonBytes} for a JSON file`, { file: path });
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(r.bytes)) as unknown;
  } catch (e) {
    throw new WeightFileError(code, `${path} is not valid JSON: ${(e as Error).message}`, { file: path });
  }
}

/** The shards an index names, in first-use order, each a plain file name in the index's folder. */
function indexShards(path: string): string[] {
  const index = readJsonFile(path, "TFM5106");
  const map = typeof index === "object" && index !== null ? (index as { weight_map?: unknown }).weight_map : undefined;
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    throw new WeightFileError("TFM5106", `${path} has no "weight_map" object (tensor name → shard file)`, { file: path });
  }
  const shards: string[] = [];
  for (const [tensor, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== "string" || file === "" || isAbsolute(file) || normalize(file).split(/[\\/]/).includes("..") || file.includes(sep) || file.includes("/")) {
      throw new WeightFileError("TFM5106", `${path}: the shard of ${quote(tensor)} is ${JSON.stringify(file)}, not a file name in the index's folder`, { file: path, tensor });
    }
    if (!shards.includes(file)) shards.push(file);
  }
  if (!shards.length) throw new WeightFileError("TFM5106", `${path} names no shards (its "weight_map" is empty)`, { file: path });
  return shards.map((f) => join(dirname(path), f));
}

/** Opens every file (headers only) and merges their tensors; a name in two files is TFM5105. */
export function openCheckpoint(files: readonly string[]): SafetensorsFile {
  const tensors = new Map<string, TensorEntry>();
  const from = new Map<string, string>();
  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const f of files) {
    const st = openWeights(f);
    for (const [name, e] of st.tensors) {
      const other = from.get(name);
      if (other !== undefined) {
        throw new WeightFileError("TFM5105", `tensor ${quote(name)} is in both ${other} and ${f}: each tensor must be in exactly one shard`, { file: f, tensor: name });
      }
      tensors.set(name, e);
      from.set(name, f);
    }
    for (const [k, v] of Object.entries(st.metadata)) if (!(k in metadata)) metadata[k] = v;
  }
  return { tensors, metadata };
}
