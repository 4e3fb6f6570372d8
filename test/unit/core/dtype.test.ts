// The dtype vocabulary is spelled out once, in src/core/dtype.ts: the grammar's DType token and
// type words must name exactly its declared dtypes, and what is derived from the table must agree.
import { describe, expect, it } from "vitest";
import { DType, keywordGroups } from "../../../grammar/tokens.js";
import { declaredBytes, dtypeNames, dtypeNamesDeclared, isDTypeName, isFloat, runtimeBytes, runtimeDType } from "../../../src/core/dtype.js";


describe("the dtype vocabulary", () => {
  it("is what the grammar spells: the DType token's words, and bool (its own word: also the scalar type)", () => {
    const words = (DType.PATTERN as RegExp).source.split("|");
    expect([...words, "bool"].sort()).toEqual([...dtypeNamesDeclared].sort());
    expect(dtypeNamesDeclared.every((d) => (keywordGroups.type as readonly string[]).includes(d))).toBe(true);
  });

  it("derives the runtime dtype, byte sizes and float-ness from one table", () => {
    expect(runtimeDType).toEqual({ f32: "f32", f16: "f32", bf16: "f32", i32: "i32", i64: "i32", bool: "bool" });
    expect(declaredBytes).toEqual({ f32: 4, f16: 2, bf16: 2, i32: 4, i64: 8, bool: 1 });
    expect(dtypeNamesDeclared.filter(isFloat)).toEqual(["f32", "f16", "bf16"]);
    expect([...dtypeNames]).toEqual(["f32", "i32", "bool"]);
    expect(runtimeBytes).toEqual({ f32: 4, i32: 4, bool: 1 });
    expect(isDTypeName("f16")).toBe(true);
    expect(isDTypeName("float")).toBe(false);
  });
});
