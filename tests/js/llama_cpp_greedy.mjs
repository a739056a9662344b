// Oracle for greedy decoding: llama.cpp's continuation at temperature 0
// (argmax of the logits at each step, through its incremental decode path).
// usage: node llama_cpp_greedy.mjs --model FILE.gguf (--prompt TEXT | --tokens 1,2,3) --n N [--threads T]
//   --prompt is tokenized as llama.cpp does for a prompt (BOS first when the
//   model adds one); --tokens are used as given.
// prints one JSON line: {"prompt": [ids...], "greedy": [ids...]}; generation
// stops early after an end-of-generation token (which is included).
import { fail, loadLlama, parseArgs, parseTokenList, positiveInt, tokenizePrompt } from "./llama_cpp_common.mjs";

const usage = "node llama_cpp_greedy.mjs --model FILE.gguf (--prompt TEXT | --tokens 1,2,3) --n N [--threads T]";
const args = parseArgs(process.argv.slice(2), { model: "value", prompt: "value", tokens: "value", n: "value", threads: "value" }, usage);
if (!args.model || !args.n || (args.prompt === undefined) === (args.tokens === undefined)) fail("missing or conflicting options", usage);
const n = positiveInt(args.n, "--n");
const threads = args.threads ? positiveInt(args.threads, "--threads") : 0;

const llama = await loadLlama(threads);
const model = await llama.loadModel({ modelPath: args.model, gpuLayers: 0 });
const prompt = args.tokens !== undefined ? parseTokenList(args.tokens) : tokenizePrompt(model, args.prompt);
// Room for the prompt and the continuation, rounded up as llama.cpp's KV cache would be.
const contextSize = Math.ceil((prompt.length + n + 1) / 256) * 256;
const context = await model.createContext({ contextSize, batchSize: Math.min(512, contextSize), threads: threads || undefined, sequences: 1 });
const sequence = context.getSequence();

const greedy = [];
for await (const token of sequence.evaluate(prompt, { temperature: 0 })) {
  greedy.push(token);
  if (greedy.length >= n || model.isEogToken(token)) break;
}
process.stdout.write(JSON.stringify({ prompt, greedy }) + "\n");
await context.dispose();
await model.dispose();
await llama.dispose();
