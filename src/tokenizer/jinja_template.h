#pragma once
// A parsed Jinja2 template, rendered as @huggingface/jinja (the renderer
// of transformers.js) renders chat templates, byte for byte: always with
// trim_blocks and lstrip_blocks, JavaScript's printing of values, and its
// set of statements, filters, tests and methods (plus a few of Jinja2's
// where it has none: `raw`, `select`/`reject`, `round`, `escape`,
// `list.append`, tests with arguments such as `divisibleby(3)`).
//
// Known differences from Python's Jinja2 that come with the reference:
// `{{ none }}` prints nothing and booleans print "true"/"false"; strip(),
// lstrip() and rstrip() ignore their argument and strip all whitespace;
// title() upper-cases ASCII word starts and lowers nothing; `|int` floors.
// upper/lower use Unicode simple case mappings (the reference's full
// mappings differ only for a few characters such as ŉ).
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenizer/jinja_ast.h"
#include "tokenizer/jinja_lexer.h"

namespace pocketllm::jinja {

class Template {
 public:
  // Parses `text`; `name` prefixes error messages ("NAME line L column C: ...").
  // Throws InputError on a syntax error or an unsupported statement.
  static Template parse(std::string_view text, std::string name);

  // Renders with each member of `context` (a JSON object) as a variable.
  // Throws InputError naming the line for any error while rendering,
  // including the template's own raise_exception("...").
  std::string render(const nlohmann::ordered_json& context) const;

 private:
  Template() = default;
  SourceText source_;
  NodePtr program_;
};

}  // namespace pocketllm::jinja
