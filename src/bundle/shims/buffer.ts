// `node:buffer` for bundles: the part of it the runtime's shared modules reach (the safetensors
// reader counts UTF-8 bytes for error offsets), on web APIs. src/bundle/build.ts aliases
// `node:buffer` here; anything else of Buffer's is absent, so esbuild fails the build if a bundled
// module starts to use it.
const utf8 = new TextEncoder();

export const Buffer = {
  byteLength: (s: string): number => utf8.encode(s).length,
};

/** Only the writer uses it (tree-shaken from bundles). */
export const constants = { MAX_LENGTH: 2 ** 32 - 1 };
