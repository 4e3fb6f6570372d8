// Go to definition: from a name's use to its declaration (blocks and functions, also in the
// standard library; parameters, inputs, dims, weights, layers, bindings), via the resolver's
// references; member names (`wte.weight`) and named arguments (`eps=`) through their callee.
import type { Location, Position } from "vscode-languageserver/node.js";
import { isLocal, type Sym } from "../check/symbols.js";
import { locationOf, offsetOf, type Checked } from "./documents.js";
import { memberDecl, symbolOf, targetAt } from "./query.js";
import { calleeParams } from "./signatures.js";

export function definition(c: Checked, pos: Position): Location | null {
  const t = targetAt(c, offsetOf(c, pos));
  if (!t) return null;
  switch (t.kind) {
    case "ref":
      return symbolLocation(c, t.ref.sym);
    case "decl":
      return locationOf(c, c.file, t.decl.name.span);
    case "binding": {
      // A rebinding (`x = ln_f(h(x))`) goes to where the name was first bound: the symbol the resolver bound the target to.
      const s = symbolOf(c, t.ident);
      return s ? symbolLocation(c, s) : locationOf(c, c.file, t.span);
    }
    case "member": {
      const m = memberDecl(c, t.node);
      return m ? locationOf(c, m.block.file, m.decl.name.span) : null;
    }
    case "argName": {
      const p = calleeParams(c, t.owner).params.find((x) => x.name === t.arg.name?.name);
      return p?.file && p.span ? locationOf(c, p.file, p.span) : null;
    }
    default: {
      const never: never = t;
      return never;
    }
  }
}

function symbolLocation(c: Checked, s: Sym): Location | null {
  if (isLocal(s)) return locationOf(c, s.file, s.span);
  if (s.kind === "block" || s.kind === "fn") return locationOf(c, s.file, s.decl.name.span);
  return null; // builtins, constants and dtypes have no source
}
