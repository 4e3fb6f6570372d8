// The IR graph: nodes in topological order, each with its op, inputs, attributes, dtype and
// symbolic shape. Built once by `GraphBuilder`, then frozen: passes make new graphs.
import type { Dim } from "../core/dim.js";
import type { DTypeName as DType } from "../core/dtype.js";
import type { Op } from "./ops.js";

export interface Attrs {
  /** input / weight: the name; weight: its checkpoint name. */
  readonly name?: string;
  /** weight: the checkpoint stores the transpose. */
  readonly transposed?: boolean;
  /** const: the value (a symbolic dim for sizes known only at run time). */
  readonly value?: number | boolean | Dim;
  readonly axis?: number;
  readonly keepdim?: boolean;
  readonly perm?: readonly number[];
  readonly start?: Dim;
  readonly end?: Dim;
  /** dropout: the probability (unused at inference). */
  readonly p?: number;
  /** matmul: the right operand is given transposed, [..., n, k] (set by the fold-transpose pass). */
  readonly transB?: boolean;
}

/** Where a node comes from: the innermost expression of the user's file that produced it. */
export interface Site {
  readonly file: string;
  readonly start: number;
  readonly end: number;
}

export interface Node {
  readonly id: number;
  readonly op: Op;
  readonly inputs: readonly number[];
  readonly attrs: Attrs;
  readonly dtype: DType;
  readonly shape: readonly Dim[];
  readonly site?: Site;
}

export interface Port {
  readonly name: string;
  readonly node: number;
}

/**
 * State kept between calls (a KV cache): an input port and an output port of this name — its
 * value at the start of the call, and its value for the next call, grown along `axis` (whose size
 * is the dim `past` at the start).
 */
export interface StatePort {
  readonly name: string;
  readonly axis: number;
}

export interface Graph {
  readonly name: string;
  readonly nodes: readonly Node[];
  /** The model's inputs, then its states' values at the start of the call. */
  readonly inputs: readonly Port[];
  /** The model's outputs, then its states' next values. */
  readonly outputs: readonly Port[];
  readonly states: readonly StatePort[];
}

export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly weights = new Map<string, number>();
  /** The site given to nodes added from now on. */
  site: Site | undefined;
  readonly inputs: Port[] = [];
  readonly outputs: Port[] = [];
  readonly states: StatePort[] = [];

  constructor(private readonly name: string) {}

  add(op: Op, inputs: readonly number[], attrs: Attrs, dtype: DType, shape: readonly Dim[]): number {
    const id = this.nodes.length;
    this.nodes.push({ id, op, inputs: [...inputs], attrs, dtype, shape: [...shape], ...(this.site ? { site: this.site } : {}) });
    return id;
  }

  node(id: number): Node {
    return this.nodes[id]!;
  }

  /** One node per checkpoint tensor, however often the program refers to it. */
  weight(name: string, transposed: boolean, dtype: DType, shape: readonly Dim[]): number {
    const known = this.weights.get(name);
    if (known !== undefined) return known;
    const id = this.add("weight", [], { name, ...(transposed ? { transposed } : {}) }, dtype, shape);
    this.weights.set(name, id);
    return id;
  }

  finish(): Graph {
    // The model's own ports first, the states' after them, in one order.
    const order = (ps: Port[]) => [...ps.filter((p) => !this.isState(p.name)), ...this.states.map((s) => ps.find((p) => p.name === s.name)).filter((p): p is Port => !!p)];
    return deepFreeze({ name: this.name, nodes: this.nodes, inputs: order(this.inputs), outputs: order(this.outputs), states: this.states });
  }

  private isState(name: string): boolean {
    return this.states.some((s) => s.name === name);
  }
}

function deepFreeze<T>(x: T): T {
  if (x && typeof x === "object" && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x as object)) deepFreeze(v);
  }
  return x;
}
