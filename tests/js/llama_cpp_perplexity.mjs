// Oracle for perplexity: llama-perplexity's method, computed by llama.cpp.
// usage: node llama_cpp_perplexity.mjs --model FILE.gguf --file TEXT.txt --ctx N_CTX [--threads T] [--chunks N]
//
// The method (tools/perplexity/perplexity.cpp, perplexity()): tokenize the
// whole text with BOS first (when the model adds one); cut it into
// non-overlapping chunks of n_ctx tokens (at least 2 chunks' worth needed);
// evaluate each chunk alone, with its first token replaced by BOS; score the
// second half: for j in [n_ctx/2, n_ctx - 1) add -log p(token[j+1] | ..j).
// PPL = exp(mean nll), and its +/- is PPL * sqrt((mean nll² - mean nll²) / (count - 1)).
// node-llama-cpp exposes no raw logits, but it gives the full-vocabulary
// softmax of them at each position asked for (controlledEvaluate), which is
// what the nll needs.
//
// prints, like llama-perplexity:
//   perplexity: calculating perplexity over C chunks, n_ctx=N
//   [1]x.xxxx,[2]x.xxxx,...
//   Final estimate: PPL = X.XXXX +/- Y.YYYYY
import { readFileSync } from "node:fs";
import { fail, loadLlama, parseArgs, positiveInt, tokenizePrompt } from "./llama_cpp_common.mjs";

const usage = "node llama_cpp_perplexity.mjs --model FILE.gguf --file TEXT.txt --ctx N_CTX [--threads T] [--chunks N]";
const args = parseArgs(process.argv.slice(2), { model: "value", file: "value", ctx: "value", threads: "value", chunks: "value" }, usage);
if (!args.model || !args.file || !args.ctx) fail("missing options", usage);
const nCtx = positiveInt(args.ctx, "--ctx");
const threads = args.threads ? positiveInt(args.threads, "--threads") : 0;

const llama = await loadLlama(threads);
const model = await llama.loadModel({ modelPath: args.model, gpuLayers: 0 });
const tokens = tokenizePrompt(model, readFileSync(args.file, "utf8"));
if (tokens.length < 2 * nCtx) {
  fail(`you need at least ${2 * nCtx} tokens to evaluate perplexity with a context of ${nCtx} (the text has ${tokens.length})`);
}
let nChunks = Math.floor(tokens.length / nCtx);
if (args.chunks) nChunks = Math.min(nChunks, positiveInt(args.chunks, "--chunks"));
const bos = model.tokens.bos;
const addBos = model.tokens.shouldPrependBosToken && bos != null;
const first = Math.floor(nCtx / 2);

const context = await model.createContext({ contextSize: nCtx, batchSize: Math.min(512, nCtx), threads: threads || undefined, sequences: 1 });
const sequence = context.getSequence();
process.stdout.write(`perplexity: calculating perplexity over ${nChunks} chunks, n_ctx=${nCtx}\n`);

let nll = 0;
let nll2 = 0;
let count = 0;
const chunkLines = [];
for (let chunk = 0; chunk < nChunks; chunk++) {
  const start = chunk * nCtx;
  const chunkTokens = tokens.slice(start, start + nCtx);
  if (addBos) chunkTokens[0] = bos;
  // Probabilities of the next token at positions first .. n_ctx - 2.
  const input = chunkTokens.map((token, j) =>
    j >= first && j < nCtx - 1 ? [token, { generateNext: { probabilities: true } }] : token);
  await sequence.clearHistory();
  const output = await sequence.controlledEvaluate(input);
  for (let j = first; j < nCtx - 1; j++) {
    const next = tokens[start + j + 1];
    const p = output[j]?.next?.probabilities?.get(next) ?? 0;
    if (!(p > 0)) fail(`llama.cpp gave no probability for token ${next} at position ${j} of chunk ${chunk + 1}`);
    const v = -Math.log(p);
    nll += v;
    nll2 += v * v;
    count++;
  }
  chunkLines.push(`[${chunk + 1}]${Math.exp(nll / count).toFixed(4)}`);
}
process.stdout.write(chunkLines.join(",") + "\n");

const meanNll = nll / count;
const ppl = Math.exp(meanNll);
const variance = nll2 / count - meanNll * meanNll;
const line = variance > 0
  ? `Final estimate: PPL = ${ppl.toFixed(4)} +/- ${(Math.sqrt(variance / (count - 1)) * ppl).toFixed(5)}`
  : `Final estimate: PPL = ${ppl.toFixed(4)}`;
process.stdout.write(line + "\n");
await context.dispose();
await model.dispose();
await llama.dispose();
