// The CPU runtime's data side, for `tfm run` and `tfm init-weights`: checkpoints bound to the
// model's weights, deterministic random weights, model inputs, and outputs written as .npy.
export { bindCheckpoint, type BindOptions, type BoundCheckpoint, checkpointShape, loadableFrom } from "./bind.js";
export { checkSeed, defaultRules, type Init, type InitRule, initRules, initsFor, parseSeed, randomCheckpoint, randomWeights, ruleFor } from "./init.js";
export { type InputSource, type InputSpec, type LoadedInputs, loadInputs, type ModelInput, modelInputs, parseInputArg, showInputType } from "./inputs.js";
export { writeOutputs } from "./outputs.js";
export { fileErrorDiagnostic, readFileBytes, writeFileAtomic } from "./files.js";
