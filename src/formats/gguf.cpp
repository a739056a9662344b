#include "formats/gguf.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "util/error.h"

namespace pocketllm {

// ---------------------------------------------------------------------------
// Value types
// ---------------------------------------------------------------------------

std::string_view gguf_value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::UINT8: return "UINT8";
    case GgufValueType::INT8: return "INT8";
    case GgufValueType::UINT16: return "UINT16";
    case GgufValueType::INT16: return "INT16";
    case GgufValueType::UINT32: return "UINT32";
    case GgufValueType::INT32: return "INT32";
    case GgufValueType::FLOAT32: return "FLOAT32";
    case GgufValueType::BOOL: return "BOOL";
    case GgufValueType::STRING: return "STRING";
    case GgufValueType::ARRAY: return "ARRAY";
    case GgufValueType::UINT64: return "UINT64";
    case GgufValueType::INT64: return "INT64";
    case GgufValueType::FLOAT64: return "FLOAT64";
  }
  return "UNKNOWN";
}

namespace {

bool is_unsigned_type(GgufValueType t) {
  return t == GgufValueType::UINT8 || t == GgufValueType::UINT16 ||
         t == GgufValueType::UINT32 || t == GgufValueType::UINT64;
}
bool is_signed_type(GgufValueType t) {
  return t == GgufValueType::INT8 || t == GgufValueType::INT16 ||
         t == GgufValueType::INT32 || t == GgufValueType::INT64;
}
bool is_float_type(GgufValueType t) {
  return t == GgufValueType::FLOAT32 || t == GgufValueType::FLOAT64;
}

uint64_t unsigned_max(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: return std::numeric_limits<uint8_t>::max();
    case GgufValueType::UINT16: return std::numeric_limits<uint16_t>::max();
    case GgufValueType::UINT32: return std::numeric_limits<uint32_t>::max();
    default: return std::numeric_limits<uint64_t>::max();
  }
}
std::pair<int64_t, int64_t> signed_range(GgufValueType t) {
  switch (t) {
    case GgufValueType::INT8: return {std::numeric_limits<int8_t>::min(), std::numeric_limits<int8_t>::max()};
    case GgufValueType::INT16: return {std::numeric_limits<int16_t>::min(), std::numeric_limits<int16_t>::max()};
    case GgufValueType::INT32: return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    default: return {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  }
}

// Bytes of one scalar of a fixed-size type; 0 for STRING/ARRAY.
uint64_t fixed_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8:
    case GgufValueType::INT8:
    case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16:
    case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32:
    case GgufValueType::INT32:
    case GgufValueType::FLOAT32: return 4;
    case GgufValueType::UINT64:
    case GgufValueType::INT64:
    case GgufValueType::FLOAT64: return 8;
    case GgufValueType::STRING:
    case GgufValueType::ARRAY: return 0;
  }
  return 0;
}

// Fewest bytes one element of type `t` can take in a file: the bound used to
// reject an element count before any memory is reserved for it.
uint64_t min_encoded_size(GgufValueType t) {
  if (t == GgufValueType::STRING) return 8;       // u64 length
  if (t == GgufValueType::ARRAY) return 4 + 8;    // u32 type + u64 count
  return fixed_size(t);
}

bool is_known_value_type(uint32_t raw) { return raw <= static_cast<uint32_t>(GgufValueType::FLOAT64); }

}  // namespace

bool GgufValue::is_integer() const { return is_unsigned_type(type_) || is_signed_type(type_); }
bool GgufValue::is_number() const { return is_integer() || is_float_type(type_); }

std::optional<uint64_t> GgufValue::as_uint() const {
  if (is_unsigned_type(type_)) return u_;
  if (is_signed_type(type_) && i_ >= 0) return static_cast<uint64_t>(i_);
  return std::nullopt;
}

std::optional<int64_t> GgufValue::as_int() const {
  if (is_signed_type(type_)) return i_;
  if (is_unsigned_type(type_) && u_ <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return static_cast<int64_t>(u_);
  }
  return std::nullopt;
}

std::optional<double> GgufValue::as_float() const {
  if (is_float_type(type_)) return f_;
  if (is_unsigned_type(type_)) return static_cast<double>(u_);
  if (is_signed_type(type_)) return static_cast<double>(i_);
  return std::nullopt;
}

