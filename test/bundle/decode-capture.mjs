// The bundle side of decode-capture.test.ts, the same in Node and in a browser (plain JavaScript,
// copied next to the bundles): prefill and step with `{ capture }`, a refused pattern, and the
// whole-sequence runs to compare them with. Every tensor comes back as JSON (-0 kept as "-0").

const json = (outs) => Object.fromEntries(Object.entries(outs).map(([k, v]) => [k, { shape: v.shape, data: Array.from(v.data, (x) => (Object.is(x, -0) ? "-0" : x)) }]));
const ids = (rows) => ({ input_ids: { data: rows.flat(), shape: [rows.length, rows[0].length] } });

export async function decodeCaptures(bundle, weights, prompt, next) {
  const m = await bundle.load(weights);
  const r = {};
  r.prefill = json(await m.prefill(ids(prompt), { capture: ["h.*.attn.weights"] }));
  r.step = json(await m.step(ids(next), { capture: true }));
  r.lengthAfterStep = m.cacheLength;
  try {
    await m.step(ids(next), { capture: ["h.*.atn.weights"] });
    r.refused = { ok: true };
  } catch (e) {
    r.refused = { ok: false, code: e?.code, message: String(e?.message), isTfmError: e instanceof bundle.TfmError };
  }
  r.lengthAfterRefused = m.cacheLength;
  r.plainStep = Object.keys(await m.step(ids(next)));
  r.run = json(await m.run(ids(prompt), { capture: true }));
  r.full = json(await m.run(ids(prompt.map((row, b) => [...row, next[b][0]])), { capture: true }));
  m.dispose();
  return r;
}
