// `value | filter` and `value | filter(args)`: the reference renderer's
// filters, per operand type, plus a few of Jinja2's where the reference has
// none (noted below).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "tokenizer/jinja_builtins.h"
#include "tokenizer/jinja_text.h"

namespace pocketllm::jinja {
namespace {

[[noreturn]] void unsupported(std::string_view filter, const Value& operand) {
  throw TemplateError(fmt::format("filter '{}' is not supported on a {}", filter, operand.type_name()));
}

// Array.prototype.join's view of an element: none and undefined are empty.
std::string join_piece(const Value& v) { return v.is_none() || v.is_undefined() ? "" : to_js_string(v); }

std::string join_values(const std::vector<Value>& items, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += join_piece(items[i]);
  }
  return out;
}

// Jinja2's HTML escaping (markupsafe).
std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string indent_text(const std::string& text, int64_t width, bool first, bool blank) {
  const std::string pad(static_cast<size_t>(std::max<int64_t>(width, 0)), ' ');
  std::string out;
  size_t start = 0;
  for (size_t line = 0;; ++line) {
    const size_t end = text.find('\n', start);
    const std::string_view piece = std::string_view(text).substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!((!first && line == 0) || (!blank && piece.empty()))) out += pad;
    out += piece;
    if (end == std::string::npos) break;
    out += '\n';
    start = end + 1;
  }
  return out;
}

// Value at a dotted attribute path ("a.b", list indexes as "0").
Value attribute_path(const Value& item, const std::string& path) {
  Value value = item;
  size_t start = 0;
  for (;;) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (value.is_object()) {
      const Value* found = value.object_data().find(part);
      value = found != nullptr ? *found : Value();
    } else if (value.is_array()) {
      const double index = js_parse_int(part);
      if (std::isnan(index) || index < 0 || index >= static_cast<double>(value.items().size())) return Value();
      value = value.items()[static_cast<size_t>(index)];
    } else {
      return Value();
    }
    if (dot == std::string::npos) return value;
    start = dot + 1;
  }
}

Value to_int(const Value& operand, const Value& fallback) {
  if (operand.is_string()) {
    const double v = js_parse_int(operand.as_string());
    if (std::isnan(v)) return fallback;
    return std::fabs(v) < 9.2e18 ? Value::integer(static_cast<int64_t>(v)) : Value::number(v);
  }
  if (operand.is_number()) return operand;
  if (operand.is_bool()) return Value::integer(operand.as_bool() ? 1 : 0);
  unsupported("int", operand);
}

Value to_float(const Value& operand, const Value& fallback) {
  if (operand.is_string()) {
    const double v = js_parse_float(operand.as_string());
    return std::isnan(v) ? fallback : Value::number(v);
  }
  if (operand.is_number()) return operand;
  if (operand.is_bool()) return Value::number(operand.as_bool() ? 1 : 0);
  unsupported("float", operand);
}

Value sort_array(const Value& operand, const CallArgs& args) {
  const auto flag = [&](size_t index, std::string_view key) {
    const Value* v = index < args.positional.size() ? &args.positional[index] : args.keyword(key);
    if (v == nullptr) return false;
    if (!v->is_bool()) throw TemplateError(fmt::format("sort: '{}' must be a boolean", key));
    return v->as_bool();
  };
  const bool reverse = flag(0, "reverse");
  const bool case_sensitive = flag(1, "case_sensitive");
  const Value* attribute = args.positional.size() > 2 ? &args.positional[2] : args.keyword("attribute");
  std::string path;
  if (attribute != nullptr && !attribute->is_none()) {
    if (attribute->is_string()) {
      path = attribute->as_string();
    } else if (attribute->is_int()) {
      path = std::to_string(attribute->as_int());
    } else {
      throw TemplateError("sort: 'attribute' must be a string or an integer");
    }
  }
  std::vector<Value> items = operand.items();
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    const Value x = path.empty() ? a : attribute_path(a, path);
    const Value y = path.empty() ? b : attribute_path(b, path);
    const int c = compare_values(x, y, case_sensitive);
    return reverse ? c > 0 : c < 0;
  });
  return Value::array(std::move(items));
}

