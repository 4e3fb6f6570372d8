#!/usr/bin/env node
// The `tfm` command: runs the compiled CLI (dist/, built by `npm run build`, and by `npm pack` before packing).

// `tfm shapes big.tfm | head` closes the pipe early: that is not an error.
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

const cli = new URL("../dist/src/cli/main.js", import.meta.url);
const { main } = await import(cli.href).catch((e) => {
  if (e?.code !== "ERR_MODULE_NOT_FOUND" || !e.message.includes("main.js")) throw e;
  process.stderr.write("tfm: the compiled CLI (dist/) is missing: run `npm run build` first\n");
  process.exit(2);
});
process.exitCode = await main(process.argv.slice(2));
