// Random programs from the grammar of docs/LANGUAGE.md §3 (grammar/parser.ts is normative), for
// the fuzz shards: every production is drawn — blocks, models and fns with parameter lists,
// every member kind (input, output, param with `as`/`transposed`, state, layer with `repeat` and
// `as`, ignore, if/else, return, unpacking assignments), and expressions of every precedence
// level (calls with keyword arguments, subscripts with slices and `...`, member access, lists,
// the Python forms the grammar accepts for TFM1015). Names come from small pools (the builtins,
// the standard library's blocks and fns, names bound earlier, a few unbound ones), so some
// programs check clean and run, and the others reach the resolver's and checker's errors rather
// than the parser's alone. Syntactically, every program is valid or one `slip` away from it.
import { Chooser } from "./shapes-gen.js";

const builtins = [
  "exp", "log", "sqrt", "rsqrt", "tanh", "erf", "sigmoid", "abs", "sin", "cos", "pow", "maximum", "minimum", "where", "matmul",
  "transpose", "permute", "reshape", "unsqueeze", "squeeze", "expand", "concat", "stack", "chunk", "take", "append", "once", "sum", "mean",
  "max", "min", "argmax", "cumsum", "cast", "arange", "zeros", "ones", "full", "dropout",
  "relu", "gelu", "gelu_tanh", "silu", "softmax", "log_softmax", "masked_softmax", "causal_mask", "padding_mask", "mask_positions",
  "scaled_dot_product_attention", "split_heads", "merge_heads", "repeat_kv", "sinusoidal_encoding", "rotary_embedding", "rotate_half",
];
const stdBlocks = ["Linear", "Embedding", "LayerNorm", "RMSNorm", "Dropout", "FeedForward", "MultiheadAttention", "TransformerEncoderLayer", "PositionalEncoding"];
const dtypes = ["f32", "f32", "f32", "i32", "bool", "f16", "bf16", "i64"];
const symbols = ["B", "T", "S", "batch", "seq"];
const keywords = ["dim", "eps", "causal", "keepdim", "dtype", "dropout_p", "bias", "p"];

export class ProgramGen {
  private readonly out: string[] = [];
  /** Names bound in the current body, with a rough rank for choosing how to use them. */
  private scope: string[] = [];
  private params: string[] = [];
  private readonly blocks: string[] = [];
  private depth = 0;

  constructor(private readonly c: Chooser) {}

  program(): string {
    const c = this.c;
    const items = c.range(1, 4);
    for (let i = 0; i < items; i++) {
      if (i === items - 1 || c.chance(30)) this.block(i === items - 1 ? "model" : "block");
      else if (c.chance(50)) this.block("block");
      else this.fn();
    }
    return this.out.join("");
  }

  private emit(s: string): void {
    this.out.push(s);
  }

  private name(prefix = "v"): string {
    return `${prefix}${this.c.int(6)}`;
  }

  private int(): string {
    return String(this.c.pick([1, 1, 2, 2, 3, 4, 8, 16, 0, -1, 3, 100000, 9007199254740993]));
  }

  private float(): string {
    return this.c.pick(["0.5", "1.0", "1e-5", "0.0", "2.5", "1e999", "-0.0", "3.14159"]);
  }

  private paramList(isModel: boolean): string {
    const c = this.c;
    const n = c.int(4);
    const ps: string[] = [];
    this.params = [];
    for (let i = 0; i < n; i++) {
      const p = c.pick(["d", "n", "h", "eps", "p", "flag", "k"]) + (c.chance(20) ? String(i) : "");
      if (this.params.includes(p) && c.chance(80)) continue;
      this.params.push(p);
      const type = c.chance(isModel ? 20 : 70) ? `: ${c.pick(["int", "int", "float", "bool", "str", "f32[n]"])}` : "";
      const dflt = isModel || c.chance(30) ? ` = ${p === "eps" || p === "p" ? this.float() : p === "flag" ? c.pick(["true", "false"]) : c.pick(["4", "2", "8", "1", "16", this.int(), '"x"', "2 * 4"])}` : "";
      ps.push(`${p}${type}${dflt}`);
    }
    return `(${ps.join(", ")}${ps.length && c.chance(20) ? "," : ""})`;
  }

