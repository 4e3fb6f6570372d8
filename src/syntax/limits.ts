// The language's published limits (docs/LANGUAGE.md, "Limits"). Each has its own diagnostic, so
// hostile or generated input gets a clear error instead of a stack overflow or a hang.
export const limits = {
  /** Largest source file, in bytes of UTF-8 (TFM1010). */
  maxFileBytes: 1 << 20,
  /** Deepest nesting of (), [] and {} (TFM1011). */
  maxNesting: 64,
  /** Deepest expression tree: operators, prefixes and suffixes applied in a chain (TFM1014). */
  maxExpressionDepth: 256,
  /** Longest identifier, in UTF-16 code units (TFM1012). */
  maxIdentifierLength: 128,
  /** Largest integer literal and integer value: 2^53 - 1, the largest exact integer (TFM1004, TFM3005). */
  maxInt: Number.MAX_SAFE_INTEGER,
  /** Most parameter tensors one model may instantiate (TFM3008). */
  maxParamTensors: 100_000,
  /** Largest `repeat(n)` count (TFM3004). */
  maxRepeat: 10_000,
  /** Most layer instances one model may have, all stacks expanded (TFM3008). */
  maxInstances: 100_000,
  /** Deepest chain of layers within layers, or of function calls (TFM3009). */
  maxInstanceDepth: 256,
} as const;
