// NumPy .npy writer: the bytes NumPy itself writes for the same arrays
// (tests/data/npy, made with numpy.save), and the format's rules from
// numpy/lib/format.py (magic, version 1.0, little-endian u16 header length,
// data aligned to 64 bytes, header ended by '\n').
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_support.h"
#include "util/error.h"
#include "util/npy_writer.h"

namespace pocketllm {
namespace {

using test_support::read_file_bytes;
using test_support::TempDir;
using test_support::test_data_path;

std::string written_bytes(const std::vector<float>& data, const std::vector<size_t>& shape) {
  TempDir dir;
  const std::string path = (dir.path() / "out.npy").string();
  write_npy_f32(path, data, shape);
  return read_file_bytes(path);
}

TEST(NpyWriter, MatrixMatchesNumpyBytes) {
  const std::string expected = read_file_bytes(test_data_path("npy/f32_2x3.npy"));
  ASSERT_EQ(expected.size(), 128u + 6 * 4);
  EXPECT_EQ(written_bytes({1.0f, -2.5f, 3.25f, 0.0f, 1e-3f, -7.0f}, {2, 3}), expected);
}

TEST(NpyWriter, VectorAndScalarMatchNumpyBytes) {
  EXPECT_EQ(written_bytes({0.0f, 0.5f, 1.0f, 1.5f, 2.0f}, {5}), read_file_bytes(test_data_path("npy/f32_vector5.npy")));
  EXPECT_EQ(written_bytes({42.0f}, {}), read_file_bytes(test_data_path("npy/f32_scalar.npy")));
}

TEST(NpyWriter, LogitsShapedArrayMatchesNumpyBytes) {
  std::vector<float> data(3 * 512);
  for (size_t i = 0; i < data.size(); ++i) data[i] = (static_cast<float>(i) - 700.0f) / 64.0f;
  EXPECT_EQ(written_bytes(data, {3, 512}), read_file_bytes(test_data_path("npy/f32_3x512.npy")));
}

TEST(NpyWriter, HeaderFollowsFormatSpec) {
  for (const std::vector<size_t>& shape : {std::vector<size_t>{}, {7}, {2, 3}, {123456, 151936}, {1, 2, 3, 4, 5}}) {
    const std::string header = npy_f32_header(shape);
    ASSERT_GE(header.size(), 11u);
    EXPECT_EQ(header.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
    const size_t declared =
        static_cast<uint8_t>(header[8]) | (static_cast<size_t>(static_cast<uint8_t>(header[9])) << 8);
    EXPECT_EQ(declared + 10, header.size());
    EXPECT_EQ(header.size() % 64, 0u) << "data must start 64-byte aligned";
    EXPECT_EQ(header.back(), '\n');
    const std::string dict_start = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
    EXPECT_EQ(header.substr(10, dict_start.size()), dict_start);
  }
  const std::string big = npy_f32_header(std::vector<size_t>{123456, 151936});
  EXPECT_NE(big.find("'shape': (123456, 151936), }"), std::string::npos);
}

TEST(NpyWriter, DataReadsBackAsLittleEndianFloats) {
  const std::vector<float> data = {3.5f, -0.125f, 1e30f, -1e-30f};
  const std::string bytes = written_bytes(data, {4});
  ASSERT_EQ(bytes.size(), 128u + 16);
  // 3.5f = 0x40600000, little-endian.
  EXPECT_EQ(bytes.substr(128, 4), std::string("\x00\x00\x60\x40", 4));
  std::vector<float> back(4);
  std::memcpy(back.data(), bytes.data() + 128, 16);
  EXPECT_EQ(back, data);
}

TEST(NpyWriter, Errors) {
  EXPECT_THROW(written_bytes({1.0f, 2.0f}, {3}), std::invalid_argument);
  TempDir dir;
  const std::string missing = (dir.path() / "no_such_dir" / "out.npy").string();
  const std::vector<float> one = {1.0f};
  const std::vector<size_t> shape = {1};
  const std::string message = test_support::error_of([&] { write_npy_f32(missing, one, shape); });
  EXPECT_NE(message.find("no_such_dir/out.npy: cannot open for writing"), std::string::npos) << message;
}

}  // namespace
}  // namespace pocketllm
