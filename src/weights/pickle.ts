// A restricted unpickler for what torch.save writes for a state_dict (pickle protocol 2, and the
// protocol 4 forms): strings, numbers, tuples, lists, dicts, collections.OrderedDict,
// torch._utils._rebuild_tensor_v2 / _rebuild_parameter and torch's storage types in persistent
// ids. It is the promise of torch.load(weights_only=True), kept without any Python: the stream is
// first scanned whole — every opcode known and allowed, every argument inside the stream, every
// GLOBAL on the allow-list, every memo index possible — and only then interpreted, by a stack
// machine that calls nothing by name: the three allowed callables are interpreted here, and any
// other REDUCE, BUILD, INST/OBJ/NEWOBJ, EXT* is refused with a code. Nesting and sizes are
// bounded; the machine is a loop, never a recursion, so no input can overflow the JS stack.
import { quote, WeightFileError, type WeightErrorDetails } from "./errors.js";

/** torch's storage classes (in persistent ids) and the file dtype of their elements. */
export const storageTypes: Readonly<Record<string, string>> = {
  "torch FloatStorage": "F32", "torch DoubleStorage": "F64", "torch HalfStorage": "F16", "torch BFloat16Storage": "BF16",
  "torch LongStorage": "I64", "torch IntStorage": "I32", "torch ShortStorage": "I16", "torch CharStorage": "I8",
  "torch ByteStorage": "U8", "torch BoolStorage": "BOOL", "torch.storage UntypedStorage": "U8", "torch UntypedStorage": "U8",
};
/** Storage classes torch has that tfm does not read: refused with TFM5117 rather than as foreign globals. */
const unsupportedStorage = new Set(["ComplexFloatStorage", "ComplexDoubleStorage", "QInt8Storage", "QUInt8Storage", "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage"].map((s) => `torch ${s}`));
const callables = new Set(["collections OrderedDict", "torch._utils _rebuild_tensor_v2", "torch._utils _rebuild_parameter"]);

export type PyVal =
  | { readonly k: "none" }
  | { readonly k: "bool"; readonly v: boolean }
  | { readonly k: "int"; readonly v: bigint }
  | { readonly k: "float"; readonly v: number }
  | { readonly k: "str"; readonly v: string }
  | { readonly k: "tuple"; readonly items: readonly PyVal[]; readonly depth: number }
  | { readonly k: "list"; readonly items: PyVal[]; depth: number }
  | { readonly k: "dict"; readonly ordered: boolean; readonly map: Map<string, { key: PyVal; value: PyVal }>; depth: number }
  | { readonly k: "global"; readonly name: string }
  | { readonly k: "storage"; readonly dtype: string; readonly key: string; readonly numel: number; readonly typeName: string }
  | { readonly k: "tensor"; readonly storage: PyVal & { k: "storage" }; readonly offset: number; readonly shape: readonly number[]; readonly stride: readonly number[] };

export const limits = { maxBytes: 64 << 20, maxDepth: 64, maxMarks: 64, maxStack: 1 << 20, maxRank: 32 };

type Op = { readonly code: number; readonly pos: number; readonly arg?: number | bigint | string | readonly [string, string] };

const names: Record<number, string> = {
  0x69: "INST", 0x6f: "OBJ", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x50: "PERSID", 0x53: "STRING",
  0x49: "INT", 0x4c: "LONG", 0x46: "FLOAT", 0x56: "UNICODE", 0x70: "PUT", 0x67: "GET", 0x8b: "LONG4", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
  0x42: "BINBYTES", 0x43: "SHORT_BINBYTES", 0x8e: "BINBYTES8", 0x8d: "BINUNICODE8", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET",
  0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER", 0x64: "DICT", 0x6c: "LIST", 0x31: "POP_MARK", 0x32: "DUP",
};

/** Unpickles a state_dict's data.pkl; `storage` is told each persistent id's storage, to check it against the archive. */
export function unpickle(bytes: Uint8Array, file?: string): PyVal {
  const at = (offset: number): WeightErrorDetails => ({ ...(file !== undefined ? { file } : {}), offset });
  const malformed = (message: string, pos: number): never => {
    throw new WeightFileError("TFM5114", `data.pkl: ${message} (at byte ${pos})`, at(pos));
  };
  if (bytes.length > limits.maxBytes) malformed(`the pickle is ${bytes.length} bytes, over the limit of ${limits.maxBytes}`, 0);
  const ops = scan(bytes, malformed, at);
  return run(ops, malformed, at);
}