  private block(kind: "model" | "block"): void {
    const c = this.c;
    const name = kind === "model" ? c.pick(["M", "Model", "Net"]) : c.pick(["A", "Blk", "Enc", "Mlp"]) + (this.blocks.length ? String(this.blocks.length) : "");
    this.blocks.push(name);
    const params = c.chance(kind === "model" ? 85 : 70) ? this.paramList(kind === "model") : ((this.params = []), "");
    this.emit(`${kind} ${name}${params} {\n`);
    this.scope = [];
    this.body(true);
    this.emit("}\n");
  }

  private fn(): void {
    const c = this.c;
    const name = c.pick(["f", "g", "helper", "relu"]);
    const n = c.int(3);
    const ps: string[] = [];
    for (let i = 0; i < n; i++) ps.push(`${c.pick(["x", "y", "n", "d"])}${c.chance(30) ? String(i) : ""}${c.chance(80) ? `: ${c.chance(60) ? this.tensorType() : c.pick(["int", "float", "bool"])}` : ""}`);
    this.params = ps.map((p) => p.split(":")[0]!);
    this.emit(`fn ${name}(${ps.join(", ")}) {\n`);
    this.scope = [...this.params];
    this.body(false);
    this.emit(`  return ${this.expr(0)}${c.chance(15) ? `, ${this.expr(0)}` : ""}\n`);
    this.emit("}\n");
  }

  private body(isBlock: boolean): void {
    const c = this.c;
    if (isBlock) {
      const inputs = c.range(0, 3);
      for (let i = 0; i < inputs; i++) {
        const n = c.pick(["x", "ids", "mask", "y", "mem"]);
        this.emit(`  input ${n}: ${this.tensorType()}${c.chance(15) ? ` = ${c.pick(["true", "false", "0.0", "1"])}` : ""}\n`);
        this.scope.push(n);
      }
    }
    const members = c.range(1, 7);
    for (let i = 0; i < members; i++) this.member(isBlock);
    if (isBlock) {
      const outs = c.range(c.chance(90) ? 1 : 0, 2);
      for (let i = 0; i < outs; i++) this.emit(`  output ${c.pick(["y", "out", "logits", "z"])}${c.chance(20) ? `: ${this.tensorType()}` : ""}${c.chance(95) ? ` = ${this.expr(0)}` : ""}\n`);
    }
  }

  private member(isBlock: boolean): void {
    const c = this.c;
    const k = c.int(isBlock ? 10 : 5);
    switch (k) {
      case 0:
      case 1:
      case 2: {
        const targets = c.chance(85) ? [this.name()] : [this.name(), this.name(), ...(c.chance(50) ? [this.name()] : [])];
        this.emit(`  ${targets.join(", ")} = ${this.expr(0)}\n`);
        this.scope.push(...targets);
        return;
      }
      case 3:
        if (this.depth < 2) {
          this.depth++;
          this.emit(`  if ${c.chance(60) && this.params.length ? c.pick(this.params) : this.expr(2)} {\n`);
          this.member(isBlock);
          this.emit("  }");
          if (c.chance(50)) {
            this.emit(" else {\n");
            this.member(isBlock);
            this.emit("  }");
          }
          this.emit("\n");
          this.depth--;
        }
        return;
      case 4:
        this.emit(`  ${this.name()} = ${c.pick(builtins)}(${this.args()})\n`);
        return;
      case 5: {
        const n = c.pick(["weight", "bias", "w", "scale"]);
        this.emit(`  param ${n}: ${this.tensorType("f32")}${c.chance(20) ? ` as "${c.pick(["w", "a.b", "", "x y", "é"])}"` : ""}${c.chance(10) ? " transposed" : ""}\n`);
        this.scope.push(n);
        return;
      }
      case 6:
      case 7: {
        const n = c.pick(["lin", "norm", "emb", "drop", "h", "attn"]);
        const blk = c.chance(75) ? c.pick(stdBlocks) : c.chance(70) && this.blocks.length > 1 ? c.pick(this.blocks.slice(0, -1)) : c.pick(["Missing", "Block", "linear"]);
        const rep = c.chance(15) ? `repeat(${c.pick(["2", "1", "0", "n", "-1", "10001"])}${c.chance(20) ? ", i" : ""}) ` : "";
        this.emit(`  layer ${n} = ${rep}${blk}(${this.args()})${c.chance(10) ? ` as "${c.pick(["layer", "h", ""])}"` : ""}\n`);
        this.scope.push(n);
        return;
      }
      case 8:
        this.emit(`  state ${c.pick(["cache", "k_cache"])}: ${this.tensorType("f32")}\n`);
        return;
      default:
        this.emit(`  ignore ${Array.from({ length: c.range(1, 2) }, () => `"${c.pick(["bias", "masked_bias", "x.*", ""])}"`).join(", ")}\n`);
    }
  }

