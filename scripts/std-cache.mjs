// Part of `npm run build`: writes the standard library's syntax trees beside the built module
// (dist/src/std/prelude.json), so a command does not parse them at every start (src/std/index.ts).
const { writePreludeCache } = await import(new URL("../dist/src/std/index.js", import.meta.url).href);
writePreludeCache();
