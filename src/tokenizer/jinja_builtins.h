#pragma once
// The reference renderer's builtins: global functions (range, namespace,
// raise_exception, strftime_now), tests (`is defined`, `is string`, ...),
// methods of strings, dicts and lists (`s.split()`, `d.items()`), filters
// (`|trim`, `|tojson`, ...), and its value comparisons.
#include <string_view>
#include <vector>

#include "tokenizer/jinja_ast.h"
#include "tokenizer/jinja_interpreter.h"
#include "tokenizer/jinja_value.h"

namespace pocketllm::jinja {

// Adds true/false/none (and True/False/None), range, namespace,
// raise_exception and strftime_now to `env`.
void install_globals(Environment& env);

// `operand is NAME(args)`. Throws TemplateError for an unknown test.
bool run_test(std::string_view name, const Value& operand, const std::vector<Value>& args);

// `object.NAME` when the object has no such key: a bound method, `length`,
// or undefined.
Value member_builtin(const Value& object, std::string_view name);

// `operand | filter` where filter is an Identifier or a Call node.
Value apply_filter(Interpreter& interpreter, const Value& operand, const Node& filter,
                   const EnvironmentPtr& env);

// JavaScript `==` on the values (null == undefined, "1" == 1, containers by identity).
bool loose_equals(const Value& a, const Value& b);
// JavaScript `===` (used by `in` on lists and the `eq` test).
bool strict_equals(const Value& a, const Value& b);
// Ordering used by sort and dictsort: numbers (booleans as 0/1) and strings
// (case-folded unless case_sensitive); other mixes are a TemplateError.
int compare_values(const Value& a, const Value& b, bool case_sensitive);

}  // namespace pocketllm::jinja