function scan(b: Uint8Array, malformed: (m: string, pos: number) => never, at: (o: number) => WeightErrorDetails): Op[] {
  const ops: Op[] = [];
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let p = 0;
  const need = (n: number, pos: number) => {
    if (p + n > b.length) malformed(`the stream ends inside an opcode's argument (truncated)`, pos);
  };
  const uint = (n: number, pos: number): number => {
    need(n, pos);
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + b[p + i]!;
    p += n;
    return v;
  };
  const text = (n: number, pos: number): string => {
    need(n, pos);
    try {
      return utf8.decode(b.subarray(p, (p += n)));
    } catch {
      return malformed("a string is not valid UTF-8", pos);
    }
  };
  const line = (pos: number): string => {
    const end = b.indexOf(0x0a, p);
    if (end < 0 || end - p > 256) malformed("a GLOBAL's name is not a short line", pos);
    const s = text(end - p, pos);
    p++;
    return s;
  };
  for (;;) {
    if (p >= b.length) malformed("the stream ends without STOP (truncated)", p);
    const pos = p;
    const code = b[p++]!;
    switch (code) {
      case 0x2e: // STOP
        if (p !== b.length) malformed(`${b.length - p} bytes follow STOP`, p);
        ops.push({ code, pos });
        return ops;
      case 0x80: ops.push({ code, pos, arg: uint(1, pos) }); break; // PROTO
      case 0x95: uint(8, pos); break; // FRAME: a length hint only
      case 0x28: case 0x29: case 0x5d: case 0x7d: case 0x4e: case 0x88: case 0x89: // MARK ) ] } N NEWTRUE NEWFALSE
      case 0x93: case 0x51: case 0x52: case 0x62: case 0x74: case 0x85: case 0x86: case 0x87: // STACK_GLOBAL BINPERSID REDUCE BUILD TUPLE TUPLE1-3
      case 0x61: case 0x65: case 0x73: case 0x75: case 0x94: case 0x30: // APPEND APPENDS SETITEM SETITEMS MEMOIZE POP
        ops.push({ code, pos });
        break;
      case 0x4b: ops.push({ code, pos, arg: uint(1, pos) }); break; // BININT1
      case 0x4d: ops.push({ code, pos, arg: uint(2, pos) }); break; // BININT2
      case 0x4a: { // BININT: signed
        const v = uint(4, pos);
        ops.push({ code, pos, arg: v >= 0x80000000 ? v - 0x100000000 : v });
        break;
      }
      case 0x8a: { // LONG1: n bytes, little-endian two's complement
        const n = uint(1, pos);
        if (n > 8) malformed(`an integer of ${n} bytes (at most 8 are read)`, pos);
        need(n, pos);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[p + i]!);
        if (n > 0 && b[p + n - 1]! >= 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        ops.push({ code, pos, arg: v });
        break;
      }
      case 0x47: { // BINFLOAT: big-endian f64
        need(8, pos);
        ops.push({ code, pos, arg: new DataView(b.buffer, b.byteOffset + p, 8).getFloat64(0, false) });
        p += 8;
        break;
      }
      case 0x58: ops.push({ code, pos, arg: text(uint(4, pos), pos) }); break; // BINUNICODE
      case 0x8c: ops.push({ code, pos, arg: text(uint(1, pos), pos) }); break; // SHORT_BINUNICODE
      case 0x71: case 0x68: ops.push({ code, pos, arg: uint(1, pos) }); break; // BINPUT BINGET
      case 0x72: case 0x6a: ops.push({ code, pos, arg: uint(4, pos) }); break; // LONG_BINPUT LONG_BINGET
      case 0x63: { // GLOBAL module\nname\n: checked here, before anything runs
        const mod = line(pos);
        const name = line(pos);
        checkGlobal(`${mod} ${name}`, pos, at);
        ops.push({ code, pos, arg: [mod, name] });
        break;
      }
      default: {
        const n = names[code];
        if (n) throw new WeightFileError("TFM5113", `data.pkl uses the pickle opcode ${n} (at byte ${pos}), which a state_dict does not need: refused before anything was unpickled`, at(pos));
        malformed(`byte 0x${code.toString(16).padStart(2, "0")} is not a pickle opcode`, pos);
      }
    }
  }
}

