// The dtype vocabulary: the element types a model declares, and the three the runtimes compute in.
// Checkpoint dtypes the kernels do not compute in (f16, bf16, i64) are converted when weights are
// loaded, so at run time there are only f32, i32 and bool.

/** A dtype a `.tfm` program can declare (`f32[batch, seq, d]`). */
export type DTypeName = "f32" | "f16" | "bf16" | "i32" | "i64" | "bool";

export const dtypeNamesDeclared: readonly DTypeName[] = ["f32", "f16", "bf16", "i32", "i64", "bool"];

/** A dtype the runtimes compute in. */
export type DType = "f32" | "i32" | "bool";

export const dtypeNames: readonly DType[] = ["f32", "i32", "bool"];

/** The runtime dtype a declared dtype computes in: halves widen to f32, i64 narrows to i32 (range-checked on load). */
export const runtimeDType: Readonly<Record<DTypeName, DType>> = {
  f32: "f32", f16: "f32", bf16: "f32",
  i32: "i32", i64: "i32",
  bool: "bool",
};
