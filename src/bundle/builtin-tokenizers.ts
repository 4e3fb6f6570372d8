// The tokenizers a bundle's runtime may carry built in (`tfm build --tokenizer gpt2`): a module
// compiled into that runtime registers its tokenizer here by name (tokenizer-gpt2.ts), and `load`
// uses the one the model's data names (model-data.ts `tokenizer`) when no `tokenizer` option is
// given. A runtime built without it has none registered: TFM8005, naming the way out.
import { TfmError } from "./errors.js";
import type { TextTokenizer } from "../generate/tokenizer.js";

export type BuiltinTokenizer = "gpt2";
export const builtinTokenizers: readonly BuiltinTokenizer[] = ["gpt2"];

const known = new Map<string, () => Promise<TextTokenizer>>();

export function registerTokenizer(name: BuiltinTokenizer, make: () => Promise<TextTokenizer>): void {
  known.set(name, make);
}

/** The built-in tokenizer `name`, made once per call of `load`. */
export async function builtinTokenizer(name: string): Promise<TextTokenizer> {
  const make = known.get(name);
  if (!make) throw new TfmError("TFM8005", `the model names the built-in tokenizer \`${name}\`, which this runtime does not carry: build the bundle with \`tfm build --tokenizer ${name}\`, or pass \`tokenizer\` (a tokenizer.json) to load()`);
  return make();
}
