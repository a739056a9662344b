#pragma once
// GGUF (versions 2 and 3) reader: metadata, tensor infos and zero-copy tensor
// views over a memory-mapped file. Everything read from the file is checked
// against the file size before it is used or allocated.
//
// File layout (little-endian):
//   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv x (string key | u32 value_type | value)
//   n_tensors x (string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset)
//   padding to `general.alignment` (default 32) | tensor data
// string = u64 length + bytes (no NUL); array = u32 elem_type + u64 count + elems.
// Version 1 (u32 counts and lengths) is refused as unsupported.
//
// Checks beyond the layout (each an InputError): `general.alignment` is a
// UINT32 power of two; bools are 0 or 1; arrays nest at most 8 levels and
// hold at most 2^24 elements per file in all (a parsed element costs ~90
// bytes of memory); keys and tensor names are unique; n_dims <= 4 and the
// element count fits int64; ne[0] is a whole number of the type's blocks;
// tensor offsets are multiples of the alignment; tensor data lies inside
// the file and no two tensors share a byte. Lookups by key and by tensor
// name are hash-map lookups.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "formats/ggml_types.h"
#include "util/mapped_file.h"

namespace pocketllm {

enum class GgufValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5,
  FLOAT32 = 6, BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11,
  FLOAT64 = 12,
};
std::string_view gguf_value_type_name(GgufValueType type);

// One metadata value. Strings are views into the mapped file (valid while the
// GgufFile lives). Arrays hold their elements; an array of arrays nests.
class GgufValue {
 public:
  GgufValueType type() const { return type_; }
  bool is_integer() const;   // any of the 8 integer types
  bool is_number() const;    // integer or float

  // Typed access; nullopt when the value is not of a compatible kind or is
  // out of the target's range (e.g. a negative INT32 asked as unsigned).
  std::optional<uint64_t> as_uint() const;
  std::optional<int64_t> as_int() const;
  std::optional<double> as_float() const;   // any number
  std::optional<bool> as_bool() const;
  std::optional<std::string_view> as_string() const;

  // Arrays (ARRAY only; empty otherwise).
  GgufValueType array_type() const { return array_type_; }
  const std::vector<GgufValue>& array() const { return items_; }

  // Value builders (used by the reader and by GgufWriter users).
  static GgufValue make_uint(GgufValueType type, uint64_t v);
  static GgufValue make_int(GgufValueType type, int64_t v);
  static GgufValue make_float(GgufValueType type, double v);
  static GgufValue make_bool(bool v);
  // Strings given to make_string are owned by the value.
  static GgufValue make_string(std::string v);
  static GgufValue make_string_view(std::string_view v);  // not owned
  static GgufValue make_array(GgufValueType elem_type, std::vector<GgufValue> items);

 private:
  GgufValueType type_ = GgufValueType::UINT8;
  GgufValueType array_type_ = GgufValueType::UINT8;
  uint64_t u_ = 0;  // unsigned ints and bool
  int64_t i_ = 0;   // signed ints
  double f_ = 0;    // floats
  std::string_view str_;
  std::shared_ptr<const std::string> owned_str_;
  std::vector<GgufValue> items_;

  friend struct GgufValueParser;  // the reader fills values in place
};

struct GgufKeyValue {
  std::string_view key;  // view into the file
  GgufValue value;
};

struct GgufTensorInfo {
  std::string_view name;       // view into the file
  std::vector<uint64_t> ne;    // ggml order: ne[0] is the contiguous dimension
  GgmlType type;
  uint64_t offset;             // relative to data_offset(), as in the file
  uint64_t n_elements;
  uint64_t n_bytes;
};

class GgufFile {
 public:
  // Maps and parses `path`. Throws InputError "PATH: offset N: problem" or
  // "PATH: key 'K': problem" / "PATH: tensor 'T': problem".
  static GgufFile open(const std::string& path);
  // Parses bytes already in memory (embedded model, fuzzer); not copied.
  static GgufFile from_memory(std::span<const uint8_t> bytes, std::string name);

  const std::string& name() const { return file_.name(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return file_.size(); }
  // Whether the tensors are views of a file mapping (not of borrowed bytes).
  bool is_file_mapping() const { return file_.is_file_mapping(); }

  const std::vector<GgufKeyValue>& metadata() const { return metadata_; }
  const GgufValue* find(std::string_view key) const;

  // Scalar getters: nullopt when the key is absent; throw InputError naming
  // the key when it is present with an incompatible type or range.
  std::optional<uint64_t> get_uint(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  std::optional<std::string_view> get_string(std::string_view key) const;
  // Array getters with the same rules (elements converted one by one).
  std::optional<std::vector<int64_t>> get_int_array(std::string_view key) const;
  std::optional<std::vector<double>> get_float_array(std::string_view key) const;
  std::optional<std::vector<std::string_view>> get_string_array(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  // The tensor's bytes inside the mapping (zero copy).
  std::span<const uint8_t> tensor_data(const GgufTensorInfo& tensor) const;

 private:
  explicit GgufFile(MappedFile file);
  void parse();

  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<GgufKeyValue> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  // Name -> index into metadata_ / tensors_ (keys view the file's bytes).
  std::unordered_map<std::string_view, size_t> key_index_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace pocketllm
