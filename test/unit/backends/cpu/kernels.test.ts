// The Kernels interface: every primitive op of src/ir/ops.ts runs through the plain-TypeScript
// implementation, and an implementation can be swapped kernel by kernel.
import { describe, expect, it } from "vitest";
import { type BinaryOp, opNames, ops, type ReduceOp, type UnaryOp } from "../../../../src/ir/ops.js";
import { defaultKernels, type Kernels, plainKernels, wasmKernels } from "../../../../src/backends/cpu/kernels/index.js";
import { type DType, fromValues, type Tensor } from "../../../../src/core/tensor.js";
import { kernelError } from "./helpers.js";

/** A small valid input for an op of each class. */
function runOp(K: Kernels, op: string): Tensor | undefined {
  const info = ops[op as keyof typeof ops];
  const f = fromValues("f32", [2, 2], [0.5, 1, 2, 3]);
  const t = fromValues("bool", [2, 2], [1, 0, 0, 1]);
  switch (info.class) {
    case "unary": {
      if (op === "cast") return K.cast(f, "i32");
      return K.unary(op as UnaryOp, op === "not" ? t : f);
    }
    case "binary": return K.binary(op as BinaryOp, op === "and" || op === "or" ? t : f, op === "and" || op === "or" ? t : f);
    case "reduce": return K.reduce(op as ReduceOp, f, -1, true);
    case "where": return K.where(t, f, f);
    case "matmul": return K.matmul(f, f);
    case "layout":
      switch (op) {
        case "reshape": return K.reshape(f, [4]);
        case "permute": return K.permute(f, [1, 0]);
        case "slice": return K.slice(f, 0, 1, 2);
        case "concat":
        case "append": return K.concat([f, f], 0); // append: a state's next value, concat's (kept in place by runResident)
        case "gather": return K.gather(f, fromValues("i32", [1], [1]), 1);
        case "expand": return K.expand(f, [3, 2, 2]);
      }
      throw new Error(`no kernel test for layout op ${op}`);
    case "source":
      return op === "arange" ? K.arange(3) : undefined; // input/weight/const are bound by the interpreter
    case "identity":
      return undefined; // dropout: the identity at inference
  }
}

describe("Kernels", () => {
  it("has a kernel for every primitive op in src/ir/ops.ts", () => {
    for (const op of opNames) {
      const y = runOp(plainKernels, op);
      if (y !== undefined) expect(["f32", "i32", "bool"] as DType[], op).toContain(y.dtype);
    }
    expect([plainKernels, wasmKernels]).toContain(defaultKernels);
    expect(plainKernels.name).toBe("plain-ts");
  });

  it("rejects unknown op names", () => {
    const f = fromValues("f32", [1], [1]);
    expect(kernelError(() => plainKernels.binary("toString" as BinaryOp, f, f))).toMatch(/unknown op "toString"/);
    expect(kernelError(() => plainKernels.reduce("prod" as ReduceOp, f, 0))).toMatch(/unknown op "prod"/);
  });

  it("lets an implementation replace single kernels", () => {
    let calls = 0;
    const custom: Kernels = {
      ...plainKernels,
      name: "custom",
      matmul: (a, b, out) => {
        calls++;
        return plainKernels.matmul(a, b, out);
      },
    };
    const f = fromValues("f32", [1, 1], [3]);
    expect(custom.matmul(f, f).data[0]).toBe(9);
    expect(custom.binary("add", f, f).data[0]).toBe(6);
    expect(calls).toBe(1);
  });
});
