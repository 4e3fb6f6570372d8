// `node:fs/promises` for bundles: the weight readers' shared byte helpers (src/weights/bytes.ts)
// import `open` for reading whole files, which bundles never call (their loader reads paths through
// a guarded dynamic import, src/bundle/weights.ts). src/bundle/build.ts aliases the module here, so
// the bundle carries no static import of a Node module.
export function open(): never {
  throw new Error("tfm bundle: node:fs/promises is not available here");
}
