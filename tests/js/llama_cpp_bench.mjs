// llama.cpp's speed on a model, measured the way llama-bench does, through
// node-llama-cpp (its prebuilt CPU build). A benchmark, not a test.
// usage: node llama_cpp_bench.mjs --model FILE.gguf [--n-prompt 512] [--n-gen 128]
//          [--n-depth 0] [--threads 2] [--repetitions 3] [--batch 2048]
//          [--cache-type-k f16] [--cache-type-v f16] [--flash-attention auto|on|off]
//          [--output md|json]
//
// llama-bench's method (tools/llama-bench/llama-bench.cpp): per test, one
// warm-up run, then for each repetition clear the KV cache and time
//   pp N: the N-token prompt (BOS then random tokens) in batches of n_batch;
//   tg N: N single-token decode steps starting from an empty context;
// tokens/s per repetition = N / seconds, reported as mean and sample stddev.
// --n-depth D (llama-bench's -d): before each repetition, D tokens of
// context are evaluated untimed, and the test continues after them.
// --cache-type-k/v (llama-bench's -ctk/-ctv): node-llama-cpp's
// experimentalKvCacheKeyType/ValueType (f16, bf16, f32, q8_0, q4_0, ...);
// llama.cpp needs flash attention for a quantized V cache, so it is asked for
// whenever a type is not f16. --flash-attention on/off (llama-bench's -fa)
// asks for it or not whatever the types; auto (the default) asks for it only
// then and otherwise leaves node-llama-cpp's default.
// Here the decode steps go through node-llama-cpp's generator at
// temperature 0 (an argmax over the vocabulary per step, which is
// negligible next to the forward pass on a real-size model).
// With --output json it prints llama-bench's JSON (an array of tests, with
// the fields the comparison needs); with md, llama-bench's table.
import { basename } from "node:path";
import { fail, loadLlama, parseArgs, positiveInt } from "./llama_cpp_common.mjs";

const usage = "node llama_cpp_bench.mjs --model FILE.gguf [--n-prompt N] [--n-gen N] [--n-depth D] [--threads T] [--repetitions R] [--batch B] [--cache-type-k T] [--cache-type-v T] [--flash-attention auto|on|off] [--output md|json]";
const args = parseArgs(process.argv.slice(2),
  { model: "value", "n-prompt": "value", "n-gen": "value", "n-depth": "value", threads: "value", repetitions: "value", batch: "value",
    "cache-type-k": "value", "cache-type-v": "value", "flash-attention": "value", output: "value" }, usage);
if (!args.model) fail("missing --model", usage);
const nPrompt = args["n-prompt"] === "0" ? 0 : positiveInt(args["n-prompt"] ?? "512", "--n-prompt");
const nGen = args["n-gen"] === "0" ? 0 : positiveInt(args["n-gen"] ?? "128", "--n-gen");
const threads = positiveInt(args.threads ?? "2", "--threads");
const repetitions = positiveInt(args.repetitions ?? "3", "--repetitions");
const nBatch = positiveInt(args.batch ?? "2048", "--batch");
const nDepth = (args["n-depth"] ?? "0") === "0" ? 0 : positiveInt(args["n-depth"], "--n-depth");
const typeK = (args["cache-type-k"] ?? "f16").toLowerCase();
const typeV = (args["cache-type-v"] ?? "f16").toLowerCase();
const kvTypeNames = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "iq4_nl"];
for (const t of [typeK, typeV]) if (!kvTypeNames.includes(t)) fail(`unsupported KV cache type '${t}' (${kvTypeNames.join(", ")})`, usage);
const flashAttentionArg = args["flash-attention"] ?? "auto";
if (!["auto", "on", "off"].includes(flashAttentionArg)) fail(`--flash-attention must be auto, on or off, got '${flashAttentionArg}'`, usage);
const output = args.output ?? "md";
if (output !== "md" && output !== "json") fail(`--output must be md or json, got '${output}'`, usage);

const llama = await loadLlama(threads);
const model = await llama.loadModel({ modelPath: args.model, gpuLayers: 0 });
const nVocab = Number(model.fileInfo.metadata?.tokenizer?.ggml?.tokens?.length ?? 0);
if (nVocab === 0) fail("the model has no tokenizer.ggml.tokens");
const bos = model.tokens.bos;

// A small deterministic generator for the random tokens (llama-bench uses std::rand).
let state = 0x2545f491;
function randomToken() {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state % nVocab;
}

