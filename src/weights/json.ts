// A small strict JSON parser for safetensors headers. JSON.parse is not enough: it silently keeps
// the last of duplicate keys (two readers could then disagree about a file) and turns numbers into
// doubles (2^53 + 1 would pass as 2^53, 2.0 as an integer). Here numbers keep their source text.

export class JsonNumber {
  constructor(readonly raw: string) {}
}

/** An object: keys in source order, each with the offset (UTF-16 index) where the key starts. */
export class JsonObject {
  readonly values = new Map<string, JsonValue>();
  readonly positions = new Map<string, number>();
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly pos: number,
    /** Set when the error is a key repeated in one object. */
    readonly duplicateKey?: string,
    /** Nesting depth of that object: 0 for the top level. */
    readonly depth?: number,
  ) {
    super(message);
  }
}

/** Deeper than any real header needs (they nest 3 levels); keeps recursion bounded. */
const maxDepth = 64;

const numberRe = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const plainRunRe = /[^"\\\u0000-\u001f]*/y;
const hex4Re = /[0-9a-fA-F]{4}/y;
const escapes: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

export function parseJson(text: string): JsonValue {
  let pos = 0;

  const fail = (message: string, at = pos): never => {
    throw new JsonSyntaxError(message, at);
  };
  const skipWs = (): void => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++;
      else return;
    }
  };
  const expect = (ch: string): void => {
    if (text[pos] !== ch) fail(pos >= text.length ? `expected '${ch}' but the text ended` : `expected '${ch}'`);
    pos++;
  };

  const parseHex4 = (): number => {
    hex4Re.lastIndex = pos;
    if (!hex4Re.test(text)) fail("invalid \\u escape");
    const v = parseInt(text.slice(pos, pos + 4), 16);
    pos += 4;
    return v;
  };

  const parseString = (): string => {
    const start = pos;
    pos++; // opening quote
    let out = "";
    for (;;) {
      plainRunRe.lastIndex = pos;
      plainRunRe.test(text);
      out += text.slice(pos, plainRunRe.lastIndex);
      pos = plainRunRe.lastIndex;
      if (pos >= text.length) fail("unterminated string", start);
      const c = text[pos]!;
      if (c === '"') {
        pos++;
        return out;
      }
      if (c !== "\\") fail("control character in string");
      pos++;
      const e = text[pos];
      if (e === "u") {
        pos++;
        const u = parseHex4();
        if (u >= 0xdc00 && u <= 0xdfff) fail("unpaired surrogate escape", pos - 6);
        if (u >= 0xd800 && u <= 0xdbff) {
          if (text[pos] !== "\\" || text[pos + 1] !== "u") fail("unpaired surrogate escape", pos - 6);
          pos += 2;
          const lo = parseHex4();
          if (lo < 0xdc00 || lo > 0xdfff) fail("unpaired surrogate escape", pos - 12);
          out += String.fromCharCode(u, lo);
        } else out += String.fromCharCode(u);
      } else if (e !== undefined && Object.prototype.hasOwnProperty.call(escapes, e)) {
        out += escapes[e];
        pos++;
      } else fail("invalid escape in string");
    }
  };

  const parseValue = (depth: number): JsonValue => {
    if (depth > maxDepth) fail(`nested more than ${maxDepth} levels deep`);
    skipWs();
    const c = text[pos];
    if (c === "{") {
      pos++;
      const obj = new JsonObject();
      skipWs();
      if (text[pos] === "}") {
        pos++;
        return obj;
      }
      for (;;) {
        skipWs();
        if (text[pos] !== '"') fail("expected a string key");
        const keyPos = pos;
        const key = parseString();
        if (obj.values.has(key)) throw new JsonSyntaxError(`duplicate key ${JSON.stringify(key)}`, keyPos, key, depth);
        skipWs();
        expect(":");
        obj.values.set(key, parseValue(depth + 1));
        obj.positions.set(key, keyPos);
        skipWs();
        if (text[pos] === ",") pos++;
        else {
          expect("}");
          return obj;
        }
      }
    }
    if (c === "[") {
      pos++;
      const arr: JsonValue[] = [];
      skipWs();
      if (text[pos] === "]") {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(parseValue(depth + 1));
        skipWs();
        if (text[pos] === ",") pos++;
        else {
          expect("]");
          return arr;
        }
      }
    }
    if (c === '"') return parseString();
    if (text.startsWith("true", pos)) {
      pos += 4;
      return true;
    }
    if (text.startsWith("false", pos)) {
      pos += 5;
      return false;
    }
    if (text.startsWith("null", pos)) {
      pos += 4;
      return null;
    }
    numberRe.lastIndex = pos;
    if (numberRe.test(text)) {
      const raw = text.slice(pos, numberRe.lastIndex);
      pos = numberRe.lastIndex;
      return new JsonNumber(raw);
    }
    return fail(pos >= text.length ? "expected a value but the text ended" : "expected a value");
  };

  const v = parseValue(0);
  skipWs();
  if (pos < text.length) fail("unexpected text after the value");
  return v;
}

/**
 * The value of a JSON number that is written as a non-negative integer ("12", not "12.0", "-0"
 * or "1e3"), else undefined. Absurdly long digit strings map to 2^64, which every check rejects,
 * without a quadratic BigInt parse.
 */
export function nonNegativeInteger(v: JsonValue | undefined): bigint | undefined {
  if (!(v instanceof JsonNumber) || !/^(?:0|[1-9][0-9]*)$/.test(v.raw)) return undefined;
  return v.raw.length > 24 ? 2n ** 64n : BigInt(v.raw);
}

/** A short rendering of a value for error messages. */
export function showJson(v: JsonValue): string {
  if (v instanceof JsonNumber) return v.raw.length > 40 ? `${v.raw.slice(0, 40)}...` : v.raw;
  if (v instanceof JsonObject) return "an object";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return String(v);
}
