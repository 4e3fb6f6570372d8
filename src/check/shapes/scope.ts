// The shape checker's environment: the values of one evaluation of a body (a block instance, a
// function call), keyed by the symbols the resolver bound (src/check/resolve.ts), never by name.
// Scopes nest for the branches of an `if`: assigning to a symbol an outer scope holds updates it
// there (rebinding), otherwise the symbol is local to its scope.
import type * as A from "../../syntax/ast.js";
import type { GlobalSym, LocalSym } from "../symbols.js";
import type { SVal } from "./value.js";

/** A layer in scope: its block and the parameters it was instantiated with. */
export interface LayerRef {
  readonly kind: "layer";
  readonly decl: A.LayerDecl;
  readonly block: GlobalSym & { kind: "block" };
  /** The block's parameters by their symbols (those of the block's declaration). */
  readonly hparams: ReadonlyMap<LocalSym, SVal>;
  /** Checkpoint prefix of the instance: `h.0.attn`. */
  readonly path: string;
  /** For `repeat(n)` stacks: n, when known. */
  readonly count?: number;
  /** For `repeat(n, i)` stacks of known n: each copy's parameters (`hparams` are the first's). */
  readonly copies?: readonly ReadonlyMap<LocalSym, SVal>[];
  readonly stacked: boolean;
}

export type Binding = SVal | LayerRef;

export class Scope {
  private readonly values = new Map<LocalSym, Binding>();
  constructor(private readonly parent?: Scope) {}
  lookup(sym: LocalSym): Binding | undefined {
    return this.values.get(sym) ?? this.parent?.lookup(sym);
  }
  define(sym: LocalSym, v: Binding): void {
    this.values.set(sym, v);
  }
  assign(sym: LocalSym, v: Binding): void {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      if (s.values.has(sym)) {
        s.values.set(sym, v);
        return;
      }
    }
    this.values.set(sym, v);
  }
}
