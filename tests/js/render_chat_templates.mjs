// Oracle for pocketllm's chat templates: renders every conversation of a
// conversations file with a model's chat template using @huggingface/jinja
// (the renderer of transformers.js), passing the variables that
// transformers.js's apply_chat_template passes:
//   messages, add_generation_prompt, tools (null when none), documents (null),
//   the special tokens that are set (bos_token, eos_token, ...), then extras.
//
// usage: node render_chat_templates.mjs TOKENIZER_CONFIG_JSON CONVERSATIONS_JSON
// prints: [{"name": ..., "output": "..."} | {"name": ..., "error": "..."}, ...]
import { readFileSync } from "node:fs";
import { Template } from "@huggingface/jinja";

const [configPath, conversationsPath] = process.argv.slice(2);
if (!configPath || !conversationsPath) {
  console.error("usage: node render_chat_templates.mjs TOKENIZER_CONFIG_JSON CONVERSATIONS_JSON");
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, "utf8"));
const conversations = JSON.parse(readFileSync(conversationsPath, "utf8"));

// transformers.js: getToken() takes a string or an AddedToken's content.
const specialTokens = {};
for (const key of ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]) {
  const value = config[key];
  const text = typeof value === "string" ? value : value?.content;
  if (text) specialTokens[key] = text;
}
const template = new Template(config.chat_template);
const results = conversations.map((conversation) => {
  const context = {
    messages: conversation.messages,
    add_generation_prompt: conversation.add_generation_prompt ?? false,
    tools: conversation.tools ?? null,
    documents: null,
    ...specialTokens,
    ...(conversation.extra ?? {}),
  };
  try {
    return { name: conversation.name, output: template.render(context) };
  } catch (error) {
    return { name: conversation.name, error: String(error?.message ?? error) };
  }
});
process.stdout.write(JSON.stringify(results));
