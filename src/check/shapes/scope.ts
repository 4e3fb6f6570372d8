// The shape checker's environment: names to values in nested scopes. Assigning to a name that an
// outer scope has updates it there (rebinding), otherwise the name is local to its scope.
import type * as A from "../../syntax/ast.js";
import type { GlobalSym } from "../symbols.js";
import type { SVal } from "./value.js";

/** A layer in scope: its block and the parameters it was instantiated with. */
export interface LayerRef {
  readonly kind: "layer";
  readonly decl: A.LayerDecl;
  readonly block: GlobalSym & { kind: "block" };
  readonly hparams: ReadonlyMap<string, SVal>;
  /** Checkpoint prefix of the instance: `h.0.attn`. */
  readonly path: string;
  /** For `repeat(n)` stacks: n, when known. */
  readonly count?: number;
  /** For `repeat(n, i)` stacks of known n: each copy's parameters (`hparams` are the first's). */
  readonly copies?: readonly ReadonlyMap<string, SVal>[];
  readonly stacked: boolean;
}

export type Binding = SVal | LayerRef;

export class Scope {
  private readonly names = new Map<string, Binding>();
  constructor(private readonly parent?: Scope) {}
  lookup(name: string): Binding | undefined {
    return this.names.get(name) ?? this.parent?.lookup(name);
  }
  define(name: string, v: Binding): void {
    this.names.set(name, v);
  }
  assign(name: string, v: Binding): void {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      if (s.names.has(name)) {
        s.names.set(name, v);
        return;
      }
    }
    this.names.set(name, v);
  }
}