  private tensorType(dtype?: string): string {
    const c = this.c;
    const rank = c.int(4);
    const dims: string[] = [];
    for (let i = 0; i < rank; i++) {
      const k = c.int(10);
      if (k < 4) dims.push(c.pick(symbols));
      else if (k < 6 && this.params.length) dims.push(c.pick(this.params));
      else if (k < 8) dims.push(c.pick(["1", "2", "4", "8", "0"]));
      else if (k === 8) dims.push(c.pick(["*batch", "...", "*B"]));
      else dims.push(`${c.pick(symbols)} ${c.pick(["+", "*", "/", "-"])} ${c.pick(["1", "2", ...this.params])}`);
    }
    return `${dtype ?? c.pick(dtypes)}[${dims.join(", ")}${dims.length && c.chance(10) ? "," : ""}]`;
  }

  private args(): string {
    const c = this.c;
    const n = c.int(4);
    const as: string[] = [];
    for (let i = 0; i < n; i++) as.push(`${c.chance(25) ? `${c.pick(keywords)}=` : ""}${this.expr(1, 1)}`);
    return as.join(", ");
  }

  private atom(): string {
    const c = this.c;
    const k = c.int(12);
    if (k < 5 && this.scope.length) return c.pick(this.scope);
    if (k < 6 && this.params.length) return c.pick(this.params);
    if (k === 6) return this.int();
    if (k === 7) return this.float();
    if (k === 8) return c.pick(["true", "false", '"s"', c.pick(symbols), "undefined_name", "pi"]);
    if (k === 9) return `[${Array.from({ length: c.int(4) }, () => this.atom()).join(", ")}]`;
    return this.scope.length ? c.pick(this.scope) : c.pick(symbols);
  }

  /** An expression at a precedence level: 0 any, higher levels bind tighter; `budget` bounds the size. */
  expr(level: number, budget = 3): string {
    const c = this.c;
    if (budget <= 0) return this.atom();
    const k = c.int(10);
    if (level <= 0 && k === 0) return `${this.expr(1, budget - 1)} ${c.pick(["||", "&&"])} ${this.expr(1, budget - 1)}`;
    if (level <= 1 && k === 1) return `${this.expr(2, budget - 1)} ${c.pick(["==", "!=", "<", "<=", ">", ">="])} ${this.expr(2, budget - 1)}`;
    if (level <= 2 && k <= 3) return `${this.expr(3, budget - 1)} ${c.pick(["+", "-", "*", "/", "%", "@", "@", "*"])} ${this.expr(3, budget - 1)}`;
    if (k === 4) return `${c.pick(["-", "!", "-"])}${this.expr(4, budget - 1)}`;
    if (k === 5) return `${c.pick(builtins)}(${Array.from({ length: c.int(4) }, () => `${c.chance(20) ? `${c.pick(keywords)}=` : ""}${this.expr(0, budget - 2)}`).join(", ")})`;
    if (k === 6) return `${this.atom()}[${this.subscripts(budget)}]`;
    if (k === 7) return `(${this.expr(0, budget - 1)})`;
    if (k === 8) return c.chance(85) ? `${this.atom()}(${this.expr(0, budget - 2)})` : c.pick([`${this.atom()}.weight`, `${this.atom()}.transpose(1, 2)`, `${this.atom()} ** 2`, `${this.atom()} // 2`, `${this.atom()}[::2]`]);
    return this.atom();
  }

