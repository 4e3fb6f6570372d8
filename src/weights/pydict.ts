// A strict parser for the Python literals in a .npy header, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// numpy reads it with ast.literal_eval; this accepts the same subset that np.save writes: dicts,
// str, int (with Python 2's 'L' suffix), True/False/None, tuples and lists. No eval, no JSON hacks.

export type PyValue =
  | { readonly kind: "str"; readonly value: string }
  | { readonly kind: "int"; readonly value: bigint }
  | { readonly kind: "bool"; readonly value: boolean }
  | { readonly kind: "none" }
  | { readonly kind: "tuple" | "list"; readonly items: readonly PyValue[] }
  | { readonly kind: "dict"; readonly entries: ReadonlyMap<string, PyValue> };

export class PySyntaxError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

const maxDepth = 32;
const intRe = /-?(?:0|[1-9][0-9]*)L?/y;
const wordRe = /[A-Za-z_][A-Za-z0-9_]*/y;
const strEscapes: Record<string, string> = { "\\": "\\", "'": "'", '"': '"', n: "\n", t: "\t", r: "\r", "0": "\0" };

export function parsePyLiteral(text: string): PyValue {
  let pos = 0;
  const fail = (message: string, at = pos): never => {
    throw new PySyntaxError(message, at);
  };
  const skipWs = (): void => {
    while (pos < text.length && " \t\n\r".includes(text[pos]!)) pos++;
  };

  const parseStr = (): PyValue => {
    const quote = text[pos]!;
    const start = pos++;
    let out = "";
    for (;;) {
      if (pos >= text.length) fail("unterminated string", start);
      const c = text[pos]!;
      if (c === quote) {
        pos++;
        return { kind: "str", value: out };
      }
      if (c === "\n") fail("newline in string");
      if (c === "\\") {
        const e = text[pos + 1];
        if (e === undefined || !Object.prototype.hasOwnProperty.call(strEscapes, e)) fail("unsupported escape in string");
        out += strEscapes[e!];
        pos += 2;
      } else {
        out += c;
        pos++;
      }
    }
  };

  /** Items up to `close`, with an optional trailing comma; reports whether a comma was seen. */
  const parseItems = (close: string, depth: number): { items: PyValue[]; comma: boolean } => {
    const items: PyValue[] = [];
    let comma = false;
    for (;;) {
      skipWs();
      if (text[pos] === close) {
        pos++;
        return { items, comma };
      }
      items.push(parseValue(depth + 1));
      skipWs();
      if (text[pos] === ",") {
        pos++;
        comma = true;
      } else if (text[pos] === close) {
        pos++;
        return { items, comma };
      } else fail(`expected ',' or '${close}'`);
    }
  };

  const parseValue = (depth: number): PyValue => {
    if (depth > maxDepth) fail(`nested more than ${maxDepth} levels deep`);
    skipWs();
    const c = text[pos];
    if (c === "'" || c === '"') return parseStr();
    if (c === "(") {
      pos++;
      const { items, comma } = parseItems(")", depth);
      // (x) is just x in parentheses; only (x,) or () is a tuple.
      return items.length === 1 && !comma ? items[0]! : { kind: "tuple", items };
    }
    if (c === "[") {
      pos++;
      return { kind: "list", items: parseItems("]", depth).items };
    }
    if (c === "{") {
      pos++;
      const entries = new Map<string, PyValue>();
      for (;;) {
        skipWs();
        if (text[pos] === "}") {
          pos++;
          return { kind: "dict", entries };
        }
        const keyPos = pos;
        const key = parseValue(depth + 1);
        if (key.kind !== "str") fail("dict keys must be strings", keyPos);
        const k = (key as { value: string }).value;
        if (entries.has(k)) fail(`duplicate key '${k}'`, keyPos);
        skipWs();
        if (text[pos] !== ":") fail("expected ':'");
        pos++;
        entries.set(k, parseValue(depth + 1));
        skipWs();
        if (text[pos] === ",") pos++;
        else if (text[pos] !== "}") fail("expected ',' or '}'");
      }
    }
    intRe.lastIndex = pos;
    if (intRe.test(text)) {
      let raw = text.slice(pos, intRe.lastIndex);
      pos = intRe.lastIndex;
      if (raw.endsWith("L")) raw = raw.slice(0, -1);
      // Over 30 digits is over any limit; saturate rather than parse a huge BigInt.
      const digits = raw.replace("-", "");
      const mag = digits.length > 30 ? 10n ** 30n : BigInt(digits);
      return { kind: "int", value: raw.startsWith("-") ? -mag : mag };
    }
    wordRe.lastIndex = pos;
    if (wordRe.test(text)) {
      const w = text.slice(pos, wordRe.lastIndex);
      if (w === "True" || w === "False") {
        pos = wordRe.lastIndex;
        return { kind: "bool", value: w === "True" };
      }
      if (w === "None") {
        pos = wordRe.lastIndex;
        return { kind: "none" };
      }
      fail(`unexpected name '${w.slice(0, 40)}' (only literals are allowed)`);
    }
    return fail(pos >= text.length ? "expected a value but the header ended" : "expected a value");
  };

  const v = parseValue(0);
  skipWs();
  if (pos < text.length) fail("unexpected text after the dict");
  return v;
}