std::optional<bool> GgufValue::as_bool() const {
  if (type_ == GgufValueType::BOOL) return u_ != 0;
  return std::nullopt;
}

std::optional<std::string_view> GgufValue::as_string() const {
  if (type_ == GgufValueType::STRING) return str_;
  return std::nullopt;
}

GgufValue GgufValue::make_uint(GgufValueType type, uint64_t v) {
  GgufValue value;
  value.type_ = type;
  if (is_unsigned_type(type)) {
    if (v > unsigned_max(type)) {
      throw std::invalid_argument(fmt::format("GgufValue: {} does not fit {}", v, gguf_value_type_name(type)));
    }
    value.u_ = v;
  } else if (is_signed_type(type)) {
    if (v > static_cast<uint64_t>(signed_range(type).second)) {
      throw std::invalid_argument(fmt::format("GgufValue: {} does not fit {}", v, gguf_value_type_name(type)));
    }
    value.i_ = static_cast<int64_t>(v);
  } else {
    throw std::invalid_argument("GgufValue::make_uint: not an integer type");
  }
  return value;
}

GgufValue GgufValue::make_int(GgufValueType type, int64_t v) {
  if (is_unsigned_type(type)) {
    if (v < 0) {
      throw std::invalid_argument(fmt::format("GgufValue: {} does not fit {}", v, gguf_value_type_name(type)));
    }
    return make_uint(type, static_cast<uint64_t>(v));
  }
  if (!is_signed_type(type)) throw std::invalid_argument("GgufValue::make_int: not an integer type");
  const auto [lo, hi] = signed_range(type);
  if (v < lo || v > hi) {
    throw std::invalid_argument(fmt::format("GgufValue: {} does not fit {}", v, gguf_value_type_name(type)));
  }
  GgufValue value;
  value.type_ = type;
  value.i_ = v;
  return value;
}

GgufValue GgufValue::make_float(GgufValueType type, double v) {
  if (!is_float_type(type)) throw std::invalid_argument("GgufValue::make_float: not a float type");
  GgufValue value;
  value.type_ = type;
  // Keep exactly what will be written, so a FLOAT32 reads back equal.
  value.f_ = type == GgufValueType::FLOAT32 ? static_cast<double>(static_cast<float>(v)) : v;
  return value;
}

GgufValue GgufValue::make_bool(bool v) {
  GgufValue value;
  value.type_ = GgufValueType::BOOL;
  value.u_ = v ? 1 : 0;
  return value;
}

GgufValue GgufValue::make_string(std::string v) {
  GgufValue value;
  value.type_ = GgufValueType::STRING;
  // Heap-held so that str_ stays valid when the value is copied or moved.
  value.owned_str_ = std::make_shared<const std::string>(std::move(v));
  value.str_ = *value.owned_str_;
  return value;
}

GgufValue GgufValue::make_string_view(std::string_view v) {
  GgufValue value;
  value.type_ = GgufValueType::STRING;
  value.str_ = v;
  return value;
}

GgufValue GgufValue::make_array(GgufValueType elem_type, std::vector<GgufValue> items) {
  for (const auto& item : items) {
    if (item.type() != elem_type) {
      throw std::invalid_argument(fmt::format("GgufValue::make_array: element of type {} in an array of {}",
                                              gguf_value_type_name(item.type()),
                                              gguf_value_type_name(elem_type)));
    }
  }
  GgufValue value;
  value.type_ = GgufValueType::ARRAY;
  value.array_type_ = elem_type;
  value.items_ = std::move(items);
  return value;
}

// ---------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------

