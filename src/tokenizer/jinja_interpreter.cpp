#include "tokenizer/jinja_interpreter.h"

#include <fmt/format.h>

#include <cmath>

#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_text.h"
#include "util/error.h"

namespace pocketllm::jinja {
namespace {

// Bounds that real chat templates stay far below.
constexpr uint64_t kMaxSteps = 20'000'000;
constexpr int kMaxCallDepth = 64;
constexpr size_t kMaxStringBytes = 16u << 20;

struct BreakSignal {};
struct ContinueSignal {};

void check_size(size_t bytes) {
  if (bytes > kMaxStringBytes) throw TemplateError("the rendered text grows beyond 16 MiB");
}

// Does `node` (outside nested macros' own parameters) read `name`?
bool reads_name(const Node& node, std::string_view name) {
  if (node.kind == NodeKind::Identifier && node.name == name) return true;
  for (const auto* list : {&node.args, &node.params, &node.body, &node.alternate}) {
    for (const auto& child : *list) {
      if (child && reads_name(*child, name)) return true;
    }
  }
  return false;
}

bool macro_reads(const Node& macro_body_owner, std::string_view name) {
  for (const auto& param : macro_body_owner.params) {
    if (param->name == name) return false;  // a declared parameter, not the special one
  }
  for (const auto& statement : macro_body_owner.body) {
    if (reads_name(*statement, name)) return true;
  }
  for (const auto& param : macro_body_owner.params) {
    if (param->kind == NodeKind::KeywordArg && reads_name(*param->args[0], name)) return true;
  }
  return false;
}

Value int_or_float(double result, bool is_float) {
  if (!is_float && std::isfinite(result) && std::fabs(result) < 9.2e18) {
    return Value::integer(static_cast<int64_t>(result));
  }
  return Value::number(result);
}

Value arithmetic(std::string_view op, const Value& left, const Value& right) {
  const bool is_float = left.is_float() || right.is_float();
  if (!is_float) {
    const int64_t a = left.as_int();
    const int64_t b = right.as_int();
    int64_t result = 0;
    if (op == "+" && !__builtin_add_overflow(a, b, &result)) return Value::integer(result);
    if (op == "-" && !__builtin_sub_overflow(a, b, &result)) return Value::integer(result);
    if (op == "*" && !__builtin_mul_overflow(a, b, &result)) return Value::integer(result);
    if (op == "//" || op == "%") {
      if (b == 0) throw TemplateError("division by zero");
      if (b == -1) return Value::integer(op == "%" ? 0 : (a == INT64_MIN ? a : -a));
      if (op == "%") return Value::integer(a % b);  // JS: the sign follows the dividend
      int64_t q = a / b;
      if (a % b != 0 && ((a < 0) != (b < 0))) --q;
      return Value::integer(q);
    }
  }
  const double a = left.as_double();
  const double b = right.as_double();
  if (op == "+") return int_or_float(a + b, is_float);
  if (op == "-") return int_or_float(a - b, is_float);
  if (op == "*") return int_or_float(a * b, is_float);
  if (b == 0) throw TemplateError("division by zero");
  if (op == "/") return Value::number(a / b);
  if (op == "//") return int_or_float(std::floor(a / b), is_float);
  return int_or_float(std::fmod(a, b), is_float);  // "%"
}

double numeric(const Value& v) { return v.is_bool() ? (v.as_bool() ? 1.0 : 0.0) : v.as_double(); }
bool numeric_like(const Value& v) { return v.is_number() || v.is_bool(); }

}  // namespace

const Value* Environment::lookup(std::string_view name) const {
  for (const Environment* env = this; env != nullptr; env = env->parent.get()) {
    auto it = env->variables.find(std::string(name));
    if (it != env->variables.end()) return &it->second;
  }
  return nullptr;
}

std::string Interpreter::render(const Node& program, const EnvironmentPtr& globals) {
  try {
    return evaluate_block(program.body, globals);
  } catch (const TemplateError& e) {
    throw InputError(e.located() ? e.what() : fmt::format("{}: {}", source_.name, e.what()));
  } catch (const BreakSignal&) {
    throw InputError(source_.name + ": 'break' outside a loop");
  } catch (const ContinueSignal&) {
    throw InputError(source_.name + ": 'continue' outside a loop");
  }
}

Value Interpreter::evaluate(const Node& node, const EnvironmentPtr& env) {
  if (++steps_ > kMaxSteps) {
    throw TemplateError(source_.locate(node.pos) + ": the template takes too many steps (a runaway loop?)", true);
  }
  try {
    return evaluate_node(node, env);
  } catch (const TemplateError& e) {
    if (e.located()) throw;
    throw TemplateError(fmt::format("{}: {}", source_.locate(node.pos), e.what()), true);
  }
}

std::string Interpreter::evaluate_block(const std::vector<NodePtr>& statements, const EnvironmentPtr& env) {
  std::string out;
  for (const auto& statement : statements) {
    const Value value = evaluate(*statement, env);
    if (value.is_string()) {
      out += value.as_string();
    } else {
      out += to_output(value);
    }
    check_size(out.size());
  }
  return out;
}

CallArgs Interpreter::evaluate_arguments(const std::vector<NodePtr>& args, const EnvironmentPtr& env) {
  CallArgs result;
  for (const auto& arg : args) {
    if (arg->kind == NodeKind::Spread) {
      const Value value = evaluate(*arg->args[0], env);
      if (!value.is_array()) throw TemplateError(fmt::format("cannot unpack a {} with '*'", value.type_name()));
      for (const Value& item : value.items()) result.positional.push_back(item);
    } else if (arg->kind != NodeKind::KeywordArg && arg->kind != NodeKind::KeywordSpread) {
      result.positional.push_back(evaluate(*arg, env));
    }
  }
  const auto add_keyword = [&](const std::string& key, Value value) {
    if (result.keyword(key) != nullptr) throw TemplateError(fmt::format("keyword argument '{}' given twice", key));
    result.keywords.emplace_back(key, std::move(value));
  };
  for (const auto& arg : args) {
    if (arg->kind == NodeKind::KeywordArg) {
      add_keyword(arg->name, evaluate(*arg->args[0], env));
    } else if (arg->kind == NodeKind::KeywordSpread) {
      const Value value = evaluate(*arg->args[0], env);
      if (!value.is_dict()) throw TemplateError(fmt::format("'**' needs a dict, not a {}", value.type_name()));
      for (const auto& [key, item] : value.object_data().entries) add_keyword(key, item);
    }
  }
  return result;
}

Value Interpreter::call(const Value& callee, const CallArgs& args, const EnvironmentPtr& env) {
  if (!callee.is_function()) throw TemplateError(fmt::format("cannot call a {}", callee.type_name()));
  return callee.function_ref()(args, *this, env);
}

Value Interpreter::evaluate_node(const Node& node, const EnvironmentPtr& env) {
  switch (node.kind) {
    case NodeKind::Program:
      return Value::string(evaluate_block(node.body, env));
    case NodeKind::Text:
    case NodeKind::StringLiteral:
      return Value::string(node.name);
    case NodeKind::Comment:
      return Value::none();
    case NodeKind::If: {
      const bool test = evaluate(*node.args[0], env).truthy();
      return Value::string(evaluate_block(test ? node.body : node.alternate, env));
    }
    case NodeKind::For:
      return evaluate_for(node, env);
    case NodeKind::Break:
      throw BreakSignal{};
    case NodeKind::Continue:
      throw ContinueSignal{};
    case NodeKind::Set:
      return evaluate_set(node, env);
    case NodeKind::Macro:
      return evaluate_macro(node, env);
    case NodeKind::CallBlock:
      return evaluate_call_block(node, env);
    case NodeKind::FilterBlock: {
      const Value rendered = Value::string(evaluate_block(node.body, env));
      return apply_filter(*this, rendered, *node.args[0], env);
    }
    case NodeKind::Identifier: {
      const Value* value = env->lookup(node.name);
      return value != nullptr ? *value : Value();
    }
    case NodeKind::IntLiteral:
      return Value::integer(node.int_value);
    case NodeKind::FloatLiteral:
      return Value::number(node.float_value);
    case NodeKind::ArrayLiteral:
    case NodeKind::TupleLiteral: {
      std::vector<Value> items;
      for (const auto& element : node.args) items.push_back(evaluate(*element, env));
      return Value::array(std::move(items), node.kind == NodeKind::TupleLiteral);
    }
    case NodeKind::ObjectLiteral: {
      Value object = Value::object();
      for (size_t i = 0; i + 1 < node.args.size(); i += 2) {
        const Value key = evaluate(*node.args[i], env);
        if (!key.is_string()) throw TemplateError(fmt::format("dict keys must be strings, not {}", key.type_name()));
        object.object_data().set(key.as_string(), evaluate(*node.args[i + 1], env));
      }
      return object;
    }
    case NodeKind::Binary:
      return evaluate_binary(node, env);
    case NodeKind::Unary:
      return evaluate_unary(node, env);
    case NodeKind::FilterExpr: {
      const Value operand = evaluate(*node.args[0], env);
      return apply_filter(*this, operand, *node.args[1], env);
    }
    case NodeKind::Test:
      return evaluate_test(node, env);
    case NodeKind::Select: {
      if (!evaluate(*node.args[1], env).truthy()) return Value();
      return evaluate(*node.args[0], env);
    }
    case NodeKind::Ternary: {
      const bool condition = evaluate(*node.args[0], env).truthy();
      return evaluate(*node.args[condition ? 1 : 2], env);
    }
    case NodeKind::Call: {
      const CallArgs args = evaluate_arguments(node.params, env);
      const Value callee = evaluate(*node.args[0], env);
      return call(callee, args, env);
    }
    case NodeKind::Member:
      return evaluate_member(node, env);
    case NodeKind::Slice:
    case NodeKind::KeywordArg:
    case NodeKind::Spread:
    case NodeKind::KeywordSpread:
      break;
  }
  throw TemplateError("this expression is not allowed here");
}

Value Interpreter::evaluate_binary(const Node& node, const EnvironmentPtr& env) {
  const std::string& op = node.name;
  const Value left = evaluate(*node.args[0], env);
  if (op == "and") return left.truthy() ? evaluate(*node.args[1], env) : left;
  if (op == "or") return left.truthy() ? left : evaluate(*node.args[1], env);
  const Value right = evaluate(*node.args[1], env);
  if (op == "==") return Value::boolean(loose_equals(left, right));
  if (op == "!=") return Value::boolean(!loose_equals(left, right));
  const bool membership = op == "in" || op == "not in";
  if (left.is_undefined() || right.is_undefined()) {
    if (right.is_undefined() && membership) return Value::boolean(op == "not in");
    throw TemplateError(fmt::format("cannot apply '{}' to an undefined value", op));
  }
  if (left.is_none() || right.is_none()) throw TemplateError(fmt::format("cannot apply '{}' to none", op));
  if (op == "~") {
    std::string text = to_js_string(left) + to_js_string(right);
    check_size(text.size());
    return Value::string(std::move(text));
  }
  if (op == "**" && numeric_like(left) && numeric_like(right)) {
    const double a = numeric(left);
    const double b = numeric(right);
    if (a == 0 && b < 0) throw TemplateError("0 cannot be raised to a negative power");
    const double result = std::pow(a, b);
    if (!std::isfinite(result)) throw TemplateError("the power is not a finite number");
    return int_or_float(result, left.is_float() || right.is_float() || b < 0);
  }
  if (left.is_number() && right.is_number()) {
    if (op == "<") return Value::boolean(left.as_double() < right.as_double());
    if (op == ">") return Value::boolean(left.as_double() > right.as_double());
    if (op == "<=") return Value::boolean(left.as_double() <= right.as_double());
    if (op == ">=") return Value::boolean(left.as_double() >= right.as_double());
    if (op == "+" || op == "-" || op == "*" || op == "/" || op == "//" || op == "%") {
      return arithmetic(op, left, right);
    }
  } else if (left.is_array() && right.is_array()) {
    if (op == "+") {
      std::vector<Value> items = left.items();
      items.insert(items.end(), right.items().begin(), right.items().end());
      return Value::array(std::move(items));
    }
  } else if (right.is_array() && membership) {
    bool found = false;
    for (const Value& item : right.items()) found = found || strict_equals(item, left);
    return Value::boolean(found == (op == "in"));
  }
  if ((left.is_string() || right.is_string()) && op == "+") {
    std::string text = to_js_string(left) + to_js_string(right);
    check_size(text.size());
    return Value::string(std::move(text));
  }
  if (left.is_string() && right.is_string()) {
    if (membership) return Value::boolean((right.as_string().find(left.as_string()) != std::string::npos) == (op == "in"));
    // Jinja2 orders strings; the reference refuses (an extension, no conflict).
    if (op == "<") return Value::boolean(left.as_string() < right.as_string());
    if (op == ">") return Value::boolean(left.as_string() > right.as_string());
    if (op == "<=") return Value::boolean(left.as_string() <= right.as_string());
    if (op == ">=") return Value::boolean(left.as_string() >= right.as_string());
  }
  if (left.is_string() && right.is_dict() && membership) {
    return Value::boolean((right.object_data().find(left.as_string()) != nullptr) == (op == "in"));
  }
  throw TemplateError(fmt::format("unsupported operator '{}' between a {} and a {}", op, left.type_name(),
                                  right.type_name()));
}

Value Interpreter::evaluate_unary(const Node& node, const EnvironmentPtr& env) {
  const Value operand = evaluate(*node.args[0], env);
  if (node.name == "not") return Value::boolean(!operand.truthy());
  const bool negate = node.name == "-";
  if (operand.is_float()) return Value::number(negate ? -operand.as_double() : operand.as_double());
  if (operand.is_int() || operand.is_bool()) {
    const int64_t v = operand.is_bool() ? (operand.as_bool() ? 1 : 0) : operand.as_int();
    if (negate && v == INT64_MIN) return Value::number(-static_cast<double>(v));
    return Value::integer(negate ? -v : v);
  }
  throw TemplateError(fmt::format("unary '{}' needs a number, not a {}", node.name, operand.type_name()));
}

Value Interpreter::evaluate_member(const Node& node, const EnvironmentPtr& env) {
  const Value object = evaluate(*node.args[0], env);
  const Node& property_node = *node.args[1];
  Value property;
  if (node.flag) {
    if (property_node.kind == NodeKind::Slice) return evaluate_slice(object, property_node, env);
    property = evaluate(property_node, env);
  } else if (property_node.kind == NodeKind::IntLiteral) {
    property = Value::integer(property_node.int_value);
  } else {
    property = Value::string(property_node.name);
  }
  if (object.is_object()) {
    if (!property.is_string()) {
      throw TemplateError(fmt::format("a {} is indexed by strings, not by a {}", object.type_name(), property.type_name()));
    }
    if (const Value* found = object.object_data().find(property.as_string())) return *found;
    return object.is_namespace() ? Value() : member_builtin(object, property.as_string());
  }
  if (object.is_array() || object.is_string()) {
    if (property.is_int()) {
      if (object.is_string()) {
        std::string unit;
        return utf16_unit_at(object.as_string(), property.as_int(), unit) ? Value::string(unit) : Value();
      }
      const auto size = static_cast<int64_t>(object.items().size());
      int64_t index = property.as_int();
      if (index < 0) index += size;
      return index >= 0 && index < size ? object.items()[static_cast<size_t>(index)] : Value();
    }
    if (property.is_string()) return member_builtin(object, property.as_string());
    throw TemplateError(fmt::format("a {} is indexed by integers, not by a {}", object.type_name(), property.type_name()));
  }
  if (!property.is_string()) {
    throw TemplateError(fmt::format("cannot index a {} with a {}", object.type_name(), property.type_name()));
  }
  return Value();  // attributes of none, undefined, numbers: undefined, as in the reference
}

Value Interpreter::evaluate_slice(const Value& object, const Node& slice, const EnvironmentPtr& env) {
  if (!object.is_array() && !object.is_string()) throw TemplateError(fmt::format("cannot slice a {}", object.type_name()));
  int64_t parts[3] = {0, 0, 1};
  bool given[3] = {false, false, false};
  for (size_t i = 0; i < 3; ++i) {
    if (slice.args[i] == nullptr) continue;
    const Value value = evaluate(*slice.args[i], env);
    if (value.is_undefined()) continue;
    if (!value.is_int()) throw TemplateError(fmt::format("slice bounds must be integers, not a {}", value.type_name()));
    parts[i] = value.as_int();
    given[i] = true;
  }
  const int64_t step = parts[2];
  if (step == 0) throw TemplateError("slice step cannot be zero");
  std::vector<std::string> chars;
  if (object.is_string()) chars = code_points(object.as_string());
  const auto length = static_cast<int64_t>(object.is_string() ? chars.size() : object.items().size());
  int64_t start = 0;
  int64_t stop = 0;
  if (step > 0) {
    start = given[0] ? parts[0] : 0;
    stop = given[1] ? parts[1] : length;
    start = start < 0 ? std::max<int64_t>(length + start, 0) : std::min(start, length);
    stop = stop < 0 ? std::max<int64_t>(length + stop, 0) : std::min(stop, length);
  } else {
    start = given[0] ? parts[0] : length - 1;
    stop = given[1] ? parts[1] : -1;
    start = start < 0 ? std::max<int64_t>(length + start, -1) : std::min(start, length - 1);
    stop = stop < -1 ? std::max<int64_t>(length + stop, -1) : std::min(stop, length - 1);
  }
  const int64_t direction = step > 0 ? 1 : -1;
  std::vector<Value> items;
  std::string text;
  for (int64_t i = start; direction * i < direction * stop; i += step) {
    if (object.is_string()) {
      text += chars[static_cast<size_t>(i)];
    } else {
      items.push_back(object.items()[static_cast<size_t>(i)]);
    }
  }
  return object.is_string() ? Value::string(std::move(text)) : Value::array(std::move(items));
}

Value Interpreter::evaluate_test(const Node& node, const EnvironmentPtr& env) {
  const Value operand = evaluate(*node.args[0], env);
  std::vector<Value> args;
  for (const auto& param : node.params) args.push_back(evaluate(*param, env));
  const bool result = run_test(node.name, operand, args);
  return Value::boolean(node.flag ? !result : result);
}

Value Interpreter::evaluate_set(const Node& node, const EnvironmentPtr& env) {
  const Value value = node.args.size() > 1 ? evaluate(*node.args[1], env) : Value::string(evaluate_block(node.body, env));
  const Node& target = *node.args[0];
  if (target.kind == NodeKind::Identifier) {
    env->set(target.name, value);
  } else if (target.kind == NodeKind::TupleLiteral) {
    if (!value.is_array()) throw TemplateError(fmt::format("cannot unpack a {}", value.type_name()));
    if (value.items().size() != target.args.size()) {
      throw TemplateError(fmt::format("expected {} values to unpack, got {}", target.args.size(), value.items().size()));
    }
    for (size_t i = 0; i < target.args.size(); ++i) {
      if (target.args[i]->kind != NodeKind::Identifier) throw TemplateError("can only unpack into names");
      env->set(target.args[i]->name, value.items()[i]);
    }
  } else if (target.kind == NodeKind::Member) {
    const Value object = evaluate(*target.args[0], env);
    if (!object.is_namespace()) throw TemplateError("attributes can only be set on a namespace()");
    if (target.flag || target.args[1]->kind != NodeKind::Identifier) throw TemplateError("expected an attribute name");
    object.object_data().set(target.args[1]->name, value);
  } else {
    throw TemplateError("cannot assign to this expression");
  }
  return Value::none();
}

Value Interpreter::evaluate_for(const Node& node, const EnvironmentPtr& env) {
  auto scope = std::make_shared<Environment>(env);
  Value iterable = evaluate(*node.args[1], scope);
  const Node* filter = node.arg(2);
  const Node& target = *node.args[0];
  std::vector<Value> source;
  if (iterable.is_array()) {
    source = iterable.items();
  } else if (iterable.is_dict()) {
    for (const auto& entry : iterable.object_data().entries) source.push_back(Value::string(entry.first));
  } else if (iterable.is_string()) {  // Jinja2 iterates characters; the reference refuses
    for (std::string& ch : code_points(iterable.as_string())) source.push_back(Value::string(std::move(ch)));
  } else {
    throw TemplateError(fmt::format("cannot loop over a {}", iterable.type_name()));
  }
  const auto bind = [&](const EnvironmentPtr& into, const Value& item) {
    if (target.kind == NodeKind::Identifier) {
      into->set(target.name, item);
      return;
    }
    if (!item.is_array()) throw TemplateError(fmt::format("cannot unpack a {} into loop variables", item.type_name()));
    if (item.items().size() != target.args.size()) {
      throw TemplateError(fmt::format("expected {} values to unpack, got {}", target.args.size(), item.items().size()));
    }
    for (size_t j = 0; j < target.args.size(); ++j) {
      if (target.args[j]->kind != NodeKind::Identifier) throw TemplateError("loop variables must be names");
      into->set(target.args[j]->name, item.items()[j]);
    }
  };
  std::vector<Value> items;
  for (const Value& item : source) {
    if (filter != nullptr) {
      auto test_scope = std::make_shared<Environment>(scope);
      bind(test_scope, item);
      if (!evaluate(*filter, test_scope).truthy()) continue;
    }
    items.push_back(item);
  }
  std::string out;
  bool no_iteration = true;
  const auto n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    const auto index = static_cast<size_t>(i);
    Value loop = Value::object(
        ObjectKind::Dict,
        {{"index", Value::integer(i + 1)},
         {"index0", Value::integer(i)},
         {"revindex", Value::integer(n - i)},
         {"revindex0", Value::integer(n - i - 1)},
         {"first", Value::boolean(i == 0)},
         {"last", Value::boolean(i == n - 1)},
         {"length", Value::integer(n)},
         {"previtem", i > 0 ? items[index - 1] : Value()},
         {"nextitem", i < n - 1 ? items[index + 1] : Value()}});
    scope->set("loop", std::move(loop));
    bind(scope, items[index]);
    try {
      out += evaluate_block(node.body, scope);
      check_size(out.size());
    } catch (const ContinueSignal&) {
      continue;  // as in the reference, a skipped pass does not count as one
    } catch (const BreakSignal&) {
      break;
    }
    no_iteration = false;
  }
  if (no_iteration) out += evaluate_block(node.alternate, scope);
  return Value::string(std::move(out));
}

