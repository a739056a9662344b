#include "tokenizer/jinja_builtins.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "tokenizer/jinja_text.h"

namespace pocketllm::jinja {
namespace {

// range() builds at most this many numbers (a guard, far above real use).
constexpr int64_t kMaxRange = 1'000'000;

Value make_function(NativeFunction fn) { return Value::function(std::move(fn)); }

const Value* arg_or_keyword(const CallArgs& args, size_t index, std::string_view keyword) {
  if (index < args.positional.size()) return &args.positional[index];
  return args.keyword(keyword);
}

bool bool_arg(const CallArgs& args, size_t index, std::string_view keyword, bool fallback) {
  const Value* value = arg_or_keyword(args, index, keyword);
  if (value == nullptr) return fallback;
  if (!value->is_bool()) throw TemplateError(fmt::format("'{}' must be a boolean", keyword));
  return value->as_bool();
}

std::string strftime_js(std::string_view format) {
  static const char* kMonths[] = {"January", "February", "March", "April", "May", "June", "July",
                                  "August", "September", "October", "November", "December"};
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  const auto pad2 = [](int n) { return fmt::format("{:02}", n); };
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 >= format.size()) {
      out += format[i];
      continue;
    }
    const char code = format[i + 1];
    switch (code) {
      case 'Y': out += std::to_string(local.tm_year + 1900); break;
      case 'm': out += pad2(local.tm_mon + 1); break;
      case 'd': out += pad2(local.tm_mday); break;
      case 'b': out += std::string(kMonths[local.tm_mon]).substr(0, 3); break;
      case 'B': out += kMonths[local.tm_mon]; break;
      case 'H': out += pad2(local.tm_hour); break;
      case 'M': out += pad2(local.tm_min); break;
      case '%': out += '%'; break;
      default: out += format.substr(i, 2); break;
    }
    ++i;
  }
  return out;
}

