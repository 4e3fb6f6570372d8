// The `tfm` command line: argument parsing (commander) and exit codes. Every command is a thin
// face over the compiler's API, `compile()` (src/compile.ts; `lsp` over src/lsp/), and is loaded
// only when it runs, so `tfm --help` loads no compiler. Exit codes: 0 success, 1 diagnostics
// (errors), 2 usage.
import { Command, CommanderError, Option } from "commander";
import { collectDims, defaultDims } from "./dims.js";
import { collectSetting, UsageError } from "./io.js";

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}
const processIo: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

const setOption = () => new Option("--set <name=value>", "override a model parameter (repeatable)").argParser(collectSetting);

/** The optimizer's passes, in order (as src/passes/pipeline.ts lists them; a test keeps the two the same). */
export const passNames = ["fold-constants", "simplify", "fold-transpose", "cse", "merge-qkv", "dce"] as const;

export function buildCli(exit: (code: number) => void, { out, err }: Io, later: (work: Promise<void>) => void): Command {
  /** Runs a command loaded on demand; its exit code (or its promise of one) ends the run. */
  const run = <M>(load: () => Promise<M>, f: (m: M) => number | Promise<number>): void => {
    later(load().then(f).then(exit));
  };

  const program = new Command("tfm")
    .description("A compiler for Transformer models written in .tfm")
    .version("0.1.0")
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: err });

  program
    .command("check")
    .description("check .tfm files for syntax, name and parameter errors, and summarise each model")
    .argument("<files...>", ".tfm files to check")
    .addOption(setOption())
    .option("--json", "print diagnostics and summaries as JSON")
    .option("-q, --quiet", "print only diagnostics")
    .action((files: string[], opts) => run(() => import("./check.js"), (m) => m.runCheck(files, { ...opts, set: opts.set ?? new Map() }, out, err)));

  program
    .command("shapes")
    .description("print the shape of every binding, and every weight with its checkpoint name, shape and size")
    .argument("<file>", "a .tfm file")
    .addOption(setOption())
    .option("--json", "print as JSON")
    .action((file: string, opts) => run(() => import("./shapes.js"), (m) => m.runShapes(file, { ...opts, set: opts.set ?? new Map() }, out, err)));

  program
    .command("ir")
    .description("print the model as IR: primitive ops with their symbolic shapes")
    .argument("<file>", "a .tfm file")
    .addOption(setOption())
    .option("--after <pass>", `print the IR after this optimizer pass: none (as built, the default), ${passNames.join(", ")} or all`)
    .option("--kernels", "print the fused kernels (the schedule) after the IR; with --after all, the ones tfm run runs")
    .option("--phase <phase>", "an encoder–decoder with states written once (`once`): print the graph of generation's encode or step phase instead of one call")
    .option("--report", "print what each optimizer pass changed (up to --after, default all) instead of the IR, then the memory plan")
    .addOption(new Option("--dims <name=n,...>", `with --report: the dim values to evaluate memory sizes at (repeatable; default ${defaultDims})`).argParser(collectDims))
    .action((file: string, opts) => run(() => import("./ir.js"), (m) => m.runIr(file, { ...opts, set: opts.set ?? new Map() }, out, err)));

  program
    .command("run")
    .description("run the model on the CPU and write its outputs as .npy files")
    .argument("<file>", "a .tfm file")
    .addOption(setOption())
    .addOption(new Option("--weights <path>", "a safetensors checkpoint, a Hugging Face folder (its config.json sets the parameters) or its index json; repeat for shards").argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]))
    .addOption(new Option("--strip-prefix <p>", "remove this prefix from the checkpoint names that carry it (repeatable)").argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]))
    .option("--add-prefix <p>", "put this prefix before every checkpoint name (after --strip-prefix)")
    .option("--random-weights", "use deterministic random weights instead of a checkpoint")
    .option("--seed <n>", "the seed for --random-weights", "0")
    .addOption(new Option("--input <name=value>", "an input: name=file.npy, name=@file.json or a JSON literal (repeatable)").argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]))
    .option("-o, --output <dir>", "write each output as DIR/<name>.npy")
    .addOption(new Option("--capture <pattern>", "also write the values the pattern selects, by layer path and bound name (`h.*.attn.weights`; `*` one part, `**` any), as DIR/<path>.npy (repeatable)").argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]))
    .option("--force", "replace output files that exist")
    .option("--profile", "print the time spent in each kind of kernel")
    .option("--no-optimize", "run the graph as built, without the optimizer's passes")
    .option("--no-fuse", "run one kernel per IR node instead of the fused kernels")
    .option("--max-memory <size>", "the memory budget: bytes, or with K, M, G, T (powers of 1024: 512M, 4G); a run needing more is refused (TFM6003) before allocating (default: half the machine's memory)")
    .addOption(weightsDtypeOption())
    .option("--threads <n>", "cpu: threads for the matrix products (default: the cores; results are the same for any count)")
    .addOption(new Option("--backend <backend>", "where the kernels run: the CPU interpreter, or WGSL kernels on WebGPU (Dawn; SwiftShader without a GPU)").choices(["cpu", "webgpu"]).default("cpu"))
    .action((file: string, opts) => run(() => import("./run.js"), (m) => m.runRun(file, { ...opts, set: opts.set ?? new Map(), input: opts.input ?? [] }, out, err)));

  program
    .command("generate")
    .description("generate tokens with the model (its KV cache, if it declares one), streamed as text or ids")
    .argument("<file>", "a .tfm file")
    .addOption(setOption())
    .option("--weights <path>", "a safetensors or torch.save checkpoint, or a Hugging Face folder (its config.json sets the parameters; its tokenizer.json is the default --tokenizer)")
    .option("--random-weights [seed]", "use deterministic random weights (seed default 0) instead of a checkpoint")
    .option("--tokenizer <file>", "a Hugging Face tokenizer.json, or `gpt2` for GPT-2's own BPE (built in)")
    .option("--prompt <text>", "the prompt as text (needs --tokenizer); repeat it for a batch (prompts of different lengths are left-padded and masked)", (v: string, prev?: string[]) => [...(prev ?? []), v])
    .option("--input-ids <ids>", "the prompt as token ids: 464,2068,7586; repeat it for a batch", (v: string, prev?: string[]) => [...(prev ?? []), v])
    .option("--source-ids <ids>", "an encoder–decoder's source as token ids: 5,6,7; repeat it for a batch (shorter sources are padded at the end and masked)", (v: string, prev?: string[]) => [...(prev ?? []), v])
    .option("--source <text>", "an encoder–decoder's source as text (needs --tokenizer); repeat it for a batch", (v: string, prev?: string[]) => [...(prev ?? []), v])
    .addOption(new Option("--input <name=value>", "an encoder–decoder's source input as JSON: src=[[5,6,7]] (repeatable)").argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]))
    .option("--start-token <id>", "an encoder–decoder: the token the decoder starts from, without --input-ids (default: the model's decoder_start_token_id)")
    .option("--pad-token-id <id>", "the token that left-pads the shorter prompts of a batch and that a finished sequence emits (default: the first stop token, else 0)")
    .option("--max-new-tokens <n>", "tokens to generate at most", "32")
    .option("--temperature <t>", "sample at this temperature (default: greedy)")
    .option("--top-k <k>", "sample among the k most likely tokens")
    .option("--top-p <p>", "sample among the most likely tokens whose probabilities sum to p")
    .option("--repetition-penalty <r>", "divide the logits of tokens already in the sequence by r (Hugging Face's rule)")
    .option("--seed <n>", "the sampler's seed (same seed, same tokens)")
    .option("--stop <ids>", "token ids that end generation (default: the tokenizer's end-of-text token; empty for none)")
    .option("--json", 'print {"tokens": [...], "text": "..."} at the end instead of streaming')
    .option("--no-fuse", "run one kernel per IR node instead of the fused kernels")
    .addOption(weightsDtypeOption())
    .option("--threads <n>", "cpu: threads for the matrix products (default: the cores; results are the same for any count)")
    .addOption(new Option("--backend <backend>", "where the kernels run").choices(["cpu", "webgpu"]).default("cpu"))
    .action((file: string, opts) => run(() => import("./generate.js"), (m) => m.runGenerate(file, { ...opts, set: opts.set ?? new Map() }, out, err)));

  program
    .command("build")
    .description("write the model as one standalone ES module (runtime + optimized graph; weights loaded at run time) and its .d.ts")
    .argument("<file>", "a .tfm file")
    .addOption(setOption())
    .addOption(new Option("--target <target>", "where the module runs its kernels").choices(["cpu", "webgpu"]).default("cpu"))
    .requiredOption("-o, --output <file>", "the .js file to write (its .d.ts goes beside it)")
    .option("--force", "replace the output files if they exist")
    .addOption(new Option("--capture <pattern>", "compile the values the pattern selects in as extra outputs (`h.*.attn.weights`; `*` one part, `**` any): the bundle's run(inputs, { capture }) returns them (repeatable)").argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]))
    .addOption(new Option("--tokenizer <name>", "compile a tokenizer into the bundle, so its generate(\"text\") needs no tokenizer.json (GPT-2's BPE: 500 kB more, 204 kB gzipped)").choices(["gpt2"]))
    .option("--report", "print the bundle's sizes, kernels per call, weight bytes, the optimizer's report and the memory plan")
    .addOption(new Option("--dims <name=n,...>", `with --report: the dim values to evaluate memory sizes at (repeatable; default ${defaultDims})`).argParser(collectDims))
    .action((file: string, opts) => run(() => import("./build.js"), (m) => m.runBuild(file, { ...opts, set: opts.set ?? new Map() }, out, err)));

  program
    .command("export")
    .description("write the optimized graph as an ONNX model (weights as initializers, or external data past 2 GiB) for onnxruntime, Triton or Netron")
    .argument("<file>", "a .tfm file")
    .addOption(setOption())
    .requiredOption("--onnx <file>", "the .onnx file to write")
    .addOption(new Option("--weights <path>", "a safetensors checkpoint, a Hugging Face folder (its config.json sets the parameters) or its index json; repeat for shards").argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]))
    .addOption(new Option("--strip-prefix <p>", "remove this prefix from the checkpoint names that carry it (repeatable)").argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]))
    .option("--add-prefix <p>", "put this prefix before every checkpoint name (after --strip-prefix)")
    .option("--random-weights", "use deterministic random weights instead of a checkpoint")
    .option("--seed <n>", "the seed for --random-weights", "0")
    .option("--opset <n>", "the ONNX opset, 13 to 21 (default 17)")
    .option("--external-data", "write the weights to <file>.data beside the model (the default past 2 GiB)")
    .option("--no-optimize", "export the graph as built, without the optimizer's passes")
    .option("--force", "replace the output files if they exist")
    .option("--max-memory <size>", "the memory budget: bytes, or with K, M, G, T (powers of 1024: 512M, 4G); weights needing more are refused (TFM6003) before being read (default: half the machine's memory)")
    .action((file: string, opts) => run(() => import("./export.js"), (m) => m.runExport(file, { ...opts, set: opts.set ?? new Map() }, out, err)));

  program
    .command("init-weights")
    .description("write deterministic random weights for the model (initialised as PyTorch does) to a .safetensors file")
    .argument("<file>", "a .tfm file")
    .addOption(setOption())
    .requiredOption("--seed <n>", "the random seed: an integer from 0 to 2^53 - 1")
    .requiredOption("-o, --output <file>", "the .safetensors file to write")
    .option("--force", "replace the output file if it exists")
    .option("--max-memory <size>", "the memory budget: bytes, or with K, M, G, T (powers of 1024: 512M, 4G); a run needing more is refused (TFM6003) before allocating (default: half the machine's memory)")
    .action((file: string, opts) => run(() => import("./init-weights.js"), (m) => m.runInitWeights(file, { ...opts, set: opts.set ?? new Map() }, out, err)));

  const viz = program.command("viz").description("draw a tensor or the model's graph as SVG, PNG or one self-contained HTML file");
  viz
    .command("tensor")
    .description("draw a 1-D or 2-D tensor from a .npy file (or a slice of a bigger one) as a heatmap or as curves")
    .argument("<file>", "a .npy file (e.g. an output of tfm run)")
    .addOption(new Option("--as <kind>", "heatmap (with a colour scale) or lines (one curve per column, over the rows)").choices(["heatmap", "lines"]).default("heatmap"))
    .option("--slice <slice>", "NumPy-style slice down to 1 or 2 axes, e.g. 0 or :,4:8 (axes not named are whole)")
    .option("--title <text>", "the picture's title (default: the file, shape and slice)")
    .option("--x-title <text>", "the x axis title")
    .option("--y-title <text>", "the y axis title")
    .option("--legend <text>", "with --as lines: curves are named <text> <column> (default column)")
    .requiredOption("-o, --output <file>", "the picture to write: .svg, .png or .html")
    .option("--force", "replace the output file if it exists")
    .action((file: string, opts) => run(() => import("./viz.js"), (m) => m.runVizTensor(file, opts, out, err)));
  viz
    .command("attention")
    .description("run a model capturing its attention weights and draw them: a heatmap per layer and head, tokens as labels, masked cells grey")
    .argument("<file>", "a .tfm file")
    .addOption(setOption())
    .option("--weights <path>", "a safetensors checkpoint or a Hugging Face folder")
    .option("--random-weights", "use deterministic random weights")
    .option("--seed <n>", "the seed for --random-weights", "0")
    .addOption(new Option("--input <name=value>", "an input, as tfm run takes it (repeatable)").argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]))
    .option("--tokenizer <t>", "gpt2 (built in) or a tokenizer.json: token text as labels")
    .option("--prompt <text>", "with --tokenizer: the text whose tokens are the ids input")
    .option("--batch <i>", "the batch item to draw", "0")
    .addOption(new Option("--capture <pattern>", "the attention weights to draw (repeatable; default **.weights)").argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]))
    .requiredOption("-o, --output <dir>", "the folder to write attention.svg, attention.png and attention.html in")
    .option("--force", "replace output files that exist")
    .action((file: string, opts) => run(() => import("./viz-attention.js"), (m) => m.runVizAttention(file, { ...opts, set: opts.set ?? new Map(), input: opts.input ?? [] }, out, err)));
  viz
    .command("graph")
    .description("draw the model's IR graph: layers as groups named as in the source, edges with symbolic shapes, weights with checkpoint names")
    .argument("<file>", "a .tfm file")
    .addOption(setOption())
    .option("--after <pass>", `draw the graph after this optimizer pass: none (as built), ${passNames.join(", ")} or all (the default)`, "all")
    .option("--kernels", "colour and group the nodes by fused kernel")
    .requiredOption("-o, --output <file>", "the picture to write: .svg or .html")
    .option("--force", "replace the output file if it exists")
    .action((file: string, opts) => run(() => import("./viz-graph.js"), (m) => m.runVizGraph(file, { ...opts, set: opts.set ?? new Map() }, out, err)));


  program
    .command("fmt")
    .description("print .tfm files in canonical form")
    .argument("<files...>", ".tfm files to format")
    .option("-w, --write", "rewrite the files in place")
    .option("--check", "list files that are not formatted; exit 1 if any")
    .action((files: string[], opts) => run(() => import("./fmt.js"), (m) => m.runFmt(files, opts, out, err)));

  program
    .command("lsp")
    .description("start the language server, talking LSP over stdin and stdout (for editors)")
    .option("--stdio", "use stdin and stdout (the only transport; accepted because editors pass it)")
    .option("--clientProcessId <pid>", "the editor's process id (accepted; the server exits when it does)")
    .action(() => {
      // Loaded only here, so other commands do not pay for the language server's modules.
      import("../lsp/server.js").then(
        (m) => m.startServer(),
        (e: unknown) => {
          err(`tfm: cannot start the language server: ${e instanceof Error ? e.message : String(e)}\n`);
          process.exitCode = 1;
        },
      );
      exit(0);
    });

  for (const c of [...program.commands, ...viz.commands]) c.exitOverride().showHelpAfterError().configureOutput({ writeOut: out, writeErr: err });
  return program;
}

/** Runs the `tfm` command with `argv` (without `node tfm`) and resolves to its exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let code = 0;
  let work: Promise<void> | undefined;
  const cli = buildCli((c) => (code = c), io, (w) => (work = w));
  try {
    cli.parse(argv, { from: "user" });
    await work;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // --help and --version exit 0
    if (e instanceof UsageError) {
      io.err(`tfm: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  return code;
}

/** --weights-dtype, as `tfm run` and `tfm generate` take it (LoadOptions.weightsDtype). */
function weightsDtypeOption(): Option {
  return new Option("--weights-dtype <dtype>", "how the weights' matrices are kept: f32 (exact); f16 (rounded to f16 at load, computed in f32: half the bytes); int8 (quantized per output channel at load: a quarter of the bytes, the fastest CPU decoding, logits within about 2% of their range)").choices(["f32", "int8", "f16"]).default("f32");
}
