// Weight and tensor file I/O: the public surface of src/weights.
export { type DType, type DTypeInfo, dtypes, isDType, type TypedArray } from "./dtypes.js";
export { bf16ArrayToF32, bf16ToNumber, f16ArrayToF32, f16ToNumber, floatArrayToBf16, floatArrayToF16, numberToBf16, numberToF16 } from "./dtypes.js";
export { type WeightCode, WeightFileError } from "./errors.js";
export { type NpyArray, readNpy, readNpyFile, writeNpy } from "./npy.js";
export { type ByteSource, memorySource, type NamedTensor, parseSafetensors, readSafetensors, type SafetensorsFile, type TensorEntry, writeSafetensors } from "./safetensors.js";
export { fileSource, openSafetensors, openTorch, openWeights, readSafetensorsFile } from "./file-source.js";
export { parseTorch } from "./torch.js";