  private subscripts(budget: number): string {
    const c = this.c;
    const n = c.range(1, 3);
    const s: string[] = [];
    for (let i = 0; i < n; i++) {
      const k = c.int(6);
      if (k === 0) s.push("...");
      else if (k === 1) s.push(":");
      else if (k === 2) s.push(`${c.pick(["0", "1", "-1", "n"])}:${c.pick(["", "2", "-1", "T"])}`);
      else if (k === 3) s.push(`:${c.pick(["1", "-1", "T"])}`);
      else s.push(this.expr(2, budget - 2));
    }
    return s.join(", ");
  }
}

/**
 * A program that mostly checks: blocks and fns of one hidden size `d` over `x: f32[B, T, d]`,
 * layers of the standard library and of the program's own blocks (some with `repeat`), an
 * `if`/`else` on a bool parameter, and expressions from templates over the tensors bound so far
 * (`h`: [B, T, d], `s`: [B, T, T], `r`: [B, T]). With `slip` percent, an expression is a wild one
 * (ProgramGen.expr) instead.
 */
export class SaneGen {
  private readonly out: string[] = [];
  private h: string[] = [];
  private s: string[] = [];
  private r: string[] = [];
  private layers: { name: string; kind: "h" | "ids" }[] = [];
  private readonly blocks: string[] = [];
  private readonly fns: string[] = [];
  private n = 0;

  constructor(private readonly c: Chooser, private readonly slip: number) {}

  program(): string {
    const c = this.c;
    if (c.chance(40)) this.fn();
    if (c.chance(60)) this.block(false);
    if (c.chance(25)) this.block(false);
    this.block(true);
    return this.out.join("");
  }

  private fresh(): string {
    return `v${this.n++}`;
  }

  private fn(): void {
    const name = `f${this.fns.length}`;
    this.fns.push(name);
    const body = this.c.pick(["x * 2.0 + 1.0", "relu(x) - x", "softmax(x, dim=-1)", "tanh(x) * sigmoid(x)", "x / (abs(x) + 1.0)", "maximum(x, 0.0)"]);
    this.out.push(`fn ${name}(x: f32[...]) {\n  return ${body}\n}\n`);
  }

  private block(model: boolean): void {
    const c = this.c;
    const name = model ? "M" : `Blk${this.blocks.length}`;
    const d = c.pick([4, 8, 16, 6]);
    const header = model ? `(d = ${d}, h = ${c.pick([1, 2])}, flag = ${c.pick(["true", "false"])}, p = 0.1${c.chance(30) ? ", n = 2" : ""})` : "(d: int, h: int, p: float = 0.1)";
    this.out.push(`${model ? "model" : "block"} ${name}${header} {\n`);
    this.h = ["x"];
    this.s = [];
    this.r = [];
    this.layers = [];
    this.out.push(`  input x: f32[B, T, d]\n`);
    if (c.chance(30)) {
      this.out.push(`  input mask: bool[B, T] = true\n`);
    }
    if (model && c.chance(40)) {
      this.out.push(`  input ids: i32[B, T]\n  layer emb = Embedding(16, d)\n`);
      this.layers.push({ name: "emb", kind: "ids" });
    }
    const nl = c.range(1, 3);
    for (let i = 0; i < nl; i++) this.layer(model);
    const steps = c.range(1, 6);
    for (let i = 0; i < steps; i++) this.step(model);
    const out = this.h[this.h.length - 1]!;
    this.out.push(`  output y = ${out}\n`);
    if (c.chance(20) && this.s.length) this.out.push(`  output scores = ${c.pick(this.s)}\n`);
    this.out.push("}\n");
    if (!model) this.blocks.push(name);
  }

