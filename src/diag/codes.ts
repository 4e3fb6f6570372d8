// The diagnostic catalogue: every code tfm can emit, with its default severity and a one-line
// summary. Codes are stable: never renumber or reuse one. docs/DIAGNOSTICS.md is generated from
// this table (`npm run gen`), and test/errors/ holds one example program per code — except for
// 5xxx, which come from files and command-line values rather than programs, and are tested in
// test/unit/weights/ and test/unit/runtime/, and 6xxx/7xxx, which come from running a model
// (7xxx on a WebGPU device: test/webgpu/), and 8xxx, from generating text (test/unit/generate/,
// test/cli/generate.test.ts).
import type { Severity } from "./diagnostic.js";

interface CodeInfo {
  readonly severity: Severity;
  readonly title: string;
}

const catalogue = {
  // 1xxx: reading the text — lexing, parsing, language limits.
  TFM1001: { severity: "error", title: "unexpected character" },
  TFM1002: { severity: "error", title: "unterminated string literal" },
  TFM1003: { severity: "error", title: "syntax error" },
  TFM1004: { severity: "error", title: "integer literal too large (above 2^53 - 1)" },
  TFM1005: { severity: "error", title: "invalid number literal" },
  TFM1006: { severity: "error", title: "invalid escape in string literal" },
  TFM1010: { severity: "error", title: "file too large" },
  TFM1011: { severity: "error", title: "nesting too deep" },
  TFM1012: { severity: "error", title: "identifier too long" },
  TFM1013: { severity: "error", title: "file is not valid UTF-8 text" },
  TFM1014: { severity: "error", title: "expression nested too deeply" },
  TFM1015: { severity: "error", title: "Python or PyTorch syntax that tfm writes differently (`**`, `//`, a slice step, a method call)" },
  TFM1016: { severity: "error", title: "too many errors in one file" },
  // 2xxx: names, declarations and calls.
  TFM2001: { severity: "error", title: "undefined name" },
  TFM2002: { severity: "error", title: "duplicate definition" },
  TFM2003: { severity: "error", title: "wrong number of arguments" },
  TFM2004: { severity: "error", title: "unknown named argument" },
  TFM2005: { severity: "error", title: "argument given more than once" },
  TFM2006: { severity: "error", title: "missing required argument" },
  TFM2007: { severity: "error", title: "wrong kind of name (e.g. a block used as a tensor)" },
  TFM2008: { severity: "error", title: "no model in the file" },
  TFM2009: { severity: "error", title: "more than one model in the file" },
  TFM2010: { severity: "error", title: "recursive block or function" },
  TFM2011: { severity: "error", title: "declaration not allowed here" },
  TFM2012: { severity: "error", title: "block has no output, or function no return" },
  TFM2013: { severity: "error", title: "unknown model parameter in --set" },
  TFM2014: { severity: "error", title: "positional argument after a named one" },
  TFM2015: { severity: "error", title: "wrong number of names to unpack" },
  TFM2016: { severity: "error", title: "duplicate or invalid checkpoint name" },
  TFM2017: { severity: "warning", title: "unused binding or layer" },
  TFM2018: { severity: "error", title: "output declared without a value" },
  TFM2019: { severity: "error", title: "`append` of something that is not a state" },
  TFM2020: { severity: "error", title: "a state's type needs exactly one `past` dim and no packs" },
  // 3xxx: compile-time values — model parameters and dimension arithmetic.
  TFM3001: { severity: "error", title: "division is not exact" },
  TFM3002: { severity: "error", title: "wrong type of value" },
  TFM3003: { severity: "error", title: "division by zero" },
  TFM3004: { severity: "error", title: "value out of range" },
  TFM3005: { severity: "error", title: "integer arithmetic goes beyond 2^53 - 1" },
  TFM3006: { severity: "error", title: "value cannot be known at compile time" },
  TFM3007: { severity: "error", title: "invalid --set value" },
  TFM3008: { severity: "error", title: "model too large to instantiate" },
  TFM3009: { severity: "error", title: "layers or function calls nested too deeply" },
  // 4xxx: shapes and element types.
  TFM4001: { severity: "error", title: "shape mismatch" },
  TFM4002: { severity: "warning", title: "shapes agree only if symbolic dims are equal at run time" },
  TFM4003: { severity: "error", title: "wrong number of dims" },
  TFM4004: { severity: "error", title: "element types differ" },
  TFM4005: { severity: "error", title: "shapes do not broadcast" },
  TFM4006: { severity: "error", title: "matmul inner dims differ" },
  TFM4007: { severity: "error", title: "reshape changes the number of elements" },
  TFM4008: { severity: "error", title: "dim out of range" },
  TFM4009: { severity: "warning", title: "division is exact only for some values of the symbolic dims" },
  TFM4010: { severity: "error", title: "wrong kind of value (tensor, number or list expected)" },
  TFM4011: { severity: "error", title: "chunks do not divide the dim evenly" },
  TFM4012: { severity: "error", title: "index out of bounds" },
  TFM4013: { severity: "error", title: "a repeat stack's output does not fit its next copy's input" },
  TFM4014: { severity: "error", title: "model inputs need a fixed number of dims" },
  TFM4015: { severity: "error", title: "reshape cannot infer its -1 dim" },
  TFM4016: { severity: "error", title: "a state appended twice or never in one call, or used by two applications" },
  // 5xxx: weight and tensor files — reading and writing .safetensors and .npy (50xx), binding a
  // checkpoint to the model's weights (51xx), model inputs and outputs (52xx).
  TFM5001: { severity: "error", title: "file too short for its header" },
  TFM5002: { severity: "error", title: "header length over the limit" },
  TFM5003: { severity: "error", title: "safetensors header is not a valid UTF-8 JSON object" },
  TFM5004: { severity: "error", title: "unknown or unsupported dtype" },
  TFM5005: { severity: "error", title: "tensor data offsets out of bounds" },
  TFM5006: { severity: "error", title: "tensor data overlaps, leaves gaps or does not cover the data section" },
  TFM5007: { severity: "error", title: "tensor byte length does not match its shape and dtype" },
  TFM5008: { severity: "error", title: "invalid tensor shape" },
  TFM5009: { severity: "error", title: "duplicate or invalid tensor name" },
  TFM5010: { severity: "error", title: "not a .npy file, or unsupported .npy version" },
  TFM5011: { severity: "error", title: "unsupported .npy dtype or memory order" },
  TFM5012: { severity: "error", title: ".npy data length does not match its header" },
  TFM5013: { severity: "error", title: "integer value out of range for the conversion" },
  TFM5014: { severity: "error", title: "malformed tensor entry in safetensors header" },
  TFM5015: { severity: "error", title: "safetensors __metadata__ is not a map of strings" },
  TFM5016: { severity: "error", title: ".npy header is not a valid dict literal" },
  TFM5017: { severity: "error", title: "file too large to load" },
  TFM5018: { severity: "error", title: "cannot read weight file" },
  TFM5019: { severity: "error", title: "tensor dtype cannot be converted to the requested type" },
  TFM5020: { severity: "error", title: "tensor data array does not match its dtype" },
  TFM5101: { severity: "error", title: "weight missing from the checkpoint" },
  TFM5102: { severity: "error", title: "checkpoint tensor the model does not declare" },
  TFM5103: { severity: "error", title: "checkpoint tensor has the wrong shape" },
  TFM5104: { severity: "error", title: "checkpoint tensor's dtype cannot be converted to the weight's" },
  TFM5105: { severity: "error", title: "tensor in two checkpoint files" },
  TFM5106: { severity: "error", title: "not a checkpoint: no weights in the folder, or a malformed index" },
  TFM5107: { severity: "error", title: "config.json value does not fit the model parameter" },
  TFM5201: { severity: "error", title: "unknown model input" },
  TFM5202: { severity: "error", title: "required model input not given" },
  TFM5203: { severity: "error", title: "model input given more than once" },
  TFM5204: { severity: "error", title: "invalid input value (JSON literal or file)" },
  TFM5205: { severity: "error", title: "input dtype cannot be converted to the model input's" },
  TFM5206: { severity: "error", title: "input value not representable in the model input's dtype" },
  TFM5207: { severity: "error", title: "input has the wrong number of dims" },
  TFM5208: { severity: "error", title: "input dim differs from the declared size" },
  TFM5209: { severity: "error", title: "symbolic dim has different sizes across inputs" },
  TFM5210: { severity: "error", title: "file exists: not overwritten without --force" },
  TFM5211: { severity: "error", title: "cannot write file" },
  TFM5212: { severity: "error", title: "tensor cannot be drawn as asked (its rank, or --slice)" },
  TFM5213: { severity: "error", title: "graph too large to draw" },
  TFM5214: { severity: "error", title: "--capture pattern matches no name in the model" },
  // 6xxx: running a model.
  TFM6001: { severity: "error", title: "run-time error in an op (e.g. an index out of range)" },
  TFM6002: { severity: "error", title: "inputs or weights do not fit the compiled model" },
  TFM6003: { severity: "error", title: "the run needs more memory than its budget (--max-memory)" },
  // 7xxx: backends (WebGPU): the device and its limits.
  TFM7001: { severity: "error", title: "the WebGPU device's limits are too small for the model" },
  TFM7002: { severity: "warning", title: "the kernels need more than WebGPU's default limits" },
  TFM7003: { severity: "error", title: "no WebGPU adapter or device" },
  // 8xxx: generating text: the model's fitness for it, sampling, prompts and tokenizers.
  TFM8001: { severity: "error", title: "the model cannot generate (no token-ids input or logits output)" },
  TFM8002: { severity: "error", title: "invalid generation option (sampling parameter, token count, prompt)" },
  TFM8003: { severity: "error", title: "the sequence does not fit the model's capacity (its cache or positions)" },
  TFM8004: { severity: "error", title: "token id outside the model's vocabulary" },
  TFM8005: { severity: "error", title: "cannot read the tokenizer" },
  // 9xxx: tfm itself is wrong. These are bugs: please report them.
  TFM9001: { severity: "error", title: "internal compiler error" },
} as const satisfies Record<string, CodeInfo>;

export type Code = keyof typeof catalogue;
export const codes: Readonly<Record<Code, CodeInfo>> = catalogue;