void Interpreter::bind_macro_arguments(std::string_view name, const std::vector<NodePtr>& parameters,
                                       bool accepts_kwargs, bool accepts_varargs, const CallArgs& args,
                                       const EnvironmentPtr& scope) {
  std::vector<std::pair<std::string, Value>> keywords = args.keywords;
  std::vector<std::pair<std::string, const Node*>> pending_defaults;
  for (size_t i = 0; i < parameters.size(); ++i) {
    const Node& parameter = *parameters[i];
    Value value;
    bool given = i < args.positional.size();
    if (given) value = args.positional[i];
    for (auto it = keywords.begin(); !given && it != keywords.end(); ++it) {
      if (it->first == parameter.name) {
        value = it->second;
        keywords.erase(it);
        given = true;
        break;
      }
    }
    if (!given && parameter.kind == NodeKind::KeywordArg) pending_defaults.emplace_back(parameter.name, parameter.args[0].get());
    scope->set(parameter.name, value);
  }
  if (accepts_kwargs) {
    scope->set("kwargs", Value::object(ObjectKind::Dict, keywords));
  } else if (!keywords.empty()) {
    throw TemplateError(fmt::format("macro {} takes no keyword argument '{}'", name, keywords.front().first));
  }
  if (accepts_varargs) {
    std::vector<Value> rest;
    for (size_t i = parameters.size(); i < args.positional.size(); ++i) rest.push_back(args.positional[i]);
    scope->set("varargs", Value::array(std::move(rest)));
  } else if (args.positional.size() > parameters.size()) {
    throw TemplateError(fmt::format("macro {} takes at most {} argument(s)", name, parameters.size()));
  }
  for (const auto& [param_name, default_node] : pending_defaults) scope->set(param_name, evaluate(*default_node, scope));
}

