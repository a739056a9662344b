#include "tokenizer/jinja_template.h"

#include <memory>

#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_interpreter.h"
#include "tokenizer/jinja_parser.h"
#include "tokenizer/jinja_value.h"
#include "util/error.h"

namespace pocketllm::jinja {

Template Template::parse(std::string_view text, std::string name) {
  Template result;
  result.source_ = preprocess_template(text, std::move(name));
  result.program_ = parse_template(tokenize_template(result.source_), result.source_);
  return result;
}

std::string Template::render(const nlohmann::ordered_json& context) const {
  if (!context.is_object()) throw InputError(source_.name + ": the template context must be a JSON object");
  auto globals = std::make_shared<Environment>();
  install_globals(*globals);
  for (const auto& [key, value] : context.items()) {
    // As in the reference, the caller cannot replace a builtin name.
    if (globals->variables.count(key) != 0) {
      throw InputError(source_.name + ": '" + key + "' is a builtin name and cannot be passed to the template");
    }
    globals->set(key, Value::from_json(value));
  }
  Interpreter interpreter(source_);
  return interpreter.render(*program_, globals);
}

}  // namespace pocketllm::jinja
