// A bundle's weights: the checkpoint's bytes from wherever the caller has them (an ArrayBuffer or
// view, a Blob or Response, a URL, or a path when running in Node), then bound to the model's
// weights exactly as `tfm run` binds them (src/runtime/checkpoint.ts), with TfmErrors instead of
// diagnostics. Node's file system is reached only through a guarded dynamic import, so browsers
// never load it.
import type { Tensor } from "../core/tensor.js";
import { declared, loadWeight, matchCheckpoint, type WeightSpec } from "../runtime/checkpoint.js";
import { showName } from "../runtime/names.js";
import { WeightFileError } from "../weights/errors.js";
import { readSafetensors } from "../weights/safetensors.js";
import { TfmError } from "./errors.js";

/** Anything `load` accepts as a checkpoint. */
export type WeightsSource = ArrayBuffer | ArrayBufferView | string | { readonly href: string } | { arrayBuffer(): Promise<ArrayBuffer> };

interface NodeProcess {
  readonly versions?: { readonly node?: string };
  getBuiltinModule?(id: string): unknown;
}
interface NodeFs {
  readFile(path: string | URL): Promise<Uint8Array>;
}

const nodeProcess = (): NodeProcess | undefined => {
  const p = (globalThis as { process?: NodeProcess }).process;
  return typeof p?.versions?.node === "string" ? p : undefined;
};

/** `fs/promises` in Node (without a static import, which browsers and their bundlers would trip on). */
async function nodeFs(): Promise<NodeFs> {
  const fromProcess = nodeProcess()?.getBuiltinModule?.("node:fs/promises") as NodeFs | undefined;
  if (fromProcess) return fromProcess;
  // Node before 20.16 has no getBuiltinModule. The name is built at run time, so neither esbuild
  // (which would fold a constant back into `import("node:...")`) nor a bundler of this module sees it.
  const id = ["node", "fs/promises"].join(":");
  return (await import(id)) as NodeFs;
}

/** A URL string (`https:`, `file:`, `data:`, `blob:` ...), as opposed to a path (`C:\` is a path). */
const isUrl = (s: string) => /^[a-z][a-z0-9+.-]+:/i.test(s);

const cannotRead = (what: string, why: string) => new TfmError("TFM5018", `cannot read the weights ${what}: ${why}`, { file: what });

/** The checkpoint's bytes and a name for it in messages. */
export async function readWeights(src: WeightsSource): Promise<{ bytes: Uint8Array; name: string }> {
  if (src instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && src instanceof SharedArrayBuffer)) return { bytes: new Uint8Array(src), name: "<ArrayBuffer>" };
  if (ArrayBuffer.isView(src)) return { bytes: new Uint8Array(src.buffer, src.byteOffset, src.byteLength), name: `<${src.constructor.name}>` };
  // A URL object (or anything with a string href) is its href: fetched, or read in Node when file:.
  const href = typeof src === "object" && src !== null && typeof (src as { href?: unknown }).href === "string" ? (src as { href: string }).href : undefined;
  if (typeof src === "string" || href !== undefined) {
    const text = href ?? (src as string);
    const url = href !== undefined || isUrl(text);
    const node = nodeProcess();
    if (node && (!url || text.startsWith("file:"))) {
      const fs = await nodeFs();
      try {
        return { bytes: await fs.readFile(url ? new URL(text) : text), name: text };
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === "ERR_FS_FILE_TOO_LARGE") throw new TfmError("TFM5017", `${text} is too large to load whole`, { file: text });
        throw cannotRead(text, code === "ENOENT" ? "no such file or directory" : code === "EISDIR" ? "it is a directory" : code === "EACCES" || code === "EPERM" ? "permission denied" : (e as Error).message);
      }
    }
    let res: Response;
    try {
      res = await fetch(text);
    } catch (e) {
      throw cannotRead(text, `fetch failed (${(e as Error).message})`);
    }
    if (!res.ok) throw cannotRead(text, `the server answered ${res.status} ${res.statusText}`.trim());
    return { bytes: new Uint8Array(await res.arrayBuffer()), name: text };
  }
  if (src !== null && typeof src === "object" && typeof (src as { arrayBuffer?: unknown }).arrayBuffer === "function") {
    const blob = src as { arrayBuffer(): Promise<ArrayBuffer> };
    return { bytes: new Uint8Array(await blob.arrayBuffer()), name: `<${blob.constructor?.name ?? "Blob"}>` };
  }
  throw new TfmError("TFM5018", `load() takes the weights as an ArrayBuffer, a typed array, a Blob or Response, a URL or (in Node) a path; got ${src === null ? "null" : typeof src}`);
}

/** Reads the checkpoint and binds it to the model's weights: every weight in its runtime dtype and declared layout. */
export function bindWeights(bytes: Uint8Array, name: string, weights: readonly WeightSpec[], ignored: readonly string[]): Map<string, Tensor> {
  let file;
  try {
    file = readSafetensors(bytes, name);
  } catch (e) {
    if (!(e instanceof WeightFileError)) throw e;
    const at = e.offset !== undefined && e.offset > 0 ? ` (at byte ${e.offset})` : "";
    throw new TfmError(e.code, `${name}: ${e.message}${at}`, { file: name, ...(e.offset !== undefined ? { offset: e.offset } : {}), ...(e.tensor !== undefined ? { tensor: e.tensor } : {}) });
  }
  const problems = matchCheckpoint(weights, file, ignored, name);
  if (problems.length) {
    const [first] = problems;
    const notes = first!.notes.map((n) => `\n  note: ${n}`).join("");
    const more = problems.length > 1 ? `\n  (and ${problems.length - 1} more problem${problems.length > 2 ? "s" : ""}: see the error's \`problems\`)` : "";
    throw new TfmError(first!.code, `${first!.message}${notes}${more}`, {
      file: name,
      ...(first!.weight ? { tensor: first!.weight.name } : {}),
      problems: problems.map((p) => ({ code: p.code, message: p.message, notes: p.notes })),
    });
  }
  const tensors = new Map<string, Tensor>();
  for (const w of weights) {
    try {
      tensors.set(w.name, loadWeight(w, file.tensors.get(w.name)!));
    } catch (e) {
      // V8 refusing the converted copy (f16 → f32): the weights are too large for this machine.
      if (e instanceof RangeError && /allocation failed|invalid typed array length|invalid array buffer length/i.test(e.message)) throw new TfmError("TFM6003", `cannot load weight ${showName(w.name)} (${declared(w)}) from ${name}: it could not be allocated (${e.message})`, { file: name, tensor: w.name });
      if (!(e instanceof WeightFileError)) throw e;
      throw new TfmError(e.code, `cannot load weight ${showName(w.name)} (${declared(w)}) from ${name}: ${e.message}`, { file: name, tensor: w.name });
    }
  }
  return tensors;
}
