// The dtype vocabulary, in one place: the element types a model declares, the three the runtimes
// compute in, and what each is (bytes, float or not). Checkpoint dtypes the kernels do not compute
// in (f16, bf16, i64) are converted when weights are loaded, so at run time there are only f32,
// i32 and bool. (src/weights/ keeps the file formats' own dtypes, F32, BF16, ...; the grammar's
// DType token spells the declared names, and a test checks it against this table.)

/** A dtype a `.tfm` program can declare (`f32[batch, seq, d]`). */
export type DTypeName = "f32" | "f16" | "bf16" | "i32" | "i64" | "bool";

/** A dtype the runtimes compute in. */
export type DType = "f32" | "i32" | "bool";

export interface DTypeInfo {
  /** The runtime dtype it computes in: halves widen to f32, i64 narrows to i32 (range-checked on load). */
  readonly runtime: DType;
  /** Bytes per element as declared (in a checkpoint). */
  readonly bytes: number;
  /** A floating-point type. */
  readonly float: boolean;
}

export const dtypeInfo: Readonly<Record<DTypeName, DTypeInfo>> = {
  f32: { runtime: "f32", bytes: 4, float: true },
  f16: { runtime: "f32", bytes: 2, float: true },
  bf16: { runtime: "f32", bytes: 2, float: true },
  i32: { runtime: "i32", bytes: 4, float: false },
  i64: { runtime: "i32", bytes: 8, float: false },
  bool: { runtime: "bool", bytes: 1, float: false },
};

/** The declared dtypes, in the table's order. */
export const dtypeNamesDeclared = Object.keys(dtypeInfo) as readonly DTypeName[];

export const isDTypeName = (name: string): name is DTypeName => Object.hasOwn(dtypeInfo, name);

export const isFloat = (d: DTypeName): boolean => dtypeInfo[d].float;

/** Bytes per element of each declared dtype (in a checkpoint). */
export const declaredBytes = Object.fromEntries(dtypeNamesDeclared.map((d) => [d, dtypeInfo[d].bytes])) as Readonly<Record<DTypeName, number>>;

/** Bytes per element of each runtime dtype (as the CPU stores them; bool is one byte). */
export const runtimeBytes: Readonly<Record<DType, number>> = { f32: 4, i32: 4, bool: 1 };

export const dtypeNames = Object.keys(runtimeBytes) as readonly DType[];

/** The runtime dtype each declared dtype computes in. */
export const runtimeDType = Object.fromEntries(dtypeNamesDeclared.map((d) => [d, dtypeInfo[d].runtime])) as Readonly<Record<DTypeName, DType>>;
