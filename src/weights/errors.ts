// Errors from reading and writing weight and tensor files (.safetensors, .npy): one class, whose
// codes are the catalogue's 5xxx codes (src/diag/codes.ts), so a caller can turn one into a diagnostic.
import type { Code } from "../diag/codes.js";

/** The catalogue's codes for weight and tensor files (TFM5xxx). */
export type WeightCode = Extract<Code, `TFM5${string}`>;

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
