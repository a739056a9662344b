// Oracle for pocketllm's Jinja interpreter: renders small templates with
// @huggingface/jinja.
// usage: node render_templates.mjs SNIPPETS_JSON
//   SNIPPETS_JSON: [{"name", "template", "context"}, ...]
// prints: [{"name", "output"} | {"name", "error"}, ...]
import { readFileSync } from "node:fs";
import { Template } from "@huggingface/jinja";

const snippets = JSON.parse(readFileSync(process.argv[2], "utf8"));
const results = snippets.map(({ name, template, context }) => {
  try {
    return { name, output: new Template(template).render(context ?? {}) };
  } catch (error) {
    return { name, error: String(error?.message ?? error) };
  }
});
process.stdout.write(JSON.stringify(results));