// selectattr / rejectattr (attribute tests) and select / reject (item tests).
Value select_items(std::string_view filter, const Value& operand, const CallArgs& args) {
  const bool by_attribute = filter == "selectattr" || filter == "rejectattr";
  const bool keep_matches = filter == "selectattr" || filter == "select";
  size_t next = 0;
  std::string attribute;
  if (by_attribute) {
    if (args.positional.empty() || !args.positional[0].is_string()) {
      throw TemplateError(fmt::format("{} needs an attribute name", filter));
    }
    attribute = args.positional[0].as_string();
    next = 1;
  }
  std::string test;
  if (next < args.positional.size()) {
    if (!args.positional[next].is_string()) throw TemplateError(fmt::format("{}: the test name must be a string", filter));
    test = args.positional[next].as_string();
  }
  const std::vector<Value> test_args(args.positional.begin() + static_cast<std::ptrdiff_t>(std::min(next + 1, args.positional.size())),
                                     args.positional.end());
  std::vector<Value> kept;
  for (const Value& item : operand.items()) {
    bool result = false;
    if (by_attribute) {
      if (!item.is_object()) throw TemplateError(fmt::format("{} needs a list of dicts", filter));
      const Value* value = item.object_data().find(attribute);
      if (value != nullptr) result = test.empty() ? value->truthy() : run_test(test, *value, test_args);
    } else {
      result = test.empty() ? item.truthy() : run_test(test, item, test_args);
    }
    if (result == keep_matches) kept.push_back(item);
  }
  return Value::array(std::move(kept));
}

Value map_items(const Value& operand, const CallArgs& args) {
  const Value* attribute = args.keyword("attribute");
  if (attribute == nullptr) throw TemplateError("map is supported with attribute= only");
  if (!attribute->is_string()) throw TemplateError("map: 'attribute' must be a string");
  const Value* fallback = args.keyword("default");
  std::vector<Value> mapped;
  for (const Value& item : operand.items()) {
    if (!item.is_object()) throw TemplateError("map(attribute=...) needs a list of dicts");
    Value value = attribute_path(item, attribute->as_string());
    mapped.push_back(value.is_undefined() && fallback != nullptr ? *fallback : value);
  }
  return Value::array(std::move(mapped));
}

Value tojson_with(const Value& operand, const CallArgs& args) {
  // Keyword arguments only, as in the reference.
  JsonOptions options;
  if (const Value* indent = args.keyword("indent"); indent != nullptr && !indent->is_none()) {
    if (!indent->is_int() || indent->as_int() < 0 || indent->as_int() > 64) {
      throw TemplateError("tojson: indent must be a small non-negative integer");
    }
    options.indent = indent->as_int();
  }
  if (const Value* v = args.keyword("ensure_ascii")) {
    if (!v->is_bool()) throw TemplateError("tojson: ensure_ascii must be a boolean");
    options.ensure_ascii = v->as_bool();
  }
  if (const Value* v = args.keyword("sort_keys")) {
    if (!v->is_bool()) throw TemplateError("tojson: sort_keys must be a boolean");
    options.sort_keys = v->as_bool();
  }
  if (const Value* v = args.keyword("separators"); v != nullptr && !v->is_none()) {
    if (!v->is_array() || v->items().size() != 2 || !v->items()[0].is_string() || !v->items()[1].is_string()) {
      throw TemplateError("tojson: separators must be a pair of strings");
    }
    options.has_separators = true;
    options.item_separator = v->items()[0].as_string();
    options.key_separator = v->items()[1].as_string();
  }
  return Value::string(to_json_text(operand, options));
}

