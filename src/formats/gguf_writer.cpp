#include "formats/gguf_writer.h"

#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace pocketllm {
namespace {

constexpr uint32_t kVersion = 3;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

static_assert(std::endian::native == std::endian::little, "GGUF writer assumes a little-endian host");

template <typename T>
void put(std::ostream& out, T v) {
  out.write(reinterpret_cast<const char*>(&v), sizeof(T));
}

void put_string(std::ostream& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out.write(s.data(), static_cast<std::streamsize>(s.size()));
}

// The payload of a value (everything after its type tag).
void put_value(std::ostream& out, const GgufValue& v) {
  switch (v.type()) {
    case GgufValueType::UINT8: put(out, static_cast<uint8_t>(*v.as_uint())); break;
    case GgufValueType::UINT16: put(out, static_cast<uint16_t>(*v.as_uint())); break;
    case GgufValueType::UINT32: put(out, static_cast<uint32_t>(*v.as_uint())); break;
    case GgufValueType::UINT64: put(out, *v.as_uint()); break;
    case GgufValueType::INT8: put(out, static_cast<int8_t>(*v.as_int())); break;
    case GgufValueType::INT16: put(out, static_cast<int16_t>(*v.as_int())); break;
    case GgufValueType::INT32: put(out, static_cast<int32_t>(*v.as_int())); break;
    case GgufValueType::INT64: put(out, *v.as_int()); break;
    case GgufValueType::FLOAT32: put(out, static_cast<float>(*v.as_float())); break;
    case GgufValueType::FLOAT64: put(out, *v.as_float()); break;
    case GgufValueType::BOOL: put<uint8_t>(out, *v.as_bool() ? 1 : 0); break;
    case GgufValueType::STRING: put_string(out, *v.as_string()); break;
    case GgufValueType::ARRAY:
      put(out, static_cast<uint32_t>(v.array_type()));
      put<uint64_t>(out, v.array().size());
      for (const GgufValue& item : v.array()) put_value(out, item);
      break;
  }
}

void put_zeros(std::ostream& out, uint64_t n) {
  static constexpr char kZeros[64] = {};
  while (n > 0) {
    const uint64_t chunk = n < sizeof(kZeros) ? n : sizeof(kZeros);
    out.write(kZeros, static_cast<std::streamsize>(chunk));
    n -= chunk;
  }
}

uint64_t padding_to(uint64_t pos, uint64_t alignment) { return (alignment - pos % alignment) % alignment; }

void check_alignment(const GgufValue& value) {
  const auto a = value.as_uint();
  if (value.type() != GgufValueType::UINT32 || !a || *a == 0 || !std::has_single_bit(*a)) {
    throw std::invalid_argument("GgufWriter: general.alignment must be a UINT32 non-zero power of two");
  }
}

}  // namespace

void GgufWriter::add(std::string key, GgufValue value) {
  if (keys_.contains(key)) throw std::invalid_argument("GgufWriter: duplicate key '" + key + "'");
  if (key == "general.alignment") {
    check_alignment(value);
    alignment_ = static_cast<uint32_t>(*value.as_uint());
  }
  keys_.insert(key);
  metadata_.push_back(PendingKeyValue{std::move(key), std::move(value)});
}

void GgufWriter::set_alignment(uint32_t alignment) {
  GgufValue value = GgufValue::make_uint(GgufValueType::UINT32, alignment);
  check_alignment(value);
  alignment_ = alignment;
  for (PendingKeyValue& kv : metadata_) {
    if (kv.key == "general.alignment") {
      kv.value = std::move(value);
      return;
    }
  }
  add("general.alignment", std::move(value));
}

