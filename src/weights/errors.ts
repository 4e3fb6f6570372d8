// Errors from reading and writing weight files (.safetensors, .npy): one class, stable TFM5xxx codes.
// These codes are kept here, not in src/diag/codes.ts, until the table below is merged into the
// catalogue; like the catalogue, a code is never renumbered or reused.

/** Every code this module can throw, with a one-line title for the diagnostic catalogue. */
export const weightCodes = {
  TFM5001: "file too short for its header",
  TFM5002: "header length over the limit",
  TFM5003: "safetensors header is not a valid UTF-8 JSON object",
  TFM5004: "unknown or unsupported dtype",
  TFM5005: "tensor data offsets out of bounds",
  TFM5006: "tensor data overlaps, leaves gaps or does not cover the data section",
  TFM5007: "tensor byte length does not match its shape and dtype",
  TFM5008: "invalid tensor shape",
  TFM5009: "duplicate or invalid tensor name",
  TFM5010: "not a .npy file, or unsupported .npy version",
  TFM5011: "unsupported .npy dtype or memory order",
  TFM5012: ".npy data length does not match its header",
  TFM5013: "integer value out of range for the conversion",
  TFM5014: "malformed tensor entry in safetensors header",
  TFM5015: "safetensors __metadata__ is not a map of strings",
  TFM5016: ".npy header is not a valid dict literal",
  TFM5017: "file too large to load",
  TFM5018: "cannot read weight file",
  TFM5019: "tensor dtype cannot be converted to the requested type",
  TFM5020: "tensor data array does not match its dtype",
} as const;

export type WeightCode = keyof typeof weightCodes;

export interface WeightErrorDetails {
  /** The file being read, when known. */
  file?: string;
  /** Byte offset into the file where the problem was found. */
  offset?: number;
  /** The tensor the problem concerns. */
  tensor?: string;
}

/**
 * A user-facing problem with a weight file or with tensors handed to a writer. The message is a
 * complete sentence without the code; `code` is stable, so callers can map it to a diagnostic.
 */
export class WeightFileError extends Error {
  override readonly name = "WeightFileError";
  readonly code: WeightCode;
  readonly file?: string;
  readonly offset?: number;
  readonly tensor?: string;

  constructor(code: WeightCode, message: string, details: WeightErrorDetails = {}) {
    super(message);
    this.code = code;
    if (details.file !== undefined) this.file = details.file;
    if (details.offset !== undefined) this.offset = details.offset;
    if (details.tensor !== undefined) this.tensor = details.tensor;
  }
}

/** Quotes a name for a message, escaping control characters so hostile names cannot forge output. */
export const quote = (s: string): string => JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}...` : s);
