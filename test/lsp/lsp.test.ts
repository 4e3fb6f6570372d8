// `tfm lsp` through a real client over stdio: diagnostics, hover, definition, completion, symbols,
// inlay hints, resilience to bad requests and failing features, and shutdown/exit.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiagnosticSeverity, type Hover, type Location, type Position } from "vscode-languageserver-protocol/node.js";
import { build, Client, marked, root } from "./client.js";

const gpt2Uri = pathToFileURL(resolve(root, "models/gpt2.tfm")).href;
const gpt2 = readFileSync(resolve(root, "models/gpt2.tfm"), "utf8");
const nnUri = pathToFileURL(resolve(root, "src/std/nn.tfm")).href;
const nn = readFileSync(resolve(root, "src/std/nn.tfm"), "utf8");

/** The position of the `k`-th character of the first occurrence of `needle` in `text`. */
function at(text: string, needle: string, k = 0): Position {
  const i = text.indexOf(needle);
  if (i < 0) throw new Error(`not found: ${needle}`);
  const before = text.slice(0, i + k).split("\n");
  return { line: before.length - 1, character: before[before.length - 1]!.length };
}
const hoverText = (h: Hover | null) => (h && typeof h.contents === "object" && "value" in h.contents ? h.contents.value : "");
let n = 0;
const uri = () => `file:///tmp/tfm-lsp-test/doc${++n}.tfm`;

let client: Client;
beforeAll(async () => {
  build();
  client = await Client.start();
  await client.open(gpt2Uri, gpt2);
});
afterAll(async () => {
  expect(await client.stop()).toBe(0);
});

