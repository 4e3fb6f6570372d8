// Sizes in WGSL: every dim, stride or element count a kernel needs is a `Dim` (a polynomial over
// the model's symbols). A constant one becomes a literal (`48u`); a symbolic one becomes an entry
// of the program's one sizes table, a uniform buffer the host fills when a run binds the symbols
// (`sz.v[1].z`). So a kernel's WGSL never depends on batch or seq: each pipeline is compiled once
// and works for every size. Also the u32 index arithmetic the kernels are written with, folding
// literals so that static shapes give short code.
import { constDim, constValue, evalDim, mulDim, showDim, type Dim } from "../../../core/dim.js";

/** The symbolic sizes the kernels of one program read, in the order of their table slots. */
export class SizeTable {
  readonly dims: Dim[] = [];
  private readonly slots = new Map<string, number>();

  /** A WGSL u32 expression for `d`: a literal when it is constant, else its slot in the table. */
  ref(d: Dim): string {
    const c = constValue(d);
    if (c !== undefined) return lit(c);
    // showDim is canonical (terms are sorted) and only used as a map key, never emitted.
    const key = showDim(d);
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = this.dims.length;
      this.dims.push(d);
      this.slots.set(key, slot);
    }
    return `sz.v[${slot >> 2}].${"xyzw"[slot & 3]}`;
  }

  /** Number of vec4<u32> in the uniform (at least one: an empty struct array is not allowed). */
  get vec4s(): number {
    return vec4sFor(this.dims.length);
  }
}

const vec4sFor = (n: number) => Math.max(1, Math.ceil(n / 4));

/** The sizes uniform's words for bound symbols; `unbound` names a dim some symbol of which has no value. */
export function sizeValues(dims: readonly Dim[], symbols: ReadonlyMap<string, number>): { data: Uint32Array; unbound?: Dim; tooLarge?: [Dim, number] } {
  const data = new Uint32Array(vec4sFor(dims.length) * 4);
  for (let i = 0; i < dims.length; i++) {
    const v = evalDim(dims[i]!, symbols);
    if (v === undefined) return { data, unbound: dims[i]! };
    if (v < 0 || v > 0xffffffff) return { data, tooLarge: [dims[i]!, v] };
    data[i] = v;
  }
  return { data };
}

/** The WGSL declaration of the sizes uniform (binding 0 of every kernel). */
export const sizesDecl = (t: SizeTable): string => `struct Sizes { v: array<vec4<u32>, ${t.vec4s}> }\n@group(0) @binding(0) var<uniform> sz: Sizes;`;

export const lit = (n: number): string => {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`webgpu codegen: size ${n} is not a u32`);
  return `${n}u`;
};

const litValue = (e: string): number | undefined => (/^\d+u$/.test(e) ? Number(e.slice(0, -1)) : undefined);

export function mulU(a: string, b: string): string {
  const x = litValue(a), y = litValue(b);
  if (x === 0 || y === 0) return "0u";
  if (x === 1) return b;
  if (y === 1) return a;
  if (x !== undefined && y !== undefined && x * y <= 0xffffffff) return lit(x * y);
  return `(${a} * ${b})`;
}

export function addU(a: string, b: string): string {
  const x = litValue(a), y = litValue(b);
  if (x === 0) return b;
  if (y === 0) return a;
  if (x !== undefined && y !== undefined && x + y <= 0xffffffff) return lit(x + y);
  return `(${a} + ${b})`;
}

export function divU(a: string, b: string): string {
  const x = litValue(a), y = litValue(b);
  if (y === 1) return a;
  if (x === 0) return "0u";
  if (x !== undefined && y !== undefined && y !== 0) return lit(Math.floor(x / y));
  return `(${a} / ${b})`;
}

export function modU(a: string, b: string): string {
  const x = litValue(a), y = litValue(b);
  if (y === 1 || x === 0) return "0u";
  if (x !== undefined && y !== undefined && y !== 0) return lit(x % y);
  return `(${a} % ${b})`;
}

/** Row-major strides of a shape, as dims. */
export function stridesOf(shape: readonly Dim[]): Dim[] {
  const s: Dim[] = new Array(shape.length);
  let acc = constDim(1);
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc = mulDim(acc, shape[i]!);
  }
  return s;
}

export const numelDim = (shape: readonly Dim[]): Dim => shape.reduce((a, d) => mulDim(a, d), constDim(1));

export const isOne = (d: Dim): boolean => constValue(d) === 1;

/** The row-major offset of `idx` (one u32 expression per dim) in a contiguous tensor of `shape`. */
export function linearize(t: SizeTable, idx: readonly string[], shape: readonly Dim[]): string {
  const st = stridesOf(shape);
  let off = "0u";
  for (let i = 0; i < shape.length; i++) {
    if (isOne(shape[i]!)) continue; // its index is 0
    off = addU(off, mulU(idx[i]!, t.ref(st[i]!)));
  }
  return off;
}

/** Splits a row-major offset into one index per dim of `shape` (expressions over `flat`). */
export function delinearize(t: SizeTable, flat: string, shape: readonly Dim[]): string[] {
  const st = stridesOf(shape);
  return shape.map((d, i) => (isOne(d) ? "0u" : i === 0 ? divU(flat, t.ref(st[0]!)) : modU(divU(flat, t.ref(st[i]!)), t.ref(d))));
}