Value round_number(const Value& operand, const CallArgs& args) {
  const Value* precision = args.positional.empty() ? args.keyword("precision") : &args.positional[0];
  const Value* method = args.positional.size() > 1 ? &args.positional[1] : args.keyword("method");
  const int64_t digits = precision != nullptr && precision->is_int() ? precision->as_int() : 0;
  const std::string how = method != nullptr && method->is_string() ? method->as_string() : "common";
  const double scale = std::pow(10.0, static_cast<double>(digits));
  const double v = operand.as_double() * scale;
  double rounded = 0;
  if (how == "common") {
    rounded = std::round(v);
  } else if (how == "floor") {
    rounded = std::floor(v);
  } else if (how == "ceil") {
    rounded = std::ceil(v);
  } else {
    throw TemplateError("round: method must be 'common', 'floor' or 'ceil'");
  }
  return Value::number(rounded / scale);
}

// Filters written without arguments.
Value plain_filter(const std::string& name, const Value& operand) {
  if (name == "safe") return operand;
  if (name == "tojson") return Value::string(to_json_text(operand, JsonOptions{}));
  if (name == "default" || name == "d") return operand.is_undefined() ? Value::string("") : operand;  // Jinja2
  if (operand.is_array()) {
    const std::vector<Value>& items = operand.items();
    if (name == "list") return operand;
    if (name == "first") return items.empty() ? Value() : items.front();
    if (name == "last") return items.empty() ? Value() : items.back();
    if (name == "length" || name == "count") return Value::integer(static_cast<int64_t>(items.size()));
    if (name == "reverse") return Value::array(std::vector<Value>(items.rbegin(), items.rend()));
    if (name == "sort") return sort_array(operand, CallArgs{});
    if (name == "join") return Value::string(join_values(items, ""));
    if (name == "string") {
      JsonOptions options;
      options.undefined_as_null = false;
      return Value::string(to_json_text(operand, options));
    }
    if (name == "unique") {
      std::vector<Value> unique;
      for (const Value& item : items) {
        bool seen = false;
        for (const Value& kept : unique) seen = seen || strict_equals(kept, item);
        if (!seen) unique.push_back(item);
      }
      return Value::array(std::move(unique));
    }
    if (name == "select" || name == "reject") return select_items(name, operand, CallArgs{});  // Jinja2
    unsupported(name, operand);
  }
  if (operand.is_string()) {
    const std::string& text = operand.as_string();
    if (name == "length" || name == "count") return Value::integer(static_cast<int64_t>(utf16_length(text)));
    if (name == "upper") return Value::string(to_upper(text));
    if (name == "lower") return Value::string(to_lower(text));
    if (name == "title") return Value::string(js_title_case(text));
    if (name == "capitalize") return Value::string(js_capitalize(text));
    if (name == "trim") return Value::string(std::string(trim(text)));
    if (name == "indent") return Value::string(indent_text(text, 4, false, false));
    if (name == "join" || name == "string") return operand;
    if (name == "int") return to_int(operand, Value::integer(0));
    if (name == "float") return to_float(operand, Value::number(0));
    if (name == "escape" || name == "e") return Value::string(html_escape(text));  // Jinja2
    std::vector<std::string> chars = code_points(text);  // Jinja2: strings as character lists
    if (name == "list") {
      std::vector<Value> items;
      for (std::string& ch : chars) items.push_back(Value::string(std::move(ch)));
      return Value::array(std::move(items));
    }
    if (name == "first") return chars.empty() ? Value() : Value::string(chars.front());
    if (name == "last") return chars.empty() ? Value() : Value::string(chars.back());
    if (name == "reverse") {
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
      return Value::string(std::move(out));
    }
    unsupported(name, operand);
  }
  if (operand.is_number()) {
    if (name == "abs") {
      if (operand.is_int()) return operand.as_int() == INT64_MIN ? Value::number(9.223372036854775808e18) : Value::integer(std::abs(operand.as_int()));
      return Value::number(std::fabs(operand.as_double()));
    }
    if (name == "int") {
      if (operand.is_int()) return operand;
      const double v = std::floor(operand.as_double());  // the reference floors
      return std::fabs(v) < 9.2e18 ? Value::integer(static_cast<int64_t>(v)) : Value::number(v);
    }
    if (name == "float") return Value::number(operand.as_double());
    if (name == "string") return Value::string(to_output(operand));
    if (name == "round") return round_number(operand, CallArgs{});  // Jinja2
    unsupported(name, operand);
  }
  if (operand.is_bool()) {
    if (name == "bool") return operand;
    if (name == "int") return Value::integer(operand.as_bool() ? 1 : 0);
    if (name == "float") return Value::number(operand.as_bool() ? 1 : 0);
    if (name == "string") return Value::string(operand.as_bool() ? "true" : "false");
  }
  unsupported(name, operand);
}

}  // namespace

