#include "formats/safetensors.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "formats/json_file.h"
#include "util/error.h"

namespace pocketllm {
namespace {

using json = nlohmann::json;

constexpr std::array<SafetensorsDtypeTraits, 22> kDtypes = {{
    {SafetensorsDtype::BOOL, "BOOL", 8},
    {SafetensorsDtype::F4, "F4", 4},
    {SafetensorsDtype::F6_E2M3, "F6_E2M3", 6},
    {SafetensorsDtype::F6_E3M2, "F6_E3M2", 6},
    {SafetensorsDtype::U8, "U8", 8},
    {SafetensorsDtype::I8, "I8", 8},
    {SafetensorsDtype::F8_E5M2, "F8_E5M2", 8},
    {SafetensorsDtype::F8_E4M3, "F8_E4M3", 8},
    {SafetensorsDtype::F8_E8M0, "F8_E8M0", 8},
    {SafetensorsDtype::F8_E4M3FNUZ, "F8_E4M3FNUZ", 8},
    {SafetensorsDtype::F8_E5M2FNUZ, "F8_E5M2FNUZ", 8},
    {SafetensorsDtype::I16, "I16", 16},
    {SafetensorsDtype::U16, "U16", 16},
    {SafetensorsDtype::F16, "F16", 16},
    {SafetensorsDtype::BF16, "BF16", 16},
    {SafetensorsDtype::I32, "I32", 32},
    {SafetensorsDtype::U32, "U32", 32},
    {SafetensorsDtype::F32, "F32", 32},
    {SafetensorsDtype::C64, "C64", 64},
    {SafetensorsDtype::F64, "F64", 64},
    {SafetensorsDtype::I64, "I64", 64},
    {SafetensorsDtype::U64, "U64", 64},
}};

// A JSON value as a message shows it: numbers as written, strings quoted
// and cut, containers by kind (they may be large).
std::string describe(const json& value) {
  if (value.is_number()) return value.dump();
  if (value.is_string()) return "string " + quote_for_message(value.get_ref<const std::string&>());
  return std::string(json_type_name(value));
}

std::optional<uint64_t> as_u64(const json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer()) {
    const auto v = value.get<int64_t>();
    if (v >= 0) return static_cast<uint64_t>(v);
  }
  return std::nullopt;
}

// "[320, 64]"; a long (hostile) shape is cut so the message stays short.
std::string shape_string(const std::vector<uint64_t>& shape) {
  constexpr size_t kMaxShown = 8;
  if (shape.size() <= kMaxShown) return fmt::format("[{}]", fmt::join(shape, ", "));
  return fmt::format("[{}, ... ({} dims)]",
                     fmt::join(shape.begin(), shape.begin() + kMaxShown, ", "), shape.size());
}

// One header entry, checked for form and size but not yet for placement.
struct Entry {
  SafetensorsTensor tensor;
  uint64_t begin = 0;
  uint64_t end = 0;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& file_name, uint64_t data_size)
      : file_name_(file_name), data_size_(data_size) {}

  Entry parse_tensor(const std::string& name, const json& info) const {
    const std::string where = "tensor " + quote_for_message(name);
    if (!info.is_object()) {
      fail(where, "expected an object with dtype, shape and data_offsets, found " + describe(info));
    }
    Entry entry;
    entry.tensor.name = name;

    const json& dtype = field(info, where, "dtype");
    if (!dtype.is_string()) fail(where, "dtype must be a string, found " + describe(dtype));
    const auto parsed_dtype = safetensors_dtype_from_name(dtype.get_ref<const std::string&>());
    if (!parsed_dtype) fail(where, "unknown dtype " + quote_for_message(dtype.get_ref<const std::string&>()));
    entry.tensor.dtype = *parsed_dtype;

    const json& shape = field(info, where, "shape");
    if (!shape.is_array()) fail(where, "shape must be an array, found " + describe(shape));
    entry.tensor.shape.reserve(shape.size());
    uint64_t n_elements = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
      const auto dim = as_u64(shape[i]);
      if (!dim) {
        fail(where, fmt::format("shape[{}] must be a non-negative integer, found {}", i, describe(shape[i])));
      }
      entry.tensor.shape.push_back(*dim);
      // As the reference: the running product must not overflow, even if a
      // later dimension is zero.
      if (__builtin_mul_overflow(n_elements, *dim, &n_elements)) {
        fail(where, fmt::format("shape has more than 2^64 elements (overflow at shape[{}])", i));
      }
    }
    entry.tensor.n_elements = n_elements;
    const auto& traits = safetensors_dtype_traits(entry.tensor.dtype);
    uint64_t n_bits = 0;
    if (__builtin_mul_overflow(n_elements, uint64_t{traits.bits}, &n_bits)) {
      fail(where, fmt::format("shape {} of {} is more than 2^64 bits", shape_string(entry.tensor.shape),
                              traits.name));
    }
    if (n_bits % 8 != 0) {
      fail(where, fmt::format("shape {} of {} ({}-bit elements) is {} bits, not a whole number of bytes",
                              shape_string(entry.tensor.shape), traits.name, traits.bits, n_bits));
    }
    entry.tensor.n_bytes = n_bits / 8;

