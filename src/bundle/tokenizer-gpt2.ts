// GPT-2's byte-level BPE in a bundle (`tfm build --tokenizer gpt2`): the CLI's own tokenizer
// (src/generate/tokenizer.ts, gpt-tokenizer's r50k_base ranks), so the bundle's tokens are the
// CLI's. build.ts compiles this module into the runtime before the target's entry; it adds the
// ranks to the runtime (500 kB minified, 204 kB more gzipped), which is why other bundles leave it out.
import { registerTokenizer } from "./builtin-tokenizers.js";
import { gpt2Tokenizer } from "../generate/tokenizer.js";

registerTokenizer("gpt2", gpt2Tokenizer);