// String.prototype.replace with a count, as the reference's replace().
std::string replace_text(const std::string& text, const std::string& from, const std::string& to, int64_t count) {
  if (count == 0) return text;
  int64_t remaining = count < 0 ? INT64_MAX : count;
  std::string out;
  if (from.empty()) {  // inserted at every code point boundary, ends included
    const std::vector<std::string> chars = code_points(text);
    for (size_t i = 0; i <= chars.size(); ++i) {
      if (remaining > 0) {
        out += to;
        --remaining;
      }
      if (i < chars.size()) out += chars[i];
    }
    return out;
  }
  size_t pos = 0;
  while (remaining > 0) {
    const size_t found = text.find(from, pos);
    if (found == std::string::npos) break;
    out.append(text, pos, found - pos);
    out += to;
    pos = found + from.size();
    --remaining;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

Value split_string(const std::string& text, const CallArgs& args) {
  const Value* sep = arg_or_keyword(args, 0, "sep");
  const Value* maxsplit_value = arg_or_keyword(args, 1, "maxsplit");
  if (sep != nullptr && !sep->is_string() && !sep->is_none()) throw TemplateError("split(): sep must be a string or none");
  if (maxsplit_value != nullptr && !maxsplit_value->is_int()) throw TemplateError("split(): maxsplit must be an integer");
  const int64_t maxsplit = maxsplit_value != nullptr ? maxsplit_value->as_int() : -1;
  std::vector<Value> parts;
  if (sep == nullptr || sep->is_none()) {
    const std::string_view rest = trim_start(text);
    size_t pos = 0;
    while (pos < rest.size()) {
      size_t end = pos;
      while (end < rest.size() && space_at(rest, end) == 0) ++end;
      if (maxsplit != -1 && static_cast<int64_t>(parts.size()) >= maxsplit) {
        parts.push_back(Value::string(std::string(rest.substr(pos))));
        break;
      }
      parts.push_back(Value::string(std::string(rest.substr(pos, end - pos))));
      pos = end;
      while (size_t len = space_at(rest, pos)) pos += len;
    }
    return Value::array(std::move(parts));
  }
  const std::string& separator = sep->as_string();
  if (separator.empty()) throw TemplateError("split(): empty separator");
  size_t pos = 0;
  for (;;) {
    const size_t found = text.find(separator, pos);
    if (found == std::string::npos || (maxsplit != -1 && static_cast<int64_t>(parts.size()) >= maxsplit)) {
      parts.push_back(Value::string(text.substr(pos)));
      break;
    }
    parts.push_back(Value::string(text.substr(pos, found - pos)));
    pos = found + separator.size();
  }
  return Value::array(std::move(parts));
}

Value affix_test(const std::string& text, const CallArgs& args, bool prefix) {
  const char* name = prefix ? "startswith" : "endswith";
  if (args.positional.empty()) throw TemplateError(fmt::format("{}() needs an argument", name));
  const auto matches = [&](const std::string& affix) {
    if (affix.size() > text.size()) return false;
    return prefix ? text.compare(0, affix.size(), affix) == 0
                  : text.compare(text.size() - affix.size(), affix.size(), affix) == 0;
  };
  const Value& pattern = args.positional[0];
  if (pattern.is_string()) return Value::boolean(matches(pattern.as_string()));
  if (pattern.is_array()) {
    for (const Value& item : pattern.items()) {
      if (!item.is_string()) throw TemplateError(fmt::format("{}() tuple elements must be strings", name));
      if (matches(item.as_string())) return Value::boolean(true);
    }
    return Value::boolean(false);
  }
  throw TemplateError(fmt::format("{}() needs a string or a tuple of strings", name));
}

Value string_method(const Value& self, std::string_view name) {
  const std::string text = self.as_string();
  const auto bind = [&](auto body) {
    return make_function([text, body](const CallArgs& args, Interpreter&, const EnvironmentPtr&) { return body(text, args); });
  };
  if (name == "length") return Value::integer(static_cast<int64_t>(utf16_length(text)));
  if (name == "upper") return bind([](const std::string& t, const CallArgs&) { return Value::string(to_upper(t)); });
  if (name == "lower") return bind([](const std::string& t, const CallArgs&) { return Value::string(to_lower(t)); });
  if (name == "title") return bind([](const std::string& t, const CallArgs&) { return Value::string(js_title_case(t)); });
  if (name == "capitalize") {
    return bind([](const std::string& t, const CallArgs&) { return Value::string(js_capitalize(t)); });
  }
  // The reference ignores strip()'s argument and strips all whitespace.
  if (name == "strip") return bind([](const std::string& t, const CallArgs&) { return Value::string(std::string(trim(t))); });
  if (name == "lstrip") {
    return bind([](const std::string& t, const CallArgs&) { return Value::string(std::string(trim_start(t))); });
  }
  if (name == "rstrip") {
    return bind([](const std::string& t, const CallArgs&) { return Value::string(std::string(trim_end(t))); });
  }
  if (name == "startswith") return bind([](const std::string& t, const CallArgs& a) { return affix_test(t, a, true); });
  if (name == "endswith") return bind([](const std::string& t, const CallArgs& a) { return affix_test(t, a, false); });
  if (name == "split") return bind([](const std::string& t, const CallArgs& a) { return split_string(t, a); });
  if (name == "replace") {
    return bind([](const std::string& t, const CallArgs& a) {
      if (a.positional.size() < 2) throw TemplateError("replace() needs two arguments");
      if (!a.positional[0].is_string() || !a.positional[1].is_string()) throw TemplateError("replace() arguments must be strings");
      const Value* count = arg_or_keyword(a, 2, "count");
      if (count != nullptr && !count->is_int() && !count->is_none()) throw TemplateError("replace() count must be an integer");
      const int64_t n = count != nullptr && count->is_int() ? count->as_int() : -1;
      return Value::string(replace_text(t, a.positional[0].as_string(), a.positional[1].as_string(), n));
    });
  }
  return Value();
}

Value dict_items(const Value& self) {
  std::vector<Value> items;
  for (const auto& [key, value] : self.object_data().entries) items.push_back(Value::array({Value::string(key), value}));
  return Value::array(std::move(items));
}

Value dict_method(const Value& self, std::string_view name) {
  const auto bind = [&](auto body) {
    return make_function([self, body](const CallArgs& args, Interpreter&, const EnvironmentPtr&) { return body(self, args); });
  };
  if (name == "get") {
    return bind([](const Value& d, const CallArgs& a) {
      if (a.positional.empty() || !a.positional[0].is_string()) throw TemplateError("get() needs a string key");
      if (const Value* found = d.object_data().find(a.positional[0].as_string())) return *found;
      const Value* fallback = arg_or_keyword(a, 1, "default");
      return fallback != nullptr ? *fallback : Value::none();
    });
  }
  if (name == "items") return bind([](const Value& d, const CallArgs&) { return dict_items(d); });
  if (name == "keys") {
    return bind([](const Value& d, const CallArgs&) {
      std::vector<Value> keys;
      for (const auto& entry : d.object_data().entries) keys.push_back(Value::string(entry.first));
      return Value::array(std::move(keys));
    });
  }
  if (name == "values") {
    return bind([](const Value& d, const CallArgs&) {
      std::vector<Value> values;
      for (const auto& entry : d.object_data().entries) values.push_back(entry.second);
      return Value::array(std::move(values));
    });
  }
  if (name == "dictsort") {
    return bind([](const Value& d, const CallArgs& a) {
      const bool case_sensitive = bool_arg(a, 0, "case_sensitive", false);
      const Value* by = arg_or_keyword(a, 1, "by");
      const std::string by_name = by != nullptr && by->is_string() ? by->as_string() : "key";
      if (by != nullptr && !by->is_string()) throw TemplateError("dictsort: 'by' must be a string");
      if (by_name != "key" && by_name != "value") throw TemplateError("dictsort: 'by' must be 'key' or 'value'");
      const bool reverse = bool_arg(a, 2, "reverse", false);
      std::vector<Value> items = dict_items(d).items();
      const size_t index = by_name == "key" ? 0 : 1;
      std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        const int c = compare_values(x.items()[index], y.items()[index], case_sensitive);
        return reverse ? c > 0 : c < 0;
      });
      return Value::array(std::move(items));
    });
  }
  return Value();
}

}  // namespace

