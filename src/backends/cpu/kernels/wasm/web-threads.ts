// The GEMM's workers in a browser page: Web Workers running gemm.ts's `workerSource` (from a blob:
// URL, so a bundle stays one file) on the module and shared memory of the page. Only a page that
// is cross-origin isolated (served with `Cross-Origin-Opener-Policy: same-origin` and
// `Cross-Origin-Embedder-Policy: require-corp`) has SharedArrayBuffer and shared WebAssembly
// memory; elsewhere the products run on the page's thread, and `webThreads` says why once. The
// page's own thread may not sleep in Atomics.wait: gemm.ts spins there for the workers' last chunks.
// Nothing here names a Node API: the CPU bundle imports it (src/bundle/engine-cpu.ts).
import { acquireGemmWorkers, type SpawnGemmWorker } from "./gemm.js";

interface WebWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  onmessage: ((e: { data: unknown }) => void) | null;
  onerror: ((e: { message?: string }) => void) | null;
}
interface WebHost {
  Worker?: new (url: string) => WebWorker;
  Blob?: new (parts: string[], options: { type: string }) => unknown;
  URL?: { createObjectURL(blob: unknown): string; revokeObjectURL(url: string): void };
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
}
const host = globalThis as unknown as WebHost;

/** Why this page's products cannot run on workers; undefined where they can. */
export function webThreadsUnavailable(): string | undefined {
  if (typeof host.Worker !== "function" || typeof host.Blob !== "function" || !host.URL) return "there are no Web Workers here";
  if (host.crossOriginIsolated !== true || typeof SharedArrayBuffer !== "function") return "the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)";
  return undefined;
}

/** The default thread count: the cores the host reports (navigator.hardwareConcurrency), else 1. */
export function defaultWebThreads(): number {
  return Math.max(1, Math.min(1024, host.navigator?.hardwareConcurrency ?? 1));
}

const spawn: SpawnGemmWorker = (source, data) => {
  const program = `onmessage = (e) => { onmessage = null; (${source})(e.data, (m) => postMessage(m)); };`;
  const url = host.URL!.createObjectURL(new host.Blob!([program], { type: "text/javascript" }));
  const worker = new host.Worker!(url);
  const ready = new Promise<void>((resolve, reject) => {
    worker.onmessage = () => {
      host.URL!.revokeObjectURL(url);
      resolve();
    };
    worker.onerror = (e) => reject(new Error(`a GEMM worker did not start: ${e.message ?? "no reason given"}`));
  });
  worker.postMessage(data);
  return { worker: { terminate: () => worker.terminate() }, ready };
};

let said = false;

/**
 * `threads` threads for the products where the page allows workers (gemm.ts `acquireGemmWorkers`);
 * elsewhere one, and when more were asked for, `note` is told why — once per page.
 */
export async function webThreads(threads: number, note: (message: string) => void): Promise<{ threads: number; release: () => void }> {
  const why = webThreadsUnavailable();
  if (threads <= 1) return { threads: 1, release: () => undefined };
  if (why !== undefined) {
    if (!said) note(`tfm: the CPU kernels run on one thread, not ${threads}: ${why}`);
    said = true;
    return { threads: 1, release: () => undefined };
  }
  return acquireGemmWorkers(threads, spawn);
}
