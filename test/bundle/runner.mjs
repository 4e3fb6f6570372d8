// Runs one PyTorch reference fixture (test/fixtures/) through a tfm bundle, the same way in Node
// and in a browser: plain JavaScript with no imports, copied next to the bundles. `read(rel)` gives
// the bytes of a file of the fixture's directory (fs in Node, fetch in a browser).

/** A .npy file (versions 1-3, little-endian f4/f8/i4/i8 or bool, C order) as { data, shape }. */
export function parseNpy(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== "NUMPY") throw new Error("not a .npy file");
  const v1 = bytes[6] === 1;
  const headerLen = v1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = (v1 ? 10 : 12) + headerLen;
  const header = new TextDecoder().decode(bytes.subarray(v1 ? 10 : 12, start));
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error("fortran order");
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const raw = Uint8Array.prototype.slice.call(bytes, start).buffer; // a copy, aligned for any element size (Buffer#slice would be a view)
  const types = { "<f4": Float32Array, "<f8": Float64Array, "<i4": Int32Array, "<i8": BigInt64Array, "|b1": Uint8Array, "|u1": Uint8Array };
  const T = types[descr];
  if (!T) throw new Error(`unsupported .npy dtype ${descr}`);
  return { data: new T(raw), shape };
}

/** Loads the fixture's weights (`weights` and `options`, as load() takes them), runs its inputs and compares every output with PyTorch's. */
export async function runFixture(bundle, weights, read, options) {
  const manifest = JSON.parse(new TextDecoder().decode(await read("manifest.json")));
  const model = await bundle.load(weights, options);
  const inputs = {};
  for (const [name, e] of Object.entries(manifest.inputs)) inputs[name] = parseNpy(await read(e.file));
  const t0 = performance.now();
  const outputs = await model.run(inputs);
  const ms = performance.now() - t0;
  const result = {};
  for (const [name, e] of Object.entries(manifest.outputs)) {
    const want = parseNpy(await read(e.file));
    const got = outputs[name];
    let maxErr = 0;
    for (let i = 0; i < want.data.length; i++) {
      const d = Math.abs(want.data[i] - got.data[i]);
      maxErr = Number.isNaN(d) ? Infinity : Math.max(maxErr, d);
    }
    result[name] = { shape: got.shape, wantShape: want.shape, type: got.data.constructor.name, maxErr, data: Array.from(got.data) };
  }
  model.dispose();
  return { outputs: result, ms };
}