bool strict_equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.as_double() == b.as_double();
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return true;
    case Value::Kind::Bool: return a.as_bool() == b.as_bool();
    case Value::Kind::String: return a.as_string() == b.as_string();
    default: return a.same_reference(b);
  }
}

bool loose_equals(const Value& a, const Value& b) {
  const bool a_nullish = a.is_none() || a.is_undefined();
  const bool b_nullish = b.is_none() || b.is_undefined();
  if (a_nullish || b_nullish) return a_nullish && b_nullish;
  if (a.is_bool()) return loose_equals(Value::integer(a.as_bool() ? 1 : 0), b);
  if (b.is_bool()) return loose_equals(a, Value::integer(b.as_bool() ? 1 : 0));
  const bool a_container = a.is_array() || a.is_object() || a.is_function();
  const bool b_container = b.is_array() || b.is_object() || b.is_function();
  if (a_container && b_container) return a.same_reference(b);
  if (a.is_function() || b.is_function()) return false;
  if (a_container) return loose_equals(Value::string(to_js_string(a)), b);
  if (b_container) return loose_equals(a, Value::string(to_js_string(b)));
  if (a.is_string() && b.is_string()) return a.as_string() == b.as_string();
  const double x = a.is_string() ? js_string_to_number(a.as_string()) : a.as_double();
  const double y = b.is_string() ? js_string_to_number(b.as_string()) : b.as_double();
  return x == y;
}

int compare_values(const Value& a, const Value& b, bool case_sensitive) {
  if (a.is_none() && b.is_none()) return 0;
  if (a.is_undefined() && b.is_undefined()) return 0;
  if (a.is_none() || b.is_none() || a.is_undefined() || b.is_undefined()) {
    throw TemplateError(fmt::format("cannot compare a {} with a {}", a.type_name(), b.type_name()));
  }
  const auto numeric_like = [](const Value& v) { return v.is_number() || v.is_bool(); };
  if (numeric_like(a) && numeric_like(b)) {
    const double x = a.is_bool() ? (a.as_bool() ? 1 : 0) : a.as_double();
    const double y = b.is_bool() ? (b.as_bool() ? 1 : 0) : b.as_double();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    const std::string x = case_sensitive ? a.as_string() : to_lower(a.as_string());
    const std::string y = case_sensitive ? b.as_string() : to_lower(b.as_string());
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  throw TemplateError(fmt::format("cannot compare a {} with a {}", a.type_name(), b.type_name()));
}

void install_globals(Environment& env) {
  env.set("false", Value::boolean(false));
  env.set("true", Value::boolean(true));
  env.set("none", Value::none());
  env.set("False", Value::boolean(false));
  env.set("True", Value::boolean(true));
  env.set("None", Value::none());
  env.set("raise_exception", make_function([](const CallArgs& args, Interpreter&, const EnvironmentPtr&) -> Value {
            throw TemplateError("raise_exception: " + to_js_string(Value::array(args.positional)));
          }));
  env.set("range", make_function([](const CallArgs& args, Interpreter&, const EnvironmentPtr&) {
            std::vector<int64_t> bounds;
            for (const Value& v : args.positional) {
              if (!v.is_int()) throw TemplateError(fmt::format("range() needs integers, not a {}", v.type_name()));
              bounds.push_back(v.as_int());
            }
            if (bounds.empty() || bounds.size() > 3) throw TemplateError("range() takes 1 to 3 integers");
            const int64_t start = bounds.size() == 1 ? 0 : bounds[0];
            const int64_t stop = bounds.size() == 1 ? bounds[0] : bounds[1];
            const int64_t step = bounds.size() == 3 ? bounds[2] : 1;
            if (step == 0) throw TemplateError("range() step must not be zero");
            const double span = (static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step);
            if (span > static_cast<double>(kMaxRange)) throw TemplateError("range() is too long");
            std::vector<Value> items;
            for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) items.push_back(Value::integer(i));
            return Value::array(std::move(items));
          }));
  env.set("strftime_now", make_function([](const CallArgs& args, Interpreter&, const EnvironmentPtr&) {
            if (args.positional.empty() || !args.positional[0].is_string()) {
              throw TemplateError("strftime_now() needs a format string");
            }
            return Value::string(strftime_js(args.positional[0].as_string()));
          }));
  env.set("namespace", make_function([](const CallArgs& args, Interpreter&, const EnvironmentPtr&) {
            if (args.positional.size() > 1) throw TemplateError("namespace() takes at most 1 positional argument");
            Value ns = Value::object(ObjectKind::Namespace);
            if (args.positional.size() == 1) {
              const Value& init = args.positional[0];
              if (init.is_dict()) {
                for (const auto& [key, value] : init.object_data().entries) ns.object_data().set(key, value);
              } else if (init.is_array()) {
                for (const Value& pair : init.items()) {
                  if (!pair.is_array() || pair.items().size() != 2 || !pair.items()[0].is_string()) {
                    throw TemplateError("namespace() expects a dict or a list of [name, value] pairs");
                  }
                  ns.object_data().set(pair.items()[0].as_string(), pair.items()[1]);
                }
              } else {
                throw TemplateError(fmt::format("namespace() cannot start from a {}", init.type_name()));
              }
            }
            for (const auto& [key, value] : args.keywords) ns.object_data().set(key, value);
            return ns;
          }));
}