  private layer(model: boolean): void {
    const c = this.c;
    const name = `l${this.layers.length}`;
    const own = this.blocks.length && c.chance(40) ? c.pick(this.blocks) : undefined;
    const rep = own && model && c.chance(50) ? `repeat(${c.pick(["2", "1", "n"])}) ` : "";
    const call = own ? `${own}(d, h)` : c.pick(["Linear(d, d)", "LayerNorm(d)", "Dropout(p)", "FeedForward(d, 2 * d, dropout=p)", "MultiheadAttention(d, h)", "RMSNorm(d)", "Linear(d, d, bias=false)"]);
    this.out.push(`  layer ${name} = ${rep}${call}${c.chance(10) ? ` as "${name}_x"` : ""}\n`);
    this.layers.push({ name, kind: "h" });
  }

  private step(model: boolean): void {
    const c = this.c;
    const a = c.pick(this.h);
    const b = c.pick(this.h);
    const v = this.fresh();
    const wild = () => new ProgramGen(c).expr(c.int(3), 2).replace(/\bv\d\b/g, a);
    const pick = (e: string) => (c.chance(this.slip) ? wild() : e);
    const k = c.int(model ? 12 : 10);
    if (k === 0 && this.layers.length) {
      const l = c.pick(this.layers);
      if (l.kind === "ids") this.out.push(`  ${v} = ${a} + ${pick(`${l.name}(ids)`)}\n`);
      else if (l.name && /MultiheadAttention/.test(this.out.join("").split(`layer ${l.name} =`)[1]?.split("\n")[0] ?? "")) this.out.push(`  ${v} = ${pick(`${l.name}(${a}, ${a}, ${a})`)}\n`);
      else this.out.push(`  ${v} = ${pick(`${l.name}(${a})`)}\n`);
      this.h.push(v);
    } else if (k <= 2) {
      this.out.push(`  ${v} = ${pick(`${a} ${c.pick(["+", "-", "*"])} ${c.chance(50) ? b : c.pick(["1.0", "0.5", "2.0"])}`)}\n`);
      this.h.push(v);
    } else if (k === 3) {
      this.out.push(`  ${v} = ${pick(`${c.pick(["relu", "gelu", "exp", "tanh", "silu", "sigmoid", "gelu_tanh"])}(${a})`)}\n`);
      this.h.push(v);
    } else if (k === 4 && this.fns.length) {
      this.out.push(`  ${v} = ${pick(`${c.pick(this.fns)}(${a})`)}\n`);
      this.h.push(v);
    } else if (k === 5) {
      this.out.push(`  ${v} = ${pick(`${a} @ transpose(${b}, 1, 2)${c.chance(50) ? " / 2.0" : ""}`)}\n`);
      this.s.push(v);
    } else if (k === 6 && this.s.length) {
      const s = c.pick(this.s);
      this.out.push(`  ${v} = ${pick(`softmax(${s}, dim=-1) @ ${a}`)}\n`);
      this.h.push(v);
    } else if (k === 7) {
      this.out.push(`  ${v} = ${pick(`${c.pick(["sum", "mean", "max"])}(${a}, ${c.pick(["-1", "2"])})`)}\n`);
      this.r.push(v);
    } else if (k === 8 && this.r.length) {
      this.out.push(`  ${v} = ${pick(`${a} * unsqueeze(${c.pick(this.r)}, -1)`)}\n`);
      this.h.push(v);
    } else if (k === 9) {
      this.out.push(`  ${v} = ${pick(`concat([${a}[:, :1], ${b}[:, 1:]], dim=1)`)}\n`);
      this.h.push(v);
    } else if (k === 10) {
      const w = this.fresh();
      this.out.push(`  ${w} = ${a}\n  if flag {\n    ${w} = ${pick(`${w} * 2.0`)}\n  } else {\n    ${w} = ${pick(`${w} - 1.0`)}\n  }\n`);
      this.h.push(w);
    } else {
      this.out.push(`  ${v} = ${pick(`where(${this.out.join("").includes("input mask") ? "unsqueeze(mask, -1)" : `${a} > 0.0`}, ${a}, ${b})`)}\n`);
      this.h.push(v);
    }
  }
}

/** A random program from `seed`: mostly one that checks (SaneGen, with slips), otherwise one of any form (ProgramGen). */
export function grammarProgram(seed: number): string {
  const c = new Chooser(seed);
  return c.chance(70) ? new SaneGen(c, c.pick([0, 0, 5, 20])).program() : new ProgramGen(c).program();
}
