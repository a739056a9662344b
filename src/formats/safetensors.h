#pragma once
// Safetensors reader (Hugging Face): one file, or a model split into shards
// listed by model.safetensors.index.json. Tensors are zero-copy views into
// the memory-mapped files. Validation follows the reference implementation
// (huggingface/safetensors, safetensors/src/tensor.rs) and reports every
// problem as an InputError "PATH: offset N: problem" or
// "PATH: tensor 'T': problem".
//
// File layout:
//   u64 N (little-endian) | N bytes of UTF-8 JSON header | data buffer
//   header = {"__metadata__": {str: str},            (optional)
//             "NAME": {"dtype": "BF16", "shape": [d0, d1, ...],
//                      "data_offsets": [begin, end]}, ...}
// Offsets are relative to the data buffer (file offset 8 + N). The tensors,
// sorted by offset, tile the data buffer exactly: no gap, no overlap, no
// trailing byte. Shapes are row-major (C order), outermost dimension first,
// as PyTorch prints them. Data is little-endian and not necessarily aligned
// (writers pad the header to 8 bytes, but the format does not promise it).
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/mapped_file.h"

namespace pocketllm {

// Every dtype of the format as of safetensors 0.8, in the reference's order.
enum class SafetensorsDtype : uint8_t {
  BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ,
  F8_E5M2FNUZ, I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64,
};

struct SafetensorsDtypeTraits {
  SafetensorsDtype dtype;
  std::string_view name;  // as spelled in the header: "BF16", "F8_E4M3", ...
  uint32_t bits;          // per element: 4 (F4), 6 (F6_*), 8, 16, 32 or 64 (C64: two F32)
};

// All dtypes, in enum order.
std::span<const SafetensorsDtypeTraits> safetensors_dtypes();
const SafetensorsDtypeTraits& safetensors_dtype_traits(SafetensorsDtype dtype);
std::string_view safetensors_dtype_name(SafetensorsDtype dtype);
std::optional<SafetensorsDtype> safetensors_dtype_from_name(std::string_view name);
// Bytes of `n_elements` packed elements; nullopt when the size overflows
// u64 or does not end on a byte boundary (e.g. 3 x F4), which the format forbids.
std::optional<uint64_t> safetensors_tensor_bytes(SafetensorsDtype dtype, uint64_t n_elements);

struct SafetensorsTensor {
  std::string name;
  SafetensorsDtype dtype;
  std::vector<uint64_t> shape;  // row-major, outermost first; [] is a scalar
  uint64_t n_elements;          // product of shape (1 for a scalar)
  uint64_t n_bytes;             // == data.size()
  uint64_t file_offset;         // where data starts in the file (8 + N + begin)
  std::span<const uint8_t> data;  // view into the mapping
};

class SafetensorsFile {
 public:
  // The reference refuses headers above 100 MB; so do we.
  static constexpr uint64_t kMaxHeaderBytes = 100'000'000;

  static SafetensorsFile open(const std::string& path);
  // Parses bytes already in memory (tests, fuzzer); not copied, the caller
  // keeps them alive. `name` stands for the path in error messages.
  static SafetensorsFile from_memory(std::span<const uint8_t> bytes, std::string name);

  SafetensorsFile(SafetensorsFile&&) noexcept = default;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept = default;

  const std::string& name() const { return file_.name(); }
  uint64_t file_size() const { return file_.size(); }
  uint64_t header_size() const { return header_size_; }    // N
  uint64_t data_offset() const { return 8 + header_size_; }  // start of the data buffer

  // In data order (ascending offset), which is also the order to read them
  // sequentially from disk.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* find(std::string_view name) const;
  // The "__metadata__" object (empty when absent), e.g. {"format": "pt"}.
  const std::map<std::string, std::string, std::less<>>& metadata() const { return metadata_; }

 private:
  explicit SafetensorsFile(MappedFile file);
  void parse();

  MappedFile file_;
  uint64_t header_size_ = 0;
  std::vector<SafetensorsTensor> tensors_;
  // Views into tensors_[i].name: the strings live in the vector's heap
  // buffer, which a move of this object hands over without relocating.
  std::unordered_map<std::string_view, size_t> by_name_;
  std::map<std::string, std::string, std::less<>> metadata_;
};

// The weights of one model: a single safetensors file, or the shards that a
// model.safetensors.index.json names ({"metadata": {...}, "weight_map":
// {"tensor name": "shard file name", ...}}). Checked on open: shard names
// are plain file names in the index's folder, every mapped tensor is in the
// shard the map names, every tensor of every shard is mapped there, and no
// tensor name appears in two shards.
class SafetensorsModel {
 public:
  static SafetensorsModel open_file(const std::string& path);
  static SafetensorsModel open_index(const std::string& index_path);

  // Opened shards, sorted by file name (a single file is one shard).
  const std::vector<SafetensorsFile>& shards() const { return shards_; }
  // Every tensor: shard by shard, each in data order. Pointers stay valid
  // for the life of this object (and across moves of it).
  const std::vector<const SafetensorsTensor*>& tensors() const { return tensors_; }
  const SafetensorsTensor* find(std::string_view name) const;
  // Sum of n_bytes over all tensors.
  uint64_t tensor_bytes() const { return tensor_bytes_; }
  // "metadata"."total_size" of the index when present (informational: tools
  // disagree on what it counts, so it is not checked against tensor_bytes()).
  std::optional<uint64_t> declared_total_size() const { return declared_total_size_; }

 private:
  SafetensorsModel() = default;
  void add_shard(SafetensorsFile shard);

  std::vector<SafetensorsFile> shards_;
  std::vector<const SafetensorsTensor*> tensors_;
  std::unordered_map<std::string_view, const SafetensorsTensor*> by_name_;
  // Which shard each tensor came from (index into shards_), for duplicate reports.
  std::unordered_map<std::string_view, size_t> shard_of_;
  uint64_t tensor_bytes_ = 0;
  std::optional<uint64_t> declared_total_size_;
};

}  // namespace pocketllm