Value Interpreter::evaluate_macro(const Node& node, const EnvironmentPtr& env) {
  const bool accepts_kwargs = macro_reads(node, "kwargs");
  const bool accepts_varargs = macro_reads(node, "varargs");
  const Node* macro = &node;
  env->set(node.name, Value::function([macro, accepts_kwargs, accepts_varargs](
                                          const CallArgs& args, Interpreter& self, const EnvironmentPtr& caller_env) {
    if (++self.call_depth_ > kMaxCallDepth) {
      --self.call_depth_;
      throw TemplateError(fmt::format("macro '{}' nests more than {} calls deep", macro->name, kMaxCallDepth));
    }
    struct DepthRestore {
      int& depth;
      ~DepthRestore() { --depth; }
    } restore{self.call_depth_};
    auto scope = std::make_shared<Environment>(caller_env);
    self.bind_macro_arguments("'" + macro->name + "'", macro->params, accepts_kwargs, accepts_varargs, args, scope);
    return Value::string(self.evaluate_block(macro->body, scope));
  }));
  return Value::none();
}

Value Interpreter::evaluate_call_block(const Node& node, const EnvironmentPtr& env) {
  const Node* block = &node;
  const bool accepts_kwargs = macro_reads(node, "kwargs");
  const bool accepts_varargs = macro_reads(node, "varargs");
  Value caller = Value::function([block, env, accepts_kwargs, accepts_varargs](
                                     const CallArgs& args, Interpreter& self, const EnvironmentPtr&) {
    auto scope = std::make_shared<Environment>(env);
    self.bind_macro_arguments("caller", block->params, accepts_kwargs, accepts_varargs, args, scope);
    return Value::string(self.evaluate_block(block->body, scope));
  });
  const Node& call_node = *node.args[0];
  const CallArgs args = evaluate_arguments(call_node.params, env);
  const Value callee = evaluate(*call_node.args[0], env);
  auto call_env = std::make_shared<Environment>(env);
  call_env->set("caller", std::move(caller));
  return call(callee, args, call_env);
}

}  // namespace pocketllm::jinja
