#pragma once
// Evaluates a parsed chat template, with the semantics of the reference
// renderer (@huggingface/jinja): `{{ none }}` and undefined print nothing,
// booleans print "true"/"false", `set` inside a loop stays in the loop,
// macros see the caller's variables, `==` is JavaScript's loose equality.
// Where the reference fails (a filter or test it lacks) Jinja2's behaviour is
// used instead. Errors are TemplateError located at the innermost node, and
// the render entry point turns them into InputError.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/jinja_ast.h"
#include "tokenizer/jinja_lexer.h"
#include "tokenizer/jinja_value.h"

namespace pocketllm::jinja {

// A scope: variables, and the scope it was opened in.
struct Environment {
  EnvironmentPtr parent;
  std::unordered_map<std::string, Value> variables;

  explicit Environment(EnvironmentPtr p = nullptr) : parent(std::move(p)) {}
  // The variable, searching outwards; nullptr when no scope has it.
  const Value* lookup(std::string_view name) const;
  void set(const std::string& name, Value value) { variables[name] = std::move(value); }
};

class Interpreter {
 public:
  explicit Interpreter(const SourceText& source) : source_(source) {}

  // Renders `program` with `globals` as the outermost scope. Throws InputError
  // naming the template line on any error (raise_exception included).
  std::string render(const Node& program, const EnvironmentPtr& globals);

  Value evaluate(const Node& node, const EnvironmentPtr& env);
  CallArgs evaluate_arguments(const std::vector<NodePtr>& args, const EnvironmentPtr& env);
  Value call(const Value& callee, const CallArgs& args, const EnvironmentPtr& env);

 private:
  Value evaluate_node(const Node& node, const EnvironmentPtr& env);
  std::string evaluate_block(const std::vector<NodePtr>& statements, const EnvironmentPtr& env);
  Value evaluate_binary(const Node& node, const EnvironmentPtr& env);
  Value evaluate_unary(const Node& node, const EnvironmentPtr& env);
  Value evaluate_member(const Node& node, const EnvironmentPtr& env);
  Value evaluate_slice(const Value& object, const Node& slice, const EnvironmentPtr& env);
  Value evaluate_test(const Node& node, const EnvironmentPtr& env);
  Value evaluate_set(const Node& node, const EnvironmentPtr& env);
  Value evaluate_for(const Node& node, const EnvironmentPtr& env);
  Value evaluate_macro(const Node& node, const EnvironmentPtr& env);
  Value evaluate_call_block(const Node& node, const EnvironmentPtr& env);
  void bind_macro_arguments(std::string_view name, const std::vector<NodePtr>& parameters,
                            bool accepts_kwargs, bool accepts_varargs, const CallArgs& args,
                            const EnvironmentPtr& scope);

  const SourceText& source_;
  uint64_t steps_ = 0;   // evaluation budget (a guard against runaway loops)
  int call_depth_ = 0;   // macro nesting (a guard against unbounded recursion)
};

}  // namespace pocketllm::jinja