namespace {

constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;           // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;          // array of array of ... (8 levels)
// Each parsed array element costs a GgufValue (~90 bytes) against >= 1 byte
// of file: this caps the memory a hostile file can make us spend (~1.5 GB),
// far above real files (largest vocabularies + merges are < 1M elements).
constexpr uint64_t kMaxArrayElementsPerFile = uint64_t{1} << 24;

// Reads little-endian fields from the file, checking every read against the
// bytes that remain. Errors name the file, the offset and what was being read.
class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, const std::string& name) : bytes_(bytes), name_(name) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }
  void set_context(std::string context) { context_ = std::move(context); }

  [[noreturn]] void fail_at(uint64_t offset, std::string_view problem) const {
    if (context_.empty()) throw InputError(fmt::format("{}: offset {}: {}", name_, offset, problem));
    throw InputError(fmt::format("{}: offset {}: {}: {}", name_, offset, context_, problem));
  }
  [[noreturn]] void fail(std::string_view problem) const { fail_at(pos_, problem); }

  void need(uint64_t n, std::string_view what) const {
    if (n > remaining()) {
      fail(fmt::format("truncated file: {} needs {} bytes, {} left", what, n, remaining()));
    }
  }

  template <typename T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;  // GGUF is little-endian; so are all hosts we build for
  }

  std::string_view read_string(std::string_view what) {
    const uint64_t start = pos_;
    const auto length = read<uint64_t>(what);
    if (length > remaining()) {
      fail_at(start, fmt::format("{} length {} exceeds the {} bytes left in the file", what, length, remaining()));
    }
    std::string_view s(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<size_t>(length));
    pos_ += length;
    return s;
  }

 private:
  std::span<const uint8_t> bytes_;
  const std::string& name_;
  uint64_t pos_ = 0;
  std::string context_;
};

static_assert(std::endian::native == std::endian::little, "GGUF reader assumes a little-endian host");

}  // namespace

// Builds values in place (GgufValue's fields are private; the parser is a
// friend through this helper defined in the class's own translation unit).
struct GgufValueParser {
  Reader& in;
  uint64_t array_elements = 0;

  GgufValueType read_type(std::string_view what) {
    const uint64_t at = in.pos();
    const auto raw = in.read<uint32_t>(what);
    if (!is_known_value_type(raw)) in.fail_at(at, fmt::format("unknown value type {}", raw));
    return static_cast<GgufValueType>(raw);
  }

  GgufValue parse(GgufValueType type, int depth) {
    GgufValue v;
    v.type_ = type;
    switch (type) {
      case GgufValueType::UINT8: v.u_ = in.read<uint8_t>("UINT8 value"); break;
      case GgufValueType::UINT16: v.u_ = in.read<uint16_t>("UINT16 value"); break;
      case GgufValueType::UINT32: v.u_ = in.read<uint32_t>("UINT32 value"); break;
      case GgufValueType::UINT64: v.u_ = in.read<uint64_t>("UINT64 value"); break;
      case GgufValueType::INT8: v.i_ = in.read<int8_t>("INT8 value"); break;
      case GgufValueType::INT16: v.i_ = in.read<int16_t>("INT16 value"); break;
      case GgufValueType::INT32: v.i_ = in.read<int32_t>("INT32 value"); break;
      case GgufValueType::INT64: v.i_ = in.read<int64_t>("INT64 value"); break;
      case GgufValueType::FLOAT32: v.f_ = static_cast<double>(in.read<float>("FLOAT32 value")); break;
      case GgufValueType::FLOAT64: v.f_ = in.read<double>("FLOAT64 value"); break;
      case GgufValueType::BOOL: {
        const uint64_t at = in.pos();
        const auto b = in.read<uint8_t>("BOOL value");
        if (b > 1) in.fail_at(at, fmt::format("bool value {} is neither 0 nor 1", b));
        v.u_ = b;
        break;
      }
      case GgufValueType::STRING: v.str_ = in.read_string("string"); break;
      case GgufValueType::ARRAY: parse_array(v, depth + 1); break;
    }
    return v;
  }

  void parse_array(GgufValue& v, int depth) {
    const uint64_t start = in.pos();
    if (depth > kMaxArrayDepth) {
      in.fail_at(start, fmt::format("arrays nested deeper than {} levels", kMaxArrayDepth));
    }
    v.array_type_ = read_type("array element type");
    const uint64_t count_at = in.pos();
    const auto count = in.read<uint64_t>("array length");
    // Check the count against the file before reserving anything for it.
    const uint64_t min_size = min_encoded_size(v.array_type_);
    if (count > in.remaining() / min_size) {
      in.fail_at(count_at, fmt::format("array of {} {} elements exceeds the {} bytes left in the file", count,
                                       gguf_value_type_name(v.array_type_), in.remaining()));
    }
    if (count > kMaxArrayElementsPerFile - array_elements) {
      in.fail_at(count_at, fmt::format("array of {} elements exceeds the limit of {} array elements per file",
                                       count, kMaxArrayElementsPerFile));
    }
    array_elements += count;
    v.items_.reserve(static_cast<size_t>(count));
    if (v.array_type_ == GgufValueType::ARRAY) {
      for (uint64_t i = 0; i < count; ++i) {
        GgufValue inner;
        inner.type_ = GgufValueType::ARRAY;
        parse_array(inner, depth + 1);
        v.items_.push_back(std::move(inner));
      }
    } else {
      for (uint64_t i = 0; i < count; ++i) v.items_.push_back(parse(v.array_type_, depth));
    }
  }
};