const nParams = (model.fileInfo.fullTensorInfo ?? model.fileInfo.tensorInfo ?? [])
  .reduce((sum, t) => sum + t.dimensions.reduce((p, d) => p * Number(d), 1), 0);

async function runTest(testPrompt, testGen) {
  // llama-bench: n_ctx = n_depth + n_prompt + n_gen, the same n_batch for every test.
  const contextSize = nDepth + testPrompt + testGen + 1;
  const quantizedKv = typeK !== "f16" || typeV !== "f16";
  const context = await model.createContext({
    contextSize, batchSize: Math.min(nBatch, contextSize), threads: { ideal: threads, min: threads }, sequences: 1,
    experimentalKvCacheKeyType: typeK.toUpperCase(), experimentalKvCacheValueType: typeV.toUpperCase(),
    ...(flashAttentionArg === "on" || (flashAttentionArg === "auto" && quantizedKv) ? { flashAttention: true } : {}),
    ...(flashAttentionArg === "off" ? { flashAttention: false } : {}),
  });
  const sequence = context.getSequence();

  async function promptPass(n) {
    const tokens = Array.from({ length: n }, (_, i) => (i === 0 && bos != null ? bos : randomToken()));
    await sequence.evaluateWithoutGeneratingNewTokens(tokens);
  }
  async function genPass(n) {
    let produced = 0;
    const first = bos != null ? bos : randomToken();
    for await (const token of sequence.evaluate([first], { temperature: 0 })) {
      void token;
      if (++produced >= n) break;
    }
  }

  // Warm-up, as llama-bench: a short prompt pass and one decode step.
  if (testPrompt > 0) await promptPass(Math.min(nBatch, testPrompt));
  if (testGen > 0) { await sequence.clearHistory(); await genPass(1); }

  const samplesNs = [];
  for (let r = 0; r < repetitions; r++) {
    await sequence.clearHistory();
    if (nDepth > 0) await promptPass(nDepth);  // the context at depth, untimed
    const t0 = process.hrtime.bigint();
    if (testPrompt > 0) await promptPass(testPrompt);
    if (testGen > 0) await genPass(testGen);
    samplesNs.push(Number(process.hrtime.bigint() - t0));
  }
  const flashAttention = context.flashAttention;
  await context.dispose();

  const nTokens = testPrompt + testGen;
  const samplesTs = samplesNs.map((ns) => (nTokens * 1e9) / ns);
  return {
    model_filename: basename(args.model),
    model_type: `${model.typeDescription}`,
    model_size: model.size,
    model_n_params: nParams,
    backends: "CPU (node-llama-cpp 3.21.1)",
    n_batch: nBatch,
    n_threads: threads,
    type_k: typeK,
    type_v: typeV,
    flash_attn: flashAttention,
    n_prompt: testPrompt,
    n_gen: testGen,
    n_depth: nDepth,
    test_time: new Date().toISOString(),
    avg_ns: Math.round(mean(samplesNs)),
    stddev_ns: Math.round(stddev(samplesNs)),
    avg_ts: mean(samplesTs),
    stddev_ts: stddev(samplesTs),
    samples_ns: samplesNs,
    samples_ts: samplesTs,
  };
}

function mean(xs) { return xs.reduce((a, b) => a + b, 0) / xs.length; }
function stddev(xs) {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

const results = [];
if (nPrompt > 0) results.push(await runTest(nPrompt, 0));
if (nGen > 0) results.push(await runTest(0, nGen));

if (output === "json") {
  process.stdout.write(JSON.stringify(results, null, 2) + "\n");
} else {
  const rows = results.map((r) => [r.model_type, `${(r.model_size / 2 ** 20).toFixed(2)} MiB`, `${(r.model_n_params / 1e9).toFixed(2)} B`,
    "CPU", `${r.n_threads}`, r.type_k, r.type_v,
    (r.n_prompt > 0 ? `pp${r.n_prompt}` : `tg${r.n_gen}`) + (r.n_depth > 0 ? ` @ d${r.n_depth}` : ""),
    `${r.avg_ts.toFixed(2)} ± ${r.stddev_ts.toFixed(2)}`]);
  const header = ["model", "size", "params", "backend", "threads", "type_k", "type_v", "test", "t/s"];
  process.stdout.write(`| ${header.join(" | ")} |\n| ${header.map(() => "---").join(" | ")} |\n`);
  for (const row of rows) process.stdout.write(`| ${row.join(" | ")} |\n`);
}
await model.dispose();
await llama.dispose();