    const json& offsets = field(info, where, "data_offsets");
    if (!offsets.is_array() || offsets.size() != 2) {
      fail(where, "data_offsets must be an array [begin, end], found " + describe(offsets) +
                      (offsets.is_array() ? fmt::format(" of {} elements", offsets.size()) : ""));
    }
    const auto begin = as_u64(offsets[0]);
    const auto end = as_u64(offsets[1]);
    if (!begin || !end) {
      fail(where, fmt::format("data_offsets [{}, {}] must be non-negative integers",
                              describe(offsets[0]), describe(offsets[1])));
    }
    entry.begin = *begin;
    entry.end = *end;
    if (entry.begin > entry.end) {
      fail(where, fmt::format("data_offsets [{}, {}] begin after end", entry.begin, entry.end));
    }
    if (entry.end > data_size_) {
      fail(where, fmt::format("data_offsets [{}, {}] end beyond the data buffer of {} bytes",
                              entry.begin, entry.end, data_size_));
    }
    if (entry.end - entry.begin != entry.tensor.n_bytes) {
      fail(where, fmt::format("data_offsets [{}, {}] span {} bytes but dtype {} shape {} needs {} bytes",
                              entry.begin, entry.end, entry.end - entry.begin,
                              safetensors_dtype_name(entry.tensor.dtype),
                              shape_string(entry.tensor.shape), entry.tensor.n_bytes));
    }
    return entry;
  }

  [[noreturn]] void fail(const std::string& where, const std::string& problem) const {
    throw InputError(file_name_ + ": " + where + ": " + problem);
  }

 private:
  const json& field(const json& info, const std::string& where, const char* key) const {
    const auto it = info.find(key);
    if (it == info.end()) fail(where, fmt::format("missing '{}'", key));
    return *it;
  }

  const std::string& file_name_;
  uint64_t data_size_;
};

std::string_view as_text(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

std::span<const SafetensorsDtypeTraits> safetensors_dtypes() { return kDtypes; }

const SafetensorsDtypeTraits& safetensors_dtype_traits(SafetensorsDtype dtype) {
  return kDtypes.at(static_cast<size_t>(dtype));
}

std::string_view safetensors_dtype_name(SafetensorsDtype dtype) {
  return safetensors_dtype_traits(dtype).name;
}

std::optional<SafetensorsDtype> safetensors_dtype_from_name(std::string_view name) {
  for (const auto& traits : kDtypes) {
    if (traits.name == name) return traits.dtype;
  }
  return std::nullopt;
}

std::optional<uint64_t> safetensors_tensor_bytes(SafetensorsDtype dtype, uint64_t n_elements) {
  uint64_t bits = 0;
  if (__builtin_mul_overflow(n_elements, uint64_t{safetensors_dtype_traits(dtype).bits}, &bits)) {
    return std::nullopt;
  }
  if (bits % 8 != 0) return std::nullopt;
  return bits / 8;
}

// ---------------------------------------------------------------------------
// SafetensorsFile

SafetensorsFile::SafetensorsFile(MappedFile file) : file_(std::move(file)) {}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile file(MappedFile::open(path));
  file.parse();
  return file;
}