GgufWriter::PendingTensor& GgufWriter::add_tensor_info(std::string name, std::vector<uint64_t> ne, GgmlType type) {
  if (tensor_names_.contains(name)) throw std::invalid_argument("GgufWriter: duplicate tensor '" + name + "'");
  if (ne.size() > kMaxDims) {
    throw std::invalid_argument(fmt::format("GgufWriter: tensor '{}' has {} dimensions (at most {})", name,
                                            ne.size(), kMaxDims));
  }
  const GgmlTypeTraits& traits = ggml_type_traits(type);
  uint64_t n_elements = 1;
  for (const uint64_t n : ne) {
    if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        (n != 0 && n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / n)) {
      throw std::invalid_argument(fmt::format("GgufWriter: tensor '{}': element count overflows", name));
    }
    n_elements *= n;
  }
  const std::optional<uint64_t> n_bytes = ggml_tensor_bytes(type, n_elements);
  if (!n_bytes || (!ne.empty() && ne[0] % traits.block_size != 0)) {
    throw std::invalid_argument(fmt::format("GgufWriter: tensor '{}': row length is not a multiple of the {} block "
                                            "size {}",
                                            name, traits.name, traits.block_size));
  }
  tensor_names_.insert(name);
  tensors_.push_back(PendingTensor{std::move(name), std::move(ne), type, *n_bytes, {}, {}});
  return tensors_.back();
}

void GgufWriter::add_tensor(std::string name, std::vector<uint64_t> ne, GgmlType type,
                            std::span<const uint8_t> data) {
  PendingTensor& t = add_tensor_info(std::move(name), std::move(ne), type);
  if (data.size() != t.n_bytes) {
    const std::string msg = fmt::format("GgufWriter: tensor '{}' needs {} bytes, got {}", t.name, t.n_bytes,
                                        data.size());
    tensor_names_.erase(t.name);
    tensors_.pop_back();
    throw std::invalid_argument(msg);
  }
  t.data = data;
}

void GgufWriter::add_tensor(std::string name, std::vector<uint64_t> ne, GgmlType type, TensorSource source) {
  if (!source) throw std::invalid_argument("GgufWriter: empty tensor source for '" + name + "'");
  add_tensor_info(std::move(name), std::move(ne), type).source = std::move(source);
}

void GgufWriter::write(const std::string& path) const {
  const std::string partial = path + ".partial";
  std::ofstream out(partial, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error(fmt::format("{}: cannot create: {}", partial, std::strerror(errno)));
  const auto fail = [&](const std::string& problem) {
    out.close();
    std::error_code ignored;
    std::filesystem::remove(partial, ignored);
    throw std::runtime_error(fmt::format("{}: {}", path, problem));
  };

  // Header and key-values.
  out.write("GGUF", 4);
  put(out, kVersion);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, metadata_.size());
  for (const PendingKeyValue& kv : metadata_) {
    put_string(out, kv.key);
    put(out, static_cast<uint32_t>(kv.value.type()));
    put_value(out, kv.value);
  }

  // Tensor infos; each tensor's data starts at an aligned offset.
  uint64_t offset = 0;
  for (const PendingTensor& t : tensors_) {
    put_string(out, t.name);
    put(out, static_cast<uint32_t>(t.ne.size()));
    for (const uint64_t n : t.ne) put(out, n);
    put(out, static_cast<uint32_t>(t.type));
    put(out, offset);
    offset += t.n_bytes + padding_to(t.n_bytes, alignment_);
  }
  // Data starts aligned. Without tensors there is no data section, and
  // gguf-py (vocabulary-only files) writes no padding either.
  if (!tensors_.empty()) put_zeros(out, padding_to(static_cast<uint64_t>(out.tellp()), alignment_));

  // Tensor data, streamed one tensor at a time.
  for (const PendingTensor& t : tensors_) {
    if (t.source) {
      const auto before = static_cast<uint64_t>(out.tellp());
      t.source(out);
      const auto written = static_cast<uint64_t>(out.tellp()) - before;
      if (!out) fail(fmt::format("write failed in tensor '{}'", t.name));
      if (written != t.n_bytes) {
        fail(fmt::format("source of tensor '{}' wrote {} bytes, expected {}", t.name, written, t.n_bytes));
      }
    } else {
      out.write(reinterpret_cast<const char*>(t.data.data()), static_cast<std::streamsize>(t.data.size()));
    }
    put_zeros(out, padding_to(t.n_bytes, alignment_));
  }

  out.flush();
  if (!out) fail(fmt::format("write failed: {}", std::strerror(errno)));
  out.close();
  if (!out) fail(fmt::format("close failed: {}", std::strerror(errno)));
  std::error_code ec;
  std::filesystem::rename(partial, path, ec);
  if (ec) fail("cannot rename " + partial + ": " + ec.message());
}

}  // namespace pocketllm
