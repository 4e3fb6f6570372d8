// The API's nested-array inputs (src/bundle/io.ts `toInputs`): a hostile depth, or an array that
// contains itself, is refused with TFM5204 like any malformed input — not walked until the stack
// overflows (a RangeError) or forever. Found by the files fuzz (test/property/fuzz-files.test.ts).
import { describe, expect, it } from "vitest";
import { TfmError } from "../../../src/bundle/errors.js";
import { toInputs } from "../../../src/bundle/io.js";

const ports = [{ name: "x", dtype: "f32" as const, shape: ["a", "b"] }];
const refusal = (data: unknown): string => {
  try {
    toInputs(ports, { x: { data } });
    return "accepted";
  } catch (e) {
    return e instanceof TfmError ? `${e.code} ${e.message}` : `not a TfmError: ${String(e)}`;
  }
};

describe("nested-array inputs", () => {
  it("reads 32 levels of nesting and refuses 33, 10,000 and 100,000 with TFM5204", () => {
    const nest = (depth: number) => {
      let v: unknown = [1];
      for (let i = 1; i < depth; i++) v = [v];
      return v;
    };
    expect(refusal(nest(32))).toBe("accepted"); // its rank is checked when the model runs (TFM6002)
    for (const depth of [33, 10_000, 100_000]) expect(refusal(nest(depth))).toBe("TFM5204 TFM5204: input `x` expects f32[a, b]: its nested arrays are more than 32 levels deep");
  });

  it("refuses an array that contains itself", () => {
    const a: unknown[] = [];
    a.push(a);
    expect(refusal(a)).toBe("TFM5204 TFM5204: input `x` expects f32[a, b]: its nested arrays are more than 32 levels deep");
  });

  it("still reads ordinary nested arrays", () => {
    const t = toInputs(ports, { x: { data: [[1, 2, 3], [4, 5, 6]] } }).get("x")!;
    expect(t.shape).toEqual([2, 3]);
    expect([...t.data]).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
