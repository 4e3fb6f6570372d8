// Runs `tfm ARGS...` in this process, then prints its peak resident set size (process.resourceUsage().maxRSS,
// KiB) as the last line of stdout: test/cli/budget.test.ts runs it as a child to bound what a refused run allocated.
import { main } from "../../src/cli/main.js";

const code = await main(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) });
process.stdout.write(`\nmaxrss-kib ${process.resourceUsage().maxRSS}\n`);
process.exitCode = code;
