// What a name can stand for: global declarations (blocks, functions, builtins) and the local
// names of a block or function body, in nested scopes.
import type { Span } from "../diag/span.js";
import type * as A from "../syntax/ast.js";
import type { BuiltinName } from "./builtins.js";

export type GlobalSym =
  | { readonly kind: "block"; readonly name: string; readonly decl: A.BlockDecl; readonly file: string }
  | { readonly kind: "fn"; readonly name: string; readonly decl: A.FnDecl; readonly file: string }
  | { readonly kind: "builtin"; readonly name: BuiltinName }
  | { readonly kind: "constant"; readonly name: string }
  | { readonly kind: "dtype"; readonly name: string }
  /** `past`: the positions a model's state already holds (0 in a model without state). */
  | { readonly kind: "cached"; readonly name: string };

export type LocalKind =
  | "hparam" // a block's compile-time parameter
  | "arg" // a function's parameter
  | "input" // a block's tensor input
  | "param" // a weight tensor
  | "state" // a tensor kept between calls (`state k_cache: ...`)
  | "layer" // a sub-layer (or a repeat stack)
  | "binding" // a name bound by `=`
  | "dim" // a symbolic dimension introduced by an input type (`batch`, `seq`)
  | "pack"; // a named pack of dims (`*batch`)

export interface LocalSym {
  readonly kind: LocalKind;
  readonly name: string;
  readonly span: Span;
  readonly file: string;
  /** For layers: the block they instantiate, when it resolved. */
  readonly block?: GlobalSym & { kind: "block" };
  /** For layers: their declaration. */
  readonly layer?: A.LayerDecl;
  /** For layers: whether this is a `repeat(n)` stack. */
  readonly stacked?: boolean;
  used: boolean;
}

export type Sym = GlobalSym | LocalSym;

export const isLocal = (s: Sym): s is LocalSym => "span" in s;

export class Scope {
  private readonly names = new Map<string, LocalSym>();
  constructor(readonly parent?: Scope) {}
  lookup(name: string): LocalSym | undefined {
    return this.names.get(name) ?? this.parent?.lookup(name);
  }
  own(name: string): LocalSym | undefined {
    return this.names.get(name);
  }
  define(sym: LocalSym): void {
    this.names.set(sym.name, sym);
  }
  /** Every visible local name, innermost first (for did-you-mean). */
  *visible(): Generator<string> {
    yield* this.names.keys();
    if (this.parent) yield* this.parent.visible();
  }
  get locals(): Iterable<LocalSym> {
    return this.names.values();
  }
}

/** Describes a symbol for messages: "layer `attn`", "block `Linear`". */
export function describe(s: Sym): string {
  const what: Record<string, string> = {
    block: "block", fn: "function", builtin: "builtin function", constant: "constant", dtype: "element type",
    hparam: "parameter", arg: "function parameter", input: "input", param: "weight", state: "state", layer: "layer", cached: "dimension",
    binding: "binding", dim: "dimension", pack: "dimension pack",
  };
  return `${what[s.kind]} \`${s.name}\``;
}
