// The package's entry (`import { compile } from "tfm-compiler"`): the compiler's API, which the
// `tfm` command, the bundle builder and the language server use too, and the text forms the
// command prints. The runtime alone, for precompiled models, is the `./runtime` entry (src/bundle/runtime.ts).
export { compile, type CompiledModel, type CompileOptions } from "./compile.js";
export type { ExportOptions, LoadOptions, NestedArray, RunInfo, Session, TensorIn, TensorOut, WeightsInput } from "./session.js";
export type { OnnxExportOptions, OnnxModel } from "./export/onnx.js";
export { TfmError, type TfmErrorDetails } from "./bundle/errors.js";
export { modelData, type ModelData, type PortInfo, type Target } from "./bundle/model-data.js";
export type { CheckResult } from "./api.js";
export type { Diagnostic, Severity } from "./diag/diagnostic.js";
export { diagnosticToJson, renderDiagnostics, type Sources } from "./diag/render.js";
export type { Weight } from "./check/elaborated.js";
export type { ShapeResult } from "./check/shapes/check.js";
export type { Graph } from "./ir/graph.js";
export { printGraph } from "./ir/print.js";
export { formatReport, passes, UnknownPass, type Optimized } from "./passes/pipeline.js";
export { printSchedule, type Schedule } from "./schedule/kernel.js";
export type { MemoryPlan } from "./schedule/memory.js";
export { memoryReportText } from "./schedule/memory-report.js";
export { formatText } from "./syntax/format.js";
