#pragma once
// The values a chat template computes with, modelled on @huggingface/jinja's
// runtime values (the reference renderer): undefined, none, booleans,
// integers, floats, UTF-8 strings, arrays (lists and tuples), objects
// (dicts, namespaces, keyword-argument bundles) and functions.
//
// Layout: a kind tag plus one payload. Strings are immutable and shared
// between copies. Arrays, objects and functions are shared by reference, as in JavaScript and Python: `ns.x = 1` through one
// copy is seen by every copy, and `==` on them compares identity.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace pocketllm::jinja {

class Value;
class Interpreter;
struct Environment;
using EnvironmentPtr = std::shared_ptr<Environment>;

// Arguments of a call: positional values, then keyword arguments in order.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keywords;
  const Value* keyword(std::string_view name) const;
};

// A callable: builtins and macros. `env` is the caller's environment (macros
// resolve free names there, as the reference renderer does).
using NativeFunction = std::function<Value(const CallArgs& args, Interpreter& interpreter, const EnvironmentPtr& env)>;

enum class ObjectKind : uint8_t { Dict, Namespace, KeywordArgs };

// An ordered string-keyed map (insertion order, like a JS Map).
struct ObjectData {
  ObjectKind kind = ObjectKind::Dict;
  std::vector<std::pair<std::string, Value>> entries;
  const Value* find(std::string_view key) const;
  void set(std::string key, Value value);
};

struct ArrayData {
  std::vector<Value> items;
  bool is_tuple = false;
};

class Value {
 public:
  enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, Array, Object, Function };

  Value() = default;  // undefined
  static Value none();
  static Value boolean(bool v);
  static Value integer(int64_t v);
  static Value number(double v);  // a float value
  static Value string(std::string v);
  static Value array(std::vector<Value> items, bool is_tuple = false);
  static Value object(ObjectKind kind = ObjectKind::Dict,
                      std::vector<std::pair<std::string, Value>> entries = {});
  static Value function(NativeFunction fn);
  // JSON as JSON.parse + the renderer's conversion gives it: integral numbers
  // become integers, object keys keep file order except that array-index keys
  // ("0", "1", ...) come first in ascending order, as in JS objects.
  static Value from_json(const nlohmann::ordered_json& json);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_array() const { return kind_ == Kind::Array; }
  bool is_object() const { return kind_ == Kind::Object; }
  bool is_dict() const { return is_object() && object_->kind != ObjectKind::Namespace; }
  bool is_namespace() const { return is_object() && object_->kind == ObjectKind::Namespace; }
  bool is_function() const { return kind_ == Kind::Function; }

  bool as_bool() const { return bool_; }
  int64_t as_int() const { return int_; }
  double as_double() const { return kind_ == Kind::Int ? static_cast<double>(int_) : float_; }
  const std::string& as_string() const { return string_ ? *string_ : empty_string(); }
  ArrayData& array_data() const { return *array_; }
  const std::vector<Value>& items() const { return array_->items; }
  ObjectData& object_data() const { return *object_; }
  const NativeFunction& function_ref() const { return *function_; }

  // Python/JS truthiness: empty strings, arrays and dicts are false;
  // namespaces and functions are always true.
  bool truthy() const;
  // Same payload object (arrays, objects, functions).
  bool same_reference(const Value& other) const;
  // A short name for messages: "undefined", "none", "string", "list", ...
  std::string_view type_name() const;

 private:
  static const std::string& empty_string();

  Kind kind_ = Kind::Undefined;
  bool bool_ = false;
  int64_t int_ = 0;
  double float_ = 0;
  std::shared_ptr<const std::string> string_;  // shared: values are copied freely
  std::shared_ptr<ArrayData> array_;
  std::shared_ptr<ObjectData> object_;
  std::shared_ptr<NativeFunction> function_;
};

// Text that `{{ value }}` writes: none and undefined write nothing, booleans
// "true"/"false", floats keep ".0", arrays and objects as JSON with ", " and
// ": " separators (undefined inside them as `undefined`).
std::string to_output(const Value& value);
// JavaScript's String(value.value), used by `~` and string `+`: floats
// without ".0", arrays joined by ",".
std::string to_js_string(const Value& value);

// `tojson` (Python json.dumps layout as the reference renderer writes it):
// indent (0 or absent: one line), separators (item, key), ensure_ascii
// (\uXXXX for every UTF-16 unit >= 0x7F), sort_keys. Undefined writes
// `null` when undefined_as_null, else `undefined`. Functions are an error
// (TemplateError).
struct JsonOptions {
  int64_t indent = 0;
  bool has_separators = false;
  std::string item_separator;
  std::string key_separator;
  bool ensure_ascii = false;
  bool sort_keys = false;
  bool undefined_as_null = true;
};
std::string to_json_text(const Value& value, const JsonOptions& options, int depth = 0);
// JSON.stringify of one string.
std::string json_quote(std::string_view s, bool ensure_ascii);

// An error while rendering, before it is given its template position.
class TemplateError : public std::runtime_error {
 public:
  explicit TemplateError(const std::string& message, bool located = false)
      : std::runtime_error(message), located_(located) {}
  bool located() const { return located_; }

 private:
  bool located_;
};

}  // namespace pocketllm::jinja
