#!/usr/bin/env node
// The `tfm` command: runs the compiled CLI (built by `npm install` through the prepare script).
import { main } from "../dist/src/cli/main.js";

// `tfm shapes big.tfm | head` closes the pipe early: that is not an error.
process.stdout.on("error", (e) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));