function checkGlobal(full: string, pos: number, at: (o: number) => WeightErrorDetails): void {
  if (callables.has(full) || Object.prototype.hasOwnProperty.call(storageTypes, full)) return;
  const shown = full.replace(" ", ".");
  if (unsupportedStorage.has(full)) throw new WeightFileError("TFM5117", `data.pkl holds a ${quote(shown)}, a storage type tfm does not read (complex or quantized tensors)`, at(pos));
  throw new WeightFileError(
    "TFM5112",
    `data.pkl names ${quote(shown)} (at byte ${pos}), which a state_dict of tensors does not use: refused before anything was unpickled, as torch.load(weights_only=True) refuses it`,
    at(pos),
  );
}

const depthOf = (v: PyVal): number => ("depth" in v ? v.depth : 0);
const keyOf = (v: PyVal): string | undefined => (v.k === "str" ? `s${v.v}` : v.k === "int" ? `i${v.v}` : v.k === "bool" ? `i${v.v ? 1 : 0}` : v.k === "none" ? "n" : undefined);
const show = (v: PyVal): string => (v.k === "global" ? v.name.replace(" ", ".") : v.k === "dict" && v.ordered ? "OrderedDict" : v.k);

function run(ops: readonly Op[], malformed: (m: string, pos: number) => never, at: (o: number) => WeightErrorDetails): PyVal {
  const stack: PyVal[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyVal>();
  const storages = new Map<string, PyVal & { k: "storage" }>();
  let pos = 0;
  const pop = (): PyVal => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1]!)) malformed("an opcode pops from an empty stack", pos);
    return stack.pop()!;
  };
  const popMark = (): PyVal[] => {
    const m = marks.pop();
    if (m === undefined) return malformed("an opcode needs a MARK that is not there", pos);
    return stack.splice(m);
  };
  const push = (v: PyVal) => {
    if (stack.length >= limits.maxStack) malformed(`the stack grows past ${limits.maxStack} values`, pos);
    stack.push(v);
  };
  const nest = (items: readonly PyVal[]) => {
    const d = 1 + items.reduce((a, v) => Math.max(a, depthOf(v)), 0);
    if (d > limits.maxDepth) malformed(`values nested more than ${limits.maxDepth} deep`, pos);
    return d;
  };
  const top = (): PyVal => {
    const v = stack[stack.length - 1];
    if (v === undefined || (marks.length && stack.length <= marks[marks.length - 1]!)) return malformed("an opcode needs a value under it that is not there", pos);
    return v;
  };
  const setItems = (target: PyVal, items: readonly PyVal[]) => {
    if (target.k !== "dict") throw new WeightFileError("TFM5113", `data.pkl sets items on a ${show(target)} (at byte ${pos}): only dicts take items in a state_dict`, at(pos));
    if (items.length % 2) malformed("SETITEMS with an odd number of values", pos);
    for (let i = 0; i < items.length; i += 2) {
      const key = keyOf(items[i]!);
      if (key === undefined) malformed(`a dict key is a ${show(items[i]!)}, not a string or number`, pos);
      if (target.map.size >= limits.maxStack) malformed("a dict of more than a million entries", pos);
      target.map.set(key!, { key: items[i]!, value: items[i + 1]! });
      target.depth = Math.max(target.depth, nest([items[i + 1]!]));
    }
  };
  const put = (index: number) => {
    if (index > ops.length) malformed(`memo index ${index} is beyond any the stream can have made`, pos);
    memo.set(index, top());
  };
  const int = (v: PyVal | undefined, what: string): number => {
    if (v?.k !== "int" || v.v < 0n || v.v > BigInt(Number.MAX_SAFE_INTEGER)) return malformed(`${what} is not an integer from 0 to 2^53 - 1`, pos);
    return Number(v.v);
  };
  const ints = (v: PyVal | undefined, what: string): number[] => {
    if (v?.k !== "tuple") return malformed(`${what} is not a tuple`, pos);
    if (v.items.length > limits.maxRank) malformed(`${what} has ${v.items.length} dimensions (at most ${limits.maxRank})`, pos);
    return v.items.map((x, i) => int(x, `${what}[${i}]`));
  };
  const emptyHooks = (v: PyVal | undefined) => v === undefined || v.k === "none" || (v.k === "dict" && v.map.size === 0);

  const persistent = (pid: PyVal): PyVal => {
    if (pid.k !== "tuple" || pid.items.length !== 5 || pid.items[0]!.k !== "str" || pid.items[0]!.v !== "storage") {
      return malformed("a persistent id is not ('storage', type, key, location, numel)", pos);
    }
    const [, type, key, location, numel] = pid.items as [PyVal, PyVal, PyVal, PyVal, PyVal];
    if (type.k !== "global" || !Object.prototype.hasOwnProperty.call(storageTypes, type.name)) {
      throw new WeightFileError("TFM5112", `data.pkl's persistent id names ${quote(show(type))}, not a torch storage type`, at(pos));
    }
    if (key.k !== "str" || !/^[0-9A-Za-z_]{1,64}$/.test(key.v)) malformed("a storage key is not a short name", pos);
    if (location.k !== "str") malformed("a storage location is not a string", pos);
    const n = int(numel, "a storage's element count");
    const k = (key as { v: string }).v;
    const s = { k: "storage" as const, dtype: storageTypes[type.name]!, key: k, numel: n, typeName: type.name.replace(" ", ".") };
    const seen = storages.get(k);
    if (seen) {
      if (seen.dtype !== s.dtype || seen.numel !== s.numel) {
        throw new WeightFileError("TFM5116", `storage ${quote(k)} is named twice, as ${seen.typeName} of ${seen.numel} and as ${s.typeName} of ${s.numel}`, at(pos));
      }
      return seen;
    }
    storages.set(k, s);
    return s;
  };

  const reduce = (f: PyVal, args: PyVal): PyVal => {
    if (f.k !== "global" || !callables.has(f.name)) {
      throw new WeightFileError("TFM5112", `data.pkl calls a ${quote(show(f))} (at byte ${pos}), which is not one of the state_dict rebuild functions: refused`, at(pos));
    }
    if (args.k !== "tuple") malformed(`${show(f)}'s arguments are not a tuple`, pos);
    const a = (args as { items: readonly PyVal[] }).items;
    if (f.name === "collections OrderedDict") {
      const d: PyVal = { k: "dict", ordered: true, map: new Map(), depth: 1 };
      if (a.length === 0) return d;
      if (a.length === 1 && a[0]!.k === "list") {
        setItems(d, a[0]!.items.flatMap((pair) => (pair.k === "tuple" && pair.items.length === 2 ? [...pair.items] : malformed("OrderedDict's items are not pairs", pos))));
        return d;
      }
      return malformed("OrderedDict called with arguments other than () or a list of pairs", pos);
    }
    if (f.name === "torch._utils _rebuild_parameter") {
      if (a.length !== 3 || a[0]!.k !== "tensor" || a[1]!.k !== "bool" || !emptyHooks(a[2])) malformed("_rebuild_parameter's arguments are not (tensor, requires_grad, hooks)", pos);
      return a[0]!;
    }
    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    if (a.length < 6 || a.length > 7) malformed(`_rebuild_tensor_v2 has ${a.length} arguments, not 6 or 7`, pos);
    const storage = a[0]!;
    if (storage.k !== "storage") return malformed("_rebuild_tensor_v2's first argument is not a storage", pos);
    const offset = int(a[1], "a tensor's storage offset");
    const shape = ints(a[2], "a tensor's size");
    const stride = ints(a[3], "a tensor's stride");
    if (shape.length !== stride.length) malformed(`a tensor's size has ${shape.length} dimensions but its stride ${stride.length}`, pos);
    if (a[4]!.k !== "bool") malformed("a tensor's requires_grad is not a bool", pos);
    if (!emptyHooks(a[5]) || (a.length === 7 && !emptyHooks(a[6]))) throw new WeightFileError("TFM5115", `a tensor carries backward hooks or metadata (at byte ${pos}), which a state_dict does not`, at(pos));
    return { k: "tensor", storage, offset, shape, stride };
  };

  for (const op of ops) {
    pos = op.pos;
    switch (op.code) {
      case 0x80: if ((op.arg as number) > 5) malformed(`pickle protocol ${op.arg as number} (at most 5)`, pos); break;
      case 0x2e: {
        if (stack.length !== 1 || marks.length) malformed("the stream stops with other than one value on the stack", pos);
        return stack[0]!;
      }
      case 0x28:
        if (marks.length >= limits.maxMarks) malformed(`MARKs nested more than ${limits.maxMarks} deep`, pos);
        marks.push(stack.length);
        break;
      case 0x29: push({ k: "tuple", items: [], depth: 1 }); break;
      case 0x5d: push({ k: "list", items: [], depth: 1 }); break;
      case 0x7d: push({ k: "dict", ordered: false, map: new Map(), depth: 1 }); break;
      case 0x4e: push({ k: "none" }); break;
      case 0x88: push({ k: "bool", v: true }); break;
      case 0x89: push({ k: "bool", v: false }); break;
      case 0x4b: case 0x4d: case 0x4a: push({ k: "int", v: BigInt(op.arg as number) }); break;
      case 0x8a: push({ k: "int", v: op.arg as bigint }); break;
      case 0x47: push({ k: "float", v: op.arg as number }); break;
      case 0x58: case 0x8c: push({ k: "str", v: op.arg as string }); break;
      case 0x63: push({ k: "global", name: (op.arg as readonly [string, string]).join(" ") }); break;
      case 0x93: {
        const name = pop();
        const mod = pop();
        if (mod.k !== "str" || name.k !== "str") malformed("STACK_GLOBAL's module and name are not strings", pos);
        const full = `${(mod as { v: string }).v} ${(name as { v: string }).v}`;
        checkGlobal(full, pos, at);
        push({ k: "global", name: full });
        break;
      }
      case 0x51: push(persistent(pop())); break;
      case 0x52: {
        const args = pop();
        push(reduce(pop(), args));
        break;
      }
      case 0x62: { // BUILD: only an OrderedDict's instance dict (state_dict's `_metadata`), which is dropped
        const state = pop();
        const obj = top();
        if (obj.k !== "dict" || !obj.ordered || (state.k !== "dict" && state.k !== "none")) {
          throw new WeightFileError("TFM5113", `data.pkl sets the state of a ${show(obj)} (BUILD at byte ${pos}): only an OrderedDict's attributes are allowed`, at(pos));
        }
        break;
      }
      case 0x74: {
        const items = popMark();
        push({ k: "tuple", items, depth: nest(items) });
        break;
      }
      case 0x85: case 0x86: case 0x87: {
        const n = op.code - 0x84;
        const items: PyVal[] = [];
        for (let i = 0; i < n; i++) items.unshift(pop());
        push({ k: "tuple", items, depth: nest(items) });
        break;
      }
      case 0x61: case 0x65: {
        const items = op.code === 0x61 ? [pop()] : popMark();
        const list = top();
        if (list.k !== "list") throw new WeightFileError("TFM5113", `data.pkl appends to a ${show(list)} (at byte ${pos}): only lists take APPEND`, at(pos));
        if (items.includes(list)) malformed("a list appended to itself", pos);
        if (list.items.length + items.length > limits.maxStack) malformed("a list of more than a million values", pos);
        list.items.push(...items);
        list.depth = Math.max(list.depth, nest(items));
        break;
      }
      case 0x73: {
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x71: case 0x72: put(op.arg as number); break;
      case 0x94: put(memo.size); break;
      case 0x68: case 0x6a: {
        const v = memo.get(op.arg as number);
        if (v === undefined) malformed(`memo index ${op.arg as number} was never stored`, pos);
        push(v!);
        break;
      }
      case 0x30: pop(); break;
      default: malformed("internal: an opcode the scan admitted has no rule", pos);
    }
  }
  return malformed("the stream ends without STOP (truncated)", pos);
}
