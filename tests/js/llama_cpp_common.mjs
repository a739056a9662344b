// Shared by the llama.cpp oracle scripts (llama_cpp_*.mjs): command-line
// parsing and loading llama.cpp through node-llama-cpp's prebuilt CPU
// binary (no GPU, no compiling, no downloads).
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

// Parses `--name value` pairs (and bare `--flag`) into an object; the
// values stay strings. Unknown names are errors, so typos do not pass silently.
export function parseArgs(argv, known, usage) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("--")) fail(`unexpected argument '${arg}'`, usage);
    const name = arg.slice(2);
    if (!(name in known)) fail(`unknown option '${arg}'`, usage);
    if (known[name] === "flag") {
      args[name] = true;
    } else {
      if (i + 1 >= argv.length) fail(`option '${arg}' needs a value`, usage);
      args[name] = argv[++i];
    }
  }
  return args;
}

export function fail(message, usage) {
  process.stderr.write(`error: ${message}\n${usage ? `usage: ${usage}\n` : ""}`);
  process.exit(2);
}

export function positiveInt(text, name) {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) fail(`${name} must be a positive integer, got '${text}'`);
  return n;
}

// `threads` = 0 lets llama.cpp pick (all math cores).
export async function loadLlama(threads = 0) {
  return getLlama({
    gpu: false,
    build: "never",
    skipDownload: true,
    usePrebuiltBinaries: true,
    progressLogs: false,
    logLevel: LlamaLogLevel.error,
    maxThreads: threads,
  });
}

// llama.cpp's prompt tokenization (common_tokenize with add_special = true):
// the text's tokens, with BOS first when the model asks for it.
export function tokenizePrompt(model, text) {
  const tokens = model.tokenize(text, false);
  const bos = model.tokens.bos;
  if (model.tokens.shouldPrependBosToken && bos != null) return [bos, ...tokens];
  return tokens;
}

export function parseTokenList(text) {
  const ids = text.split(",").map((s) => Number(s.trim()));
  if (ids.length === 0 || ids.some((id) => !Number.isInteger(id) || id < 0)) {
    fail(`--tokens must be comma-separated token ids, got '${text}'`);
  }
  return ids;
}