GgufFile::GgufFile(MappedFile file) : file_(std::move(file)) {}

GgufFile GgufFile::open(const std::string& path) {
  GgufFile gguf(MappedFile::open(path));
  gguf.parse();
  return gguf;
}

GgufFile GgufFile::from_memory(std::span<const uint8_t> bytes, std::string name) {
  GgufFile gguf(MappedFile::borrow(bytes, std::move(name)));
  gguf.parse();
  return gguf;
}

void GgufFile::parse() {
  const std::span<const uint8_t> bytes = file_.bytes();
  Reader in(bytes, file_.name());

  // Header.
  in.need(4, "magic");
  if (std::memcmp(bytes.data(), "GGUF", 4) != 0) {
    in.fail(fmt::format("bad magic {:02x} {:02x} {:02x} {:02x}, not a GGUF file (expected \"GGUF\")", bytes[0],
                        bytes[1], bytes[2], bytes[3]));
  }
  in.read<uint32_t>("magic");
  const uint64_t version_at = in.pos();
  version_ = in.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3) {
    const bool swapped = (version_ & 0xffffu) == 0 && version_ != 0;
    in.fail_at(version_at, fmt::format("unsupported GGUF version {} (supported: 2, 3){}", version_,
                                       swapped ? "; a big-endian file?" : ""));
  }
  const uint64_t n_tensors_at = in.pos();
  const auto n_tensors = in.read<uint64_t>("tensor count");
  const uint64_t n_kv_at = in.pos();
  const auto n_kv = in.read<uint64_t>("metadata count");
  // Smallest encodings: key-value = key length + type + 1-byte value;
  // tensor info = name length + n_dims + type + offset (no dims).
  constexpr uint64_t kMinKvSize = 8 + 4 + 1;
  constexpr uint64_t kMinTensorInfoSize = 8 + 4 + 4 + 8;
  if (n_tensors > in.remaining() / kMinTensorInfoSize) {
    in.fail_at(n_tensors_at, fmt::format("tensor count {} exceeds what the {} bytes left in the file can hold",
                                         n_tensors, in.remaining()));
  }
  if (n_kv > in.remaining() / kMinKvSize ||
      n_kv * kMinKvSize > in.remaining() - n_tensors * kMinTensorInfoSize) {
    in.fail_at(n_kv_at, fmt::format("metadata count {} exceeds what the {} bytes left in the file can hold", n_kv,
                                    in.remaining()));
  }

  // Metadata.
  GgufValueParser values{in};
  metadata_.reserve(static_cast<size_t>(n_kv));
  key_index_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    const uint64_t kv_at = in.pos();
    in.set_context(fmt::format("metadata entry {}", i));
    const std::string_view key = in.read_string("key");
    in.set_context(fmt::format("key '{}'", key));
    if (key_index_.contains(key)) in.fail_at(kv_at, "duplicate key");
    const GgufValueType type = values.read_type("value type");
    metadata_.push_back(GgufKeyValue{key, values.parse(type, 0)});
    key_index_.emplace(key, metadata_.size() - 1);
  }
  in.set_context({});

  if (const GgufValue* align = find("general.alignment")) {
    if (align->type() != GgufValueType::UINT32) {
      throw InputError(fmt::format("{}: key 'general.alignment': must be UINT32, got {}", name(),
                                   gguf_value_type_name(align->type())));
    }
    const uint64_t a = *align->as_uint();
    if (a == 0 || !std::has_single_bit(a)) {
      throw InputError(fmt::format("{}: key 'general.alignment': {} is not a non-zero power of two", name(), a));
    }
    alignment_ = a;
  } else {
    alignment_ = kDefaultAlignment;
  }

  // Tensor infos.
  tensors_.reserve(static_cast<size_t>(n_tensors));
  tensor_index_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const uint64_t info_at = in.pos();
    in.set_context(fmt::format("tensor info {}", i));
    GgufTensorInfo t;
    t.name = in.read_string("tensor name");
    in.set_context(fmt::format("tensor '{}'", t.name));
    if (tensor_index_.contains(t.name)) in.fail_at(info_at, "duplicate tensor name");
    const uint64_t dims_at = in.pos();
    const auto n_dims = in.read<uint32_t>("n_dims");
    if (n_dims > kMaxDims) in.fail_at(dims_at, fmt::format("n_dims {} exceeds the maximum of {}", n_dims, kMaxDims));
    t.ne.resize(n_dims);
    t.n_elements = 1;
    bool overflow = false;
    for (uint32_t d = 0; d < n_dims; ++d) {
      t.ne[d] = in.read<uint64_t>("dimension");
      // ggml holds ne as int64_t, so every extent and the product must fit it.
      if (t.ne[d] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) overflow = true;
      if (t.ne[d] != 0 && t.n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / t.ne[d]) {
        overflow = true;
      }
      if (!overflow) t.n_elements *= t.ne[d];
    }
    if (overflow) {
      std::string dims;
      for (uint32_t d = 0; d < n_dims; ++d) dims += fmt::format("{}{}", d ? " x " : "", t.ne[d]);
      in.fail_at(dims_at, fmt::format("element count of shape [{}] overflows int64", dims));
    }
    const uint64_t type_at = in.pos();
    const auto raw_type = in.read<uint32_t>("ggml type");
    const GgmlTypeTraits* traits = ggml_type_traits(raw_type);
    if (traits == nullptr) in.fail_at(type_at, fmt::format("unknown ggml type {}", raw_type));
    t.type = traits->type;
    // Rows are whole blocks in ggml, so the block divides the row length.
    if (n_dims > 0 && t.ne[0] % traits->block_size != 0) {
      in.fail_at(type_at, fmt::format("row length ne[0] = {} is not a multiple of the block size {} of {}", t.ne[0],
                                      traits->block_size, traits->name));
    }
    const std::optional<uint64_t> n_bytes = ggml_tensor_bytes(t.type, t.n_elements);
    if (!n_bytes) {
      in.fail_at(type_at, fmt::format("{} elements of {}: not a multiple of the block size {} or too large",
                                      t.n_elements, traits->name, traits->block_size));
    }
    t.n_bytes = *n_bytes;
    const uint64_t offset_at = in.pos();
    t.offset = in.read<uint64_t>("data offset");
    if (t.offset % alignment_ != 0) {
      in.fail_at(offset_at, fmt::format("data offset {} is not a multiple of the alignment {}", t.offset, alignment_));
    }
    tensors_.push_back(std::move(t));
    tensor_index_.emplace(tensors_.back().name, tensors_.size() - 1);
  }
  in.set_context({});

  // Tensor data starts at the next multiple of the alignment.
  const uint64_t pos = in.pos();
  data_offset_ = pos + (alignment_ - pos % alignment_) % alignment_;

  // Every tensor's bytes lie inside the file, and no two share a byte.
  const uint64_t size = file_.size();
  const uint64_t data_size = data_offset_ <= size ? size - data_offset_ : 0;
  for (const GgufTensorInfo& t : tensors_) {
    if (data_offset_ > size || t.offset > data_size || t.n_bytes > data_size - t.offset) {
      throw InputError(fmt::format(
          "{}: tensor '{}': data [{}, +{}) at file offset {} is out of bounds: the file has {} bytes", name(), t.name,
          t.offset, t.n_bytes, data_offset_ + t.offset, size));
    }
  }
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const GgufTensorInfo& t : tensors_) {
    if (t.n_bytes > 0) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& prev = *by_offset[i - 1];
    const GgufTensorInfo& cur = *by_offset[i];
    if (prev.offset + prev.n_bytes > cur.offset) {
      throw InputError(fmt::format("{}: tensor '{}': data [{}, +{}) overlaps tensor '{}' at [{}, +{})", name(),
                                   cur.name, cur.offset, cur.n_bytes, prev.name, prev.offset, prev.n_bytes));
    }
  }
}