describe("diagnostics", () => {
  it("reports a syntax error with its code, severity and range", async () => {
    const u = uri();
    await client.open(u, "model M {\n  input x: f32[n]\n  output y = relu(x\n}\n");
    const ds = await client.diagnostics(u, 1);
    const d = ds.find((x) => x.code === "TFM1003");
    expect(d, JSON.stringify(ds)).toBeDefined();
    expect(d!.severity).toBe(DiagnosticSeverity.Error);
    expect(d!.source).toBe("tfm");
    expect(d!.range.start.line).toBe(3);
  });

  it("reports an undefined name at its UTF-16 position, with did-you-mean", async () => {
    const u = uri();
    const text = 'model M {\n  input x: f32[n]\n  output y = activate(kind="😀é", x=xx)\n}\n';
    await client.open(u, text);
    const [d] = await client.diagnostics(u, 1);
    expect(d).toMatchObject({ code: "TFM2001", severity: DiagnosticSeverity.Error, range: { start: at(text, "xx)"), end: at(text, "xx)", 2) } });
    expect(d!.range.start.character).toBe('  output y = activate(kind="😀é", x='.length); // the emoji counts 2 UTF-16 units
    expect(d!.message).toContain("`xx` is not defined");
    expect(d!.message).toContain("help: did you mean `x`?");
  });

  it("reports a shape error inside the standard library at the user's line, with related locations in nn.tfm", async () => {
    const u = uri();
    const text = "model M {\n  input x: f32[b, s, 10]\n  layer attn = MultiheadAttention(10, 3)\n  output y = attn(x, x, x)\n}\n";
    await client.open(u, text);
    const ds = await client.diagnostics(u, 1);
    const d = ds.find((x) => x.code === "TFM3001");
    expect(d, JSON.stringify(ds)).toBeDefined();
    expect(d!.message).toContain("10 / 3 is not a whole number");
    expect([2, 3]).toContain(d!.range.start.line); // the layer's declaration or its use
    const related = d!.relatedInformation ?? [];
    const inStd = related.filter((r) => r.location.uri === nnUri);
    expect(inStd.length).toBeGreaterThan(0);
    expect(related.some((r) => r.location.uri === u)).toBe(true);
    // The related range points at real text in nn.tfm: the error's expression.
    const here = inStd.find((r) => r.message === "the error is here")!;
    const line = nn.split("\n")[here.location.range.start.line]!;
    expect(line.slice(here.location.range.start.character, here.location.range.end.character)).toMatch(/\//);
  });

  it("publishes nothing for a clean model and clears a closed document", async () => {
    expect(await client.diagnostics(gpt2Uri, 1)).toEqual([]);
    const u = uri();
    await client.open(u, "model M {");
    expect((await client.diagnostics(u, 1)).length).toBeGreaterThan(0);
    client.forget(u);
    await client.close(u);
    expect(await client.diagnostics(u)).toEqual([]);
  });

  it("follows incremental edits", async () => {
    const u = uri();
    const text = "model M {\n  input x: f32[n]\n  output y = relu(x)\n}\n";
    await client.open(u, text);
    expect(await client.diagnostics(u, 1)).toEqual([]);
    const p = at(text, "x)");
    await client.change(u, 2, [{ range: { start: p, end: { ...p, character: p.character + 1 } }, text: "xy" }]);
    expect((await client.diagnostics(u, 2)).map((d) => d.code)).toEqual(["TFM2001"]);
    await client.change(u, 3, [{ range: { start: p, end: { ...p, character: p.character + 2 } }, text: "x" }]);
    expect(await client.diagnostics(u, 3)).toEqual([]);
  });
});

describe("hover", () => {
  it("shows a binding's shape in gpt2.tfm", async () => {
    const h = await client.hover(gpt2Uri, at(gpt2, "x = drop("));
    expect(hoverText(h)).toContain("(binding) x: f32[batch, seq, 768]");
    expect(h!.range).toEqual({ start: at(gpt2, "x = drop("), end: at(gpt2, "x = drop(", 1) });
  });

  it("shows the innermost expression's shape", async () => {
    expect(hoverText(await client.hover(gpt2Uri, at(gpt2, "+ wpe(")))).toContain("wte(input_ids) + wpe(position_ids): f32[batch, seq, 768]");
    expect(hoverText(await client.hover(gpt2Uri, at(gpt2, "mask_positions(mask, seq", 21)))).toContain("int (seq)");
  });

  it("shows a layer's block, parameter values and weights with checkpoint names", async () => {
    const text = hoverText(await client.hover(gpt2Uri, at(gpt2, "layer wte", 6)));
    expect(text).toContain("(layer) wte = Embedding(num_embeddings=50257, embedding_dim=768)");
    expect(text).toContain("block Embedding(num_embeddings: int, embedding_dim: int)");
    expect(text).toContain("wte.weight: f32[50257, 768]");
    const h = hoverText(await client.hover(gpt2Uri, at(gpt2, "layer h =", 6)));
    expect(h).toContain("12 instances");
    expect(h).toContain("h.0.attn.c_attn.weight: f32[768, 2304]");
  });

  it("shows a weight through a member access, for that layer only", async () => {
    const text = hoverText(await client.hover(gpt2Uri, at(gpt2, "transpose(wte.weight)", 15)));
    expect(text).toContain("wte.weight: f32[50257, 768]");
    expect(text).not.toContain("wpe.weight");
  });

  it("shows builtin and std function signatures with their docs", async () => {
    const b = hoverText(await client.hover(gpt2Uri, at(gpt2, "append(mask_cache")));
    expect(b).toContain("builtin append(cache: tensor, x: tensor)");
    expect(b).toContain("extended by x along its `past` dim");
    const f = hoverText(await client.hover(gpt2Uri, at(gpt2, "gelu_tanh(c_fc")));
    expect(f).toContain("fn gelu_tanh(x: f32[...])");
    expect(f).toContain("tanh approximation");
  });

  it("shows a block's signature and a parameter's value", async () => {
    expect(hoverText(await client.hover(gpt2Uri, at(gpt2, "block MLP", 7)))).toContain("block MLP(n_embd: int, n_inner: int, resid_pdrop: float)");
    expect(hoverText(await client.hover(gpt2Uri, at(gpt2, "n_layer = 12")))).toContain("value in the model: 12");
  });

  it("still shows shapes where one typo in gpt2.tfm does not reach (hover and inlay hints)", async () => {
    const u = uri();
    const typo = gpt2.replace("gelu_tanh(c_fc(x))", "gelu_tanhh(c_fc(x))");
    await client.open(u, typo);
    const ds = await client.diagnostics(u, 1);
    expect(ds.map((d) => d.code)).toEqual(["TFM2001"]);
    // The model's embeddings and each block's attention come before the typo's value is used.
    expect(hoverText(await client.hover(u, at(typo, "x = drop(")))).toContain("(binding) x: f32[batch, seq, 768]");
    expect(hoverText(await client.hover(u, at(typo, "c_fc(x)", 5)))).toContain("x: f32[batch, seq, 768]");
    const hints = (await client.inlayHints(u, { start: { line: 0, character: 0 }, end: { line: 999, character: 0 } }))!;
    expect(hints).toContainEqual(expect.objectContaining({ position: at(typo, "heads = scaled", 5), label: ": f32[batch, 12, seq, 64]" }));
    // What the typo makes unknown gets no hint rather than a wrong one.
    expect(hints.some((h) => h.position.line === at(typo, "logits = ").line)).toBe(false);
  });

  it("answers null where there is nothing to say", async () => {
    expect(await client.hover(gpt2Uri, { line: 0, character: 3 })).toBeNull(); // a comment
  });
});

describe("definition", () => {
  it("jumps from Linear into src/std/nn.tfm", async () => {
    const u = uri();
    const { text, at: [p] } = marked("model M {\n  input x: f32[n, 4]\n  layer proj = Lin<|>ear(4, 8)\n  output y = proj(x)\n}\n");
    await client.open(u, text);
    const loc = (await client.definition(u, p!)) as Location;
    expect(loc.uri).toBe(nnUri);
    expect(nn.split("\n")[loc.range.start.line]).toMatch(/^block Linear\(/);
    expect(loc.range).toEqual({ start: at(nn, "block Linear(", 6), end: at(nn, "block Linear(", 12) });
  });

  it("jumps to a local binding, a weight, a layer, an input, a dim and a parameter", async () => {
    const cases: [string, string][] = [
      ["output y = h<|> + mlp", "h = x + attn"],
      ["x @ weight<|> + bias", "weight: f32[nx, nf]"],
      ["h = x + attn(ln_1<|>(x), attention_mask)", "ln_1 = LayerNorm"],
      ["h = x<|> + attn", "x: f32[B, T, n_embd]\n  input attention_mask: bool[...] = true\n  layer ln_1"],
      ["mask_positions(mask, seq<|>, past)", "seq]"],
      ["LayerNorm(n_embd, eps=layer_norm_epsilon<|>)\n  # The mask", "layer_norm_epsilon = 1e-5"],
    ];
    for (const [from, to] of cases) {
      const { text, at: [p] } = marked(gpt2.replace(from.replace("<|>", ""), from));
      expect(text).toBe(gpt2);
      const loc = (await client.definition(gpt2Uri, p!)) as Location;
      expect(loc?.uri, from).toBe(gpt2Uri);
      expect(loc.range.start, from).toEqual(at(gpt2, to));
    }
  });

  it("jumps from a member access and a named argument to their declarations", async () => {
    const w = (await client.definition(gpt2Uri, at(gpt2, "transpose(wte.weight)", 15))) as Location;
    expect(w.uri).toBe(nnUri);
    expect(nn.split("\n")[w.range.start.line]).toMatch(/param weight/);
    const eps = (await client.definition(gpt2Uri, at(gpt2, "eps=layer_norm_epsilon)\n  # The mask", 1))) as Location;
    expect(eps.uri).toBe(nnUri);
    expect(nn.split("\n")[eps.range.start.line]).toMatch(/^block LayerNorm\(/);
  });
});

describe("completion", () => {
  const complete = async (source: string) => {
    const u = uri();
    const { text, at: [p] } = marked(source);
    await client.open(u, text);
    return (await client.completion(u, p!)).map((i) => i.label);
  };

  it("offers blocks after `layer x =`", async () => {
    const labels = await complete("block Mine {\n  input x: f32[n]\n  output y = x\n}\nmodel M {\n  input x: f32[n, 4]\n  layer p = <|>\n  output y = x\n}\n");
    expect(labels).toEqual(expect.arrayContaining(["Linear", "LayerNorm", "MultiheadAttention", "Mine"]));
    expect(labels).not.toContain("relu");
    expect(labels).not.toContain("x");
  });

  it("offers named arguments inside a layer's and a call's parentheses", async () => {
    const layer = await complete("model M {\n  input x: f32[n, 4]\n  layer p = LayerNorm(4, <|>)\n  output y = p(x)\n}\n");
    expect(layer).toContain("eps=");
    expect(layer).not.toContain("normalized_shape="); // given positionally
    const linear = await complete("model M {\n  input x: f32[n, 4]\n  layer p = Linear(in_features=4, <|>)\n  output y = p(x)\n}\n");
    expect(linear.filter((l) => l.endsWith("="))).toEqual(["out_features=", "bias="]);
    const call = await complete("model M {\n  input x: f32[n, 4]\n  output y = softmax(x, <|>)\n}\n");
    expect(call).toContain("dim=");
    expect(call).toContain("x"); // values are offered too
  });

  it("offers locals, functions and builtins in expressions, and members after a layer name", async () => {
    const labels = await complete("model M {\n  input tokens: f32[n, 4]\n  layer proj = Linear(4, 8)\n  hidden = proj(tokens)\n  output y = <|>\n}\n");
    expect(labels).toEqual(expect.arrayContaining(["tokens", "proj", "hidden", "n", "relu", "softmax", "exp", "matmul"]));
    expect(labels).not.toContain("Linear");
    const members = await complete("model M {\n  input x: f32[n, 4]\n  layer proj = Linear(4, 8)\n  output y = proj.<|>\n}\n");
    expect(members).toEqual(["weight", "b"]); // Linear's bias is `param b ... as "bias"`
  });

  it("offers keywords at the start of a statement and nothing inside a comment", async () => {
    expect(await complete("model M {\n  input x: f32[n]\n  <|>\n  output y = x\n}\n")).toEqual(expect.arrayContaining(["layer", "param", "output"]));
    expect(await complete("model M {\n  input x: f32[n]\n  # see <|>\n  output y = x\n}\n")).toEqual([]);
  });
});

describe("document symbols and inlay hints", () => {
  it("outlines the model, blocks and their members", async () => {
    const syms = (await client.symbols(gpt2Uri)) as { name: string; detail?: string; children?: { name: string }[] }[];
    expect(syms.map((s) => s.name)).toEqual(["Conv1D", "Attention", "MLP", "Block", "GPT2"]);
    const model = syms.find((s) => s.name === "GPT2")!;
    expect(model.detail).toBe("model");
    expect(model.children!.map((c) => c.name)).toEqual(expect.arrayContaining(["n_layer", "input_ids", "wte", "h", "x", "logits"]));
  });

  it("shows the shape of each binding after its name", async () => {
    const hints = (await client.inlayHints(gpt2Uri, { start: { line: 0, character: 0 }, end: { line: 999, character: 0 } }))!;
    const x = at(gpt2, "x = drop(", 1);
    expect(hints).toContainEqual(expect.objectContaining({ position: x, label: ": f32[batch, seq, 768]" }));
    const logits = at(gpt2, "logits = ", 6);
    expect(hints).toContainEqual(expect.objectContaining({ position: logits, label: ": f32[batch, seq, 50257]" }));
    const heads = at(gpt2, "heads = scaled", 5);
    expect(hints).toContainEqual(expect.objectContaining({ position: heads, label: ": f32[batch, 12, seq, 64]" }));
  });
});

describe("resilience", () => {
  it("answers requests on unknown documents and out-of-range positions without dying", async () => {
    expect(await client.hover("file:///nowhere/none.tfm", { line: 0, character: 0 })).toBeNull();
    expect(await client.definition("file:///nowhere/none.tfm", { line: 0, character: 0 })).toBeNull();
    expect(await client.hover(gpt2Uri, { line: 99999, character: 99999 })).toBeNull();
    expect(await client.completion(gpt2Uri, { line: -5, character: 1e9 })).toBeDefined();
    expect(await client.symbols(gpt2Uri)).not.toBeNull();
    expect(client.child.exitCode).toBeNull();
  });

  it("turns a failing feature into a diagnostic on the file and a log message, and lives on", async () => {
    const c = await Client.start({ env: { TFM_LSP_FAULTS: "hover" } });
    try {
      const u = uri();
      await c.open(u, "model M {\n  input x: f32[n]\n  output y = relu(x)\n}\n");
      expect(await c.diagnostics(u, 1)).toEqual([]);
      c.forget(u);
      expect(await c.hover(u, { line: 2, character: 10 })).toBeNull();
      const ds = await c.diagnostics(u, 1);
      expect(ds).toHaveLength(1);
      expect(ds[0]).toMatchObject({ code: "TFM9001", severity: DiagnosticSeverity.Error });
      expect(ds[0]!.message).toContain("internal error in the tfm language server (hover)");
      expect(c.logs.some((l) => l.includes("hover failed") && l.includes("TFM_LSP_FAULTS"))).toBe(true);
      expect(((await c.definition(u, { line: 2, character: 18 })) as Location).range.start).toEqual({ line: 1, character: 8 });
    } finally {
      expect(await c.stop()).toBe(0);
    }
  });

  it("shows a failure to compute diagnostics as a diagnostic", async () => {
    const c = await Client.start({ env: { TFM_LSP_FAULTS: "diagnostics" } });
    try {
      const u = uri();
      await c.open(u, "model M {}");
      const [d] = await c.diagnostics(u, 1);
      expect(d).toMatchObject({ code: "TFM9001" });
      expect(d!.message).toContain("(diagnostics)");
      expect(await c.symbols(u)).toHaveLength(1);
    } finally {
      await c.stop();
    }
  });

  it("starts as VS Code's client starts it (forked, with --stdio --clientProcessId=<pid>)", async () => {
    const c = await Client.start({ fork: true });
    const u = uri();
    await c.open(u, "model M {\n  input x: f32[n]\n  output y = relu(x)\n}\n");
    expect(await c.diagnostics(u, 1)).toEqual([]);
    expect(await c.stop()).toBe(0);
  });

  it("exits with 1 on `exit` without `shutdown`, as the protocol asks", async () => {
    const c = await Client.start();
    const { ExitNotification } = await import("vscode-languageserver-protocol/node.js");
    await c.conn.sendNotification(ExitNotification.type);
    expect(await c.exited).toBe(1);
  });
});
