#include "util/npy_writer.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "util/error.h"

namespace pocketllm {
namespace {

constexpr size_t kPreambleBytes = 10;  // magic (6) + version (2) + header length (2)
constexpr size_t kDataAlignment = 64;  // numpy's ARRAY_ALIGN

// Python's repr of a tuple of ints: (), (3,), (2, 3).
std::string shape_repr(std::span<const size_t> shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  if (shape.size() == 1) text += ",";
  return text + ")";
}

}  // namespace

std::string npy_f32_header(std::span<const size_t> shape) {
  // numpy writes the dict's keys sorted, each as "'key': repr(value), ".
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
  const size_t unpadded = kPreambleBytes + dict.size() + 1;  // + the final '\n'
  dict.append((kDataAlignment - unpadded % kDataAlignment) % kDataAlignment, ' ');
  dict += '\n';
  if (dict.size() > 0xffff) throw std::invalid_argument("npy: header longer than version 1.0 allows");

  std::string header("\x93NUMPY\x01\x00", 8);
  header += static_cast<char>(dict.size() & 0xff);
  header += static_cast<char>(dict.size() >> 8);
  return header + dict;
}

NpyF32Writer::NpyF32Writer(const std::string& path, std::span<const size_t> shape) : path_(path), expected_(1) {
  for (size_t d : shape) expected_ *= d;
  const std::string header = npy_f32_header(shape);
  file_.reset(std::fopen(path.c_str(), "wb"));
  if (!file_) throw InputError(path + ": cannot open for writing: " + std::strerror(errno));
  if (std::fwrite(header.data(), 1, header.size(), file_.get()) != header.size()) {
    throw InputError(path + ": write failed: " + std::strerror(errno));
  }
}

NpyF32Writer::~NpyF32Writer() = default;

void NpyF32Writer::append(std::span<const float> data) {
  if (!file_) throw std::logic_error("NpyF32Writer::append after finish");
  if (data.size() > expected_ - written_) throw std::invalid_argument("NpyF32Writer: more data than the shape holds");
  // Little-endian bytes whatever the host order, a bounded buffer at a time.
  std::vector<unsigned char> buffer;
  constexpr size_t kFloatsPerWrite = 16384;
  for (size_t begin = 0; begin < data.size(); begin += kFloatsPerWrite) {
    const size_t n = std::min(kFloatsPerWrite, data.size() - begin);
    buffer.resize(n * 4);
    for (size_t i = 0; i < n; ++i) {
      const auto bits = std::bit_cast<uint32_t>(data[begin + i]);
      for (size_t b = 0; b < 4; ++b) buffer[4 * i + b] = static_cast<unsigned char>(bits >> (8 * b));
    }
    if (std::fwrite(buffer.data(), 1, buffer.size(), file_.get()) != buffer.size()) {
      throw InputError(path_ + ": write failed: " + std::strerror(errno));
    }
  }
  written_ += data.size();
}

void NpyF32Writer::finish() {
  if (written_ != expected_) throw std::invalid_argument("NpyF32Writer: data size does not match the shape");
  std::FILE* raw = file_.release();
  if (std::fclose(raw) != 0) throw InputError(path_ + ": write failed: " + std::strerror(errno));
}

void write_npy_f32(const std::string& path, std::span<const float> data, std::span<const size_t> shape) {
  size_t n_elements = 1;
  for (size_t d : shape) n_elements *= d;
  if (n_elements != data.size()) throw std::invalid_argument("write_npy_f32: data size does not match the shape");
  NpyF32Writer writer(path, shape);
  writer.append(data);
  writer.finish();
}

}  // namespace pocketllm