bool run_test(std::string_view name, const Value& operand, const std::vector<Value>& args) {
  const auto need_arg = [&]() -> const Value& {
    if (args.empty()) throw TemplateError(fmt::format("test '{}' needs an argument", name));
    return args[0];
  };
  if (name == "defined") return !operand.is_undefined();
  if (name == "undefined") return operand.is_undefined();
  if (name == "none") return operand.is_none();
  if (name == "boolean") return operand.is_bool();
  if (name == "true") return operand.is_bool() && operand.as_bool();
  if (name == "false") return operand.is_bool() && !operand.as_bool();
  if (name == "string") return operand.is_string();
  if (name == "number") return operand.is_number();
  if (name == "integer") return operand.is_int();
  if (name == "float") return operand.is_float();
  if (name == "callable") return operand.is_function();
  if (name == "mapping") return operand.is_dict();
  if (name == "iterable") return (operand.is_array() && !operand.array_data().is_tuple) || operand.is_string();
  if (name == "sequence") return operand.is_array() || operand.is_dict() || operand.is_string();
  if (name == "lower") return operand.is_string() && operand.as_string() == to_lower(operand.as_string());
  if (name == "upper") return operand.is_string() && operand.as_string() == to_upper(operand.as_string());
  if (name == "odd" || name == "even") {
    if (!operand.is_int()) throw TemplateError(fmt::format("test '{}' needs an integer, not a {}", name, operand.type_name()));
    return (operand.as_int() % 2 != 0) == (name == "odd");
  }
  if (name == "eq" || name == "equalto" || name == "==") return strict_equals(operand, need_arg());
  if (name == "ne" || name == "!=") return !strict_equals(operand, need_arg());
  if (name == "sameas") return strict_equals(operand, need_arg());
  if (name == "divisibleby") {
    const Value& divisor = need_arg();
    if (!operand.is_int() || !divisor.is_int() || divisor.as_int() == 0) {
      throw TemplateError("test 'divisibleby' needs integers and a non-zero divisor");
    }
    return operand.as_int() % divisor.as_int() == 0;
  }
  if (name == "in") {
    const Value& container = need_arg();
    if (container.is_array()) {
      for (const Value& item : container.items()) {
        if (strict_equals(item, operand)) return true;
      }
      return false;
    }
    if (container.is_string() && operand.is_string()) return container.as_string().find(operand.as_string()) != std::string::npos;
    if (container.is_dict() && operand.is_string()) return container.object_data().find(operand.as_string()) != nullptr;
    throw TemplateError(fmt::format("test 'in' cannot look in a {}", container.type_name()));
  }
  throw TemplateError(fmt::format("unknown test '{}'", name));
}

Value member_builtin(const Value& object, std::string_view name) {
  if (object.is_string()) return string_method(object, name);
  if (object.is_array()) {
    if (name == "length") return Value::integer(static_cast<int64_t>(object.items().size()));
    if (name == "append") {  // Python's list.append (the reference lacks it)
      return make_function([object](const CallArgs& args, Interpreter&, const EnvironmentPtr&) {
        if (args.positional.size() != 1) throw TemplateError("append() takes exactly one argument");
        object.array_data().items.push_back(args.positional[0]);
        return Value::none();
      });
    }
    return Value();
  }
  if (object.is_dict()) return dict_method(object, name);
  return Value();
}

}  // namespace pocketllm::jinja