SafetensorsFile SafetensorsFile::from_memory(std::span<const uint8_t> bytes, std::string name) {
  SafetensorsFile file(MappedFile::borrow(bytes, std::move(name)));
  file.parse();
  return file;
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

void SafetensorsFile::parse() {
  const std::string& name = file_.name();
  const std::span<const uint8_t> bytes = file_.bytes();
  const uint64_t file_size = bytes.size();
  const auto fail_at = [&](uint64_t offset, const std::string& problem) {
    throw InputError(fmt::format("{}: offset {}: {}", name, offset, problem));
  };

  if (file_size < 8) {
    fail_at(0, fmt::format("file is {} bytes, shorter than the 8-byte header size field", file_size));
  }
  uint64_t header_size = 0;
  for (size_t i = 0; i < 8; ++i) header_size |= uint64_t{bytes[i]} << (8 * i);
  if (header_size > kMaxHeaderBytes) {
    fail_at(0, fmt::format("header size {} exceeds the limit of {} bytes", header_size, kMaxHeaderBytes));
  }
  if (header_size > file_size - 8) {
    fail_at(0, fmt::format("header size {} runs past the end of the file ({} bytes)", header_size,
                           file_size));
  }
  header_size_ = header_size;
  const uint64_t data_start = 8 + header_size;
  const uint64_t data_size = file_size - data_start;

  const std::string_view header = as_text(bytes.subspan(8, header_size));
  if (header.empty() || header.front() != '{') {
    fail_at(8, "header does not start with '{' (not a safetensors file?)");
  }
  const json root = parse_untrusted_json(header, [&](size_t byte) {
    return fmt::format("{}: offset {}: header JSON", name, 8 + byte);
  });
  if (!root.is_object()) fail_at(8, "header JSON is not an object but " + describe(root));

  const HeaderParser parser(name, data_size);
  std::vector<Entry> entries;
  entries.reserve(root.size());
  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__") {
      if (value.is_null()) continue;  // the reference reads it as an optional map
      if (!value.is_object()) {
        parser.fail("key '__metadata__'", "expected an object of strings, found " + describe(value));
      }
      for (const auto& [meta_key, meta_value] : value.items()) {
        if (!meta_value.is_string()) {
          parser.fail("key '__metadata__'", fmt::format("value of {} must be a string, found {}",
                                                        quote_for_message(meta_key), describe(meta_value)));
        }
        metadata_.emplace(meta_key, meta_value.get<std::string>());
      }
      continue;
    }
    entries.push_back(parser.parse_tensor(key, value));
  }

  // Placement: sorted by offsets, the tensors must tile the data buffer.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
  });
  uint64_t covered = 0;  // data bytes [0, covered) belong to the tensors seen so far
  const Entry* previous = nullptr;
  for (const Entry& entry : entries) {
    if (entry.begin < covered) {
      parser.fail("tensor " + quote_for_message(entry.tensor.name),
                  fmt::format("data_offsets [{}, {}] overlap tensor {} at [{}, {}]", entry.begin,
                              entry.end, quote_for_message(previous->tensor.name), previous->begin,
                              previous->end));
    }
    if (entry.begin > covered) {
      parser.fail("tensor " + quote_for_message(entry.tensor.name),
                  fmt::format("data_offsets [{}, {}] leave a gap of {} bytes after {}", entry.begin,
                              entry.end, entry.begin - covered,
                              previous ? "tensor " + quote_for_message(previous->tensor.name)
                                       : std::string("the start of the data buffer")));
    }
    covered = entry.end;
    previous = &entry;
  }
  if (covered != data_size) {
    fail_at(data_start + covered,
            fmt::format("{} bytes after the last tensor's data (the data buffer is {} bytes, "
                        "tensors cover {})",
                        data_size - covered, data_size, covered));
  }

  tensors_.reserve(entries.size());
  by_name_.reserve(entries.size());
  for (Entry& entry : entries) {
    entry.tensor.file_offset = data_start + entry.begin;
    entry.tensor.data = bytes.subspan(entry.tensor.file_offset, entry.tensor.n_bytes);
    tensors_.push_back(std::move(entry.tensor));
  }
  // Only now take views of the names: tensors_ no longer reallocates.
  for (size_t i = 0; i < tensors_.size(); ++i) by_name_.emplace(tensors_[i].name, i);
}

