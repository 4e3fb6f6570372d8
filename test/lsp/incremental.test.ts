// Property: incremental = fresh. Random edit sequences sent through didChange (incremental
// ranges, several changes per notification) to an open gpt2.tfm give the same diagnostics,
// hovers and symbols as opening the final text fresh. Prints its seed; TFM_LSP_SEED replays one.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Position, TextDocumentContentChangeEvent } from "vscode-languageserver-protocol/node.js";
import { build, Client, root } from "./client.js";
import { pickSeed } from "../helpers/seed.js";

const gpt2 = readFileSync(resolve(root, "models/gpt2.tfm"), "utf8");
const seed = pickSeed("TFM_LSP_SEED");
const runs = Number(process.env.TFM_LSP_RUNS ?? 300);

/** Offset → LSP position, independently of the server: lines end at \r\n, \n or \r; columns are UTF-16 units. */
function position(text: string, offset: number): Position {
  let line = 0;
  let start = 0;
  for (let i = 0; i < offset; i++) {
    const ch = text[i];
    if (ch === "\n" || (ch === "\r" && text[i + 1] !== "\n")) {
      line++;
      start = i + 1;
    }
  }
  return { line, character: offset - start };
}

/** An offset the protocol can name: never between the \r and \n of a line break. */
const nameable = (text: string, o: number) => (o > 0 && text[o - 1] === "\r" && text[o] === "\n" ? o - 1 : o);

// Snippets: pieces of the model itself, and edits that break it (brackets, strings, non-ASCII, line breaks).
const breaking = ["{", "}", "(", ")", "[", "]", ",", "=", "\n", "\r\n", "\r", '"', "#", "😀", "é", "@", "x = ", " ", "\t", "layer q = Linear(3, 4)\n", "output z = x\n", "1e999", "model", "..."];
const snippet = fc.oneof(
  fc.constantFrom(...breaking),
  fc.tuple(fc.nat(gpt2.length), fc.integer({ min: 0, max: 40 })).map(([s, n]) => gpt2.slice(s, s + n)),
);
/** Where and how much: fractions of the current text, resolved when the edit is applied. */
const change = fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), len: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 30 })), text: fc.oneof(fc.constant(""), snippet) });
const step = fc.record({ changes: fc.array(change, { minLength: 1, maxLength: 3 }), hoverAt: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }) });
const scenario = fc.record({ steps: fc.array(step, { minLength: 1, maxLength: 10 }), probes: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 3, maxLength: 3 }) });

let client: Client;
beforeAll(async () => {
  build();
  client = await Client.start();
});
afterAll(async () => {
  await client?.stop();
});

it("incremental edits give the same results as a fresh open", async () => {
  console.log(`incremental = fresh: seed ${seed}, ${runs} runs (replay with TFM_LSP_SEED=${seed})`);
  let run = 0;
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(scenario, async ({ steps, probes }) => {
      run++;
      const a = `file:///tmp/tfm-lsp-prop/run${run}/edited.tfm`;
      const b = `file:///tmp/tfm-lsp-prop/run${run}/fresh.tfm`;
      let text = gpt2;
      let version = 1;
      await client.open(a, text, version);
      for (const s of steps) {
        const changes: TextDocumentContentChangeEvent[] = [];
        for (const c of s.changes) {
          const start = nameable(text, Math.floor(c.at * text.length));
          const end = nameable(text, Math.min(text.length, start + c.len));
          changes.push({ range: { start: position(text, start), end: position(text, end) }, text: c.text });
          text = text.slice(0, start) + c.text + text.slice(end);
        }
        await client.change(a, ++version, changes);
        if (s.hoverAt !== undefined) await client.hover(a, position(text, Math.floor(s.hoverAt * text.length))); // checks this version now
      }
      await client.open(b, text, 1);
      const normal = (x: unknown) => JSON.stringify(x).replaceAll(a, b).replaceAll("/edited.tfm", "/fresh.tfm");
      const [da, db] = await Promise.all([client.diagnostics(a, version), client.diagnostics(b, 1)]);
      expect(normal(da)).toBe(JSON.stringify(db));
      for (const p of probes) {
        const pos = position(text, Math.floor(p * text.length));
        expect(normal(await client.hover(a, pos))).toBe(JSON.stringify(await client.hover(b, pos)));
      }
      expect(normal(await client.symbols(a))).toBe(JSON.stringify(await client.symbols(b)));
      await client.close(a);
      await client.close(b);
    }),
    { seed, numRuns: runs },
  );
  console.log(`incremental = fresh: ${run} runs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 120_000);