// ---------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------

const GgufValue* GgufFile::find(std::string_view key) const {
  const auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].value;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view tensor_name) const {
  const auto it = tensor_index_.find(tensor_name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> GgufFile::tensor_data(const GgufTensorInfo& tensor) const {
  // Bounds were checked by parse(); an empty tensor may sit at the very end.
  if (data_offset_ + tensor.offset + tensor.n_bytes > file_.size() || tensor.offset > file_.size()) {
    throw std::out_of_range("GgufFile::tensor_data: tensor is not from this file");
  }
  return file_.bytes().subspan(static_cast<size_t>(data_offset_ + tensor.offset), static_cast<size_t>(tensor.n_bytes));
}

namespace {

std::string describe(const GgufValue& v) {
  if (v.type() == GgufValueType::ARRAY) {
    return fmt::format("ARRAY of {} {}", v.array().size(), gguf_value_type_name(v.array_type()));
  }
  if (const auto u = v.as_uint()) return fmt::format("{} {}", gguf_value_type_name(v.type()), *u);
  if (const auto i = v.as_int()) return fmt::format("{} {}", gguf_value_type_name(v.type()), *i);
  if (const auto f = v.as_float()) return fmt::format("{} {}", gguf_value_type_name(v.type()), *f);
  return std::string(gguf_value_type_name(v.type()));
}

template <typename T, typename Convert>
std::optional<T> get_scalar(const GgufFile& file, std::string_view key, std::string_view wanted, Convert convert) {
  const GgufValue* v = file.find(key);
  if (v == nullptr) return std::nullopt;
  if (auto out = convert(*v)) return out;
  throw InputError(fmt::format("{}: key '{}': expected {}, got {}", file.name(), key, wanted, describe(*v)));
}

template <typename T, typename Convert>
std::optional<std::vector<T>> get_array(const GgufFile& file, std::string_view key, std::string_view wanted,
                                        Convert convert) {
  const GgufValue* v = file.find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type() != GgufValueType::ARRAY) {
    throw InputError(fmt::format("{}: key '{}': expected an array of {}, got {}", file.name(), key, wanted,
                                 describe(*v)));
  }
  std::vector<T> out;
  out.reserve(v->array().size());
  for (size_t i = 0; i < v->array().size(); ++i) {
    const auto item = convert(v->array()[i]);
    if (!item) {
      throw InputError(fmt::format("{}: key '{}': element {}: expected {}, got {}", file.name(), key, i, wanted,
                                   describe(v->array()[i])));
    }
    out.push_back(*item);
  }
  return out;
}

}  // namespace

std::optional<uint64_t> GgufFile::get_uint(std::string_view key) const {
  return get_scalar<uint64_t>(*this, key, "a non-negative integer", [](const GgufValue& v) { return v.as_uint(); });
}
std::optional<int64_t> GgufFile::get_int(std::string_view key) const {
  return get_scalar<int64_t>(*this, key, "an integer in int64 range", [](const GgufValue& v) { return v.as_int(); });
}
std::optional<double> GgufFile::get_float(std::string_view key) const {
  return get_scalar<double>(*this, key, "a number", [](const GgufValue& v) { return v.as_float(); });
}
std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  return get_scalar<bool>(*this, key, "a bool", [](const GgufValue& v) { return v.as_bool(); });
}
std::optional<std::string_view> GgufFile::get_string(std::string_view key) const {
  return get_scalar<std::string_view>(*this, key, "a string", [](const GgufValue& v) { return v.as_string(); });
}
std::optional<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
  return get_array<int64_t>(*this, key, "an integer in int64 range", [](const GgufValue& v) { return v.as_int(); });
}
std::optional<std::vector<double>> GgufFile::get_float_array(std::string_view key) const {
  return get_array<double>(*this, key, "a number", [](const GgufValue& v) { return v.as_float(); });
}
std::optional<std::vector<std::string_view>> GgufFile::get_string_array(std::string_view key) const {
  return get_array<std::string_view>(*this, key, "a string", [](const GgufValue& v) { return v.as_string(); });
}

}  // namespace pocketllm