// ---------------------------------------------------------------------------
// SafetensorsModel

SafetensorsModel SafetensorsModel::open_file(const std::string& path) {
  SafetensorsModel model;
  model.shards_.reserve(1);
  model.add_shard(SafetensorsFile::open(path));
  return model;
}

SafetensorsModel SafetensorsModel::open_index(const std::string& index_path) {
  const json index = load_json_object_file(index_path);
  const auto fail = [&](const std::string& problem) {
    throw InputError(index_path + ": " + problem);
  };

  SafetensorsModel model;
  if (const auto meta = index.find("metadata"); meta != index.end() && meta->is_object()) {
    if (const auto total = meta->find("total_size"); total != meta->end()) {
      model.declared_total_size_ = as_u64(*total);
    }
  }

  const auto weight_map_it = index.find("weight_map");
  if (weight_map_it == index.end()) fail("missing key 'weight_map'");
  const json& weight_map = *weight_map_it;
  if (!weight_map.is_object()) fail("key 'weight_map': expected an object, found " + describe(weight_map));
  if (weight_map.empty()) fail("key 'weight_map' lists no tensors");

  // Shard names must stay inside the index's folder: a plain file name.
  std::set<std::string> shard_names;
  for (const auto& [tensor, shard] : weight_map.items()) {
    const std::string where = "key 'weight_map' tensor " + quote_for_message(tensor);
    if (!shard.is_string()) fail(where + ": shard must be a file name string, found " + describe(shard));
    const auto& shard_name = shard.get_ref<const std::string&>();
    if (shard_name.empty() || shard_name == "." || shard_name == ".." ||
        shard_name.find_first_of(std::string_view("/\\\0", 3)) != std::string::npos) {
      fail(where + ": shard " + quote_for_message(shard_name) +
           " is not a plain file name in the index's folder");
    }
    shard_names.insert(shard_name);
  }

  const std::filesystem::path folder = std::filesystem::path(index_path).parent_path();
  model.shards_.reserve(shard_names.size());
  for (const std::string& shard_name : shard_names) {
    model.add_shard(SafetensorsFile::open((folder / shard_name).string()));
  }

  // The map and the shards must describe the same tensors.
  for (const auto& [tensor, shard] : weight_map.items()) {
    const auto& shard_name = shard.get_ref<const std::string&>();
    const auto found = model.shard_of_.find(tensor);
    const std::string where = "key 'weight_map' tensor " + quote_for_message(tensor);
    if (found == model.shard_of_.end()) {
      fail(fmt::format("{}: not in shard {}", where, quote_for_message(shard_name)));
    }
    const std::string& actual = model.shards_[found->second].name();
    if (std::filesystem::path(actual).filename() != shard_name) {
      fail(fmt::format("{}: mapped to shard {} but found in {}", where, quote_for_message(shard_name),
                       quote_for_message(actual)));
    }
  }
  if (model.tensors_.size() != weight_map.size()) {
    for (const SafetensorsTensor* tensor : model.tensors_) {
      if (!weight_map.contains(tensor->name)) {
        const std::string& shard = model.shards_[model.shard_of_.at(tensor->name)].name();
        fail(fmt::format("shard {} holds tensor {}, which key 'weight_map' does not list",
                         quote_for_message(shard), quote_for_message(tensor->name)));
      }
    }
  }
  return model;
}

void SafetensorsModel::add_shard(SafetensorsFile shard) {
  // shards_ has its final capacity reserved: earlier shards do not move, and
  // even if they did, their tensor vectors (and our pointers) would not.
  const size_t shard_index = shards_.size();
  shards_.push_back(std::move(shard));
  const SafetensorsFile& added = shards_.back();
  for (const SafetensorsTensor& tensor : added.tensors()) {
    const auto [it, inserted] = shard_of_.emplace(tensor.name, shard_index);
    if (!inserted) {
      throw InputError(fmt::format("{}: tensor {} is also in shard {}", added.name(),
                                   quote_for_message(tensor.name), shards_[it->second].name()));
    }
    by_name_.emplace(tensor.name, &tensor);
    tensors_.push_back(&tensor);
    tensor_bytes_ += tensor.n_bytes;
  }
}

const SafetensorsTensor* SafetensorsModel::find(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

}  // namespace pocketllm