Value apply_filter(Interpreter& interpreter, const Value& operand, const Node& filter, const EnvironmentPtr& env) {
  if (filter.kind == NodeKind::Identifier) {
    if (operand.is_dict()) {
      if (filter.name == "length" || filter.name == "count") {
        return Value::integer(static_cast<int64_t>(operand.object_data().entries.size()));
      }
      const Value method = member_builtin(operand, filter.name);
      if (method.is_function()) return method.function_ref()(CallArgs{}, interpreter, env);
    }
    return plain_filter(filter.name, operand);
  }
  if (filter.kind != NodeKind::Call || filter.args[0]->kind != NodeKind::Identifier) {
    throw TemplateError("expected a filter name");
  }
  const std::string& name = filter.args[0]->name;
  const CallArgs args = interpreter.evaluate_arguments(filter.params, env);
  if (name == "tojson") return tojson_with(operand, args);
  if (name == "join") {
    const Value* sep = args.positional.empty() ? args.keyword("separator") : &args.positional[0];
    if (sep != nullptr && !sep->is_string()) throw TemplateError("join: the separator must be a string");
    const std::string separator = sep != nullptr ? sep->as_string() : "";
    if (operand.is_string()) {
      std::vector<Value> chars;
      for (std::string& ch : code_points(operand.as_string())) chars.push_back(Value::string(std::move(ch)));
      return Value::string(join_values(chars, separator));
    }
    if (operand.is_array()) return Value::string(join_values(operand.items(), separator));
    unsupported(name, operand);
  }
  if (name == "int" || name == "float") {
    const Value* given = args.positional.empty() ? args.keyword("default") : &args.positional[0];
    const Value fallback = given != nullptr ? *given : (name == "int" ? Value::integer(0) : Value::number(0));
    return name == "int" ? to_int(operand, fallback) : to_float(operand, fallback);
  }
  if (name == "default" || name == "d") {
    const Value fallback = args.positional.empty() ? Value::string("") : args.positional[0];
    const Value* boolean = args.positional.size() > 1 ? &args.positional[1] : args.keyword("boolean");
    if (boolean != nullptr && !boolean->is_bool()) throw TemplateError("default: 'boolean' must be a boolean");
    const bool use_falsy = boolean != nullptr && boolean->as_bool();
    return operand.is_undefined() || (use_falsy && !operand.truthy()) ? fallback : operand;
  }
  if (operand.is_array()) {
    if (name == "sort") return sort_array(operand, args);
    if (name == "selectattr" || name == "rejectattr" || name == "select" || name == "reject") {
      return select_items(name, operand, args);
    }
    if (name == "map") return map_items(operand, args);
    unsupported(name, operand);
  }
  if (operand.is_string()) {
    if (name == "indent") {
      const Value* width = args.positional.empty() ? args.keyword("width") : &args.positional[0];
      if (width != nullptr && !width->is_int()) throw TemplateError("indent: width must be an integer");
      const Value* first = args.positional.size() > 1 ? &args.positional[1] : args.keyword("first");
      const Value* blank = args.positional.size() > 2 ? &args.positional[2] : args.keyword("blank");
      return Value::string(indent_text(operand.as_string(), width != nullptr ? width->as_int() : 4,
                                       first != nullptr && first->truthy(), blank != nullptr && blank->truthy()));
    }
    if (name == "replace") return member_builtin(operand, "replace").function_ref()(args, interpreter, env);
    unsupported(name, operand);
  }
  if (operand.is_number() && name == "round") return round_number(operand, args);
  if (operand.is_dict()) {
    const Value method = member_builtin(operand, name);
    if (method.is_function()) return method.function_ref()(args, interpreter, env);
  }
  unsupported(name, operand);
}

}  // namespace pocketllm::jinja
