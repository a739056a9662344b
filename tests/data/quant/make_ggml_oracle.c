/* Writes ggml_dequant_oracle.bin: for each weight type, rows of blocks made by
 * ggml's own quantizer (ggml_quantize_chunk) from pseudo-random floats, and
 * ggml's own dequantization of them (type_traits.to_float). Build against the
 * libggml-base.so of the npm package @node-llama-cpp/linux-x64@3.21.1
 * (llama.cpp release v0.4.0); see SOURCES.md.
 *
 * File layout (little-endian), repeated per type:
 *   u32 ggml type id, u32 elements per row, u32 rows, u32 bytes per row,
 *   rows * bytes_per_row block bytes, rows * elements f32 expected values. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ggml_type_traits {
  const char* type_name;
  int64_t blck_size;
  int64_t blck_size_interleave;
  size_t type_size;
  bool is_quantized;
  void (*to_float)(const void* x, float* y, int64_t k);
  void (*from_float_ref)(const float* x, void* y, int64_t k);
};
const struct ggml_type_traits* ggml_get_type_traits(int type);
size_t ggml_quantize_chunk(int type, const float* src, void* dst, int64_t start, int64_t nrows,
                           int64_t n_per_row, const float* imatrix);
void ggml_quantize_init(int type);

static uint64_t state = 0x9E3779B97F4A7C15ull;
static double uniform(void) { /* xorshift64*, in [0, 1) */
  state ^= state >> 12; state ^= state << 25; state ^= state >> 27;
  return (double)((state * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

int main(int argc, char** argv) {
  /* F32 F16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL IQ4_XS BF16 MXFP4 */
  const int types[] = {0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 20, 23, 30, 39};
  const int64_t n = 512, rows = 3;
  FILE* out = fopen(argc > 1 ? argv[1] : "ggml_dequant_oracle.bin", "wb");
  if (!out) return 1;
  float* src = malloc(sizeof(float) * n * rows);
  float* back = malloc(sizeof(float) * n * rows);
  for (size_t t = 0; t < sizeof types / sizeof types[0]; ++t) {
    const struct ggml_type_traits* tr = ggml_get_type_traits(types[t]);
    /* Values with a scale that changes every 32 elements and an offset that
       changes every 64, so that scales, mins and signs all vary. */
    for (int64_t i = 0; i < n * rows; ++i) {
      const double scale = 0.01 + 3.0 * uniform() * ((i / 32) % 3 == 0 ? 0.1 : 1.0);
      const double offset = ((i / 64) % 2 == 0) ? 0.0 : 0.5 * (uniform() - 0.5);
      src[i] = (float)(offset + scale * (2.0 * uniform() - 1.0));
    }
    ggml_quantize_init(types[t]);
    const size_t row_bytes = (size_t)(n / tr->blck_size) * tr->type_size;
    unsigned char* q = malloc(row_bytes * rows);
    const size_t written = ggml_quantize_chunk(types[t], src, q, 0, rows, n, NULL);
    if (written != row_bytes * rows) { fprintf(stderr, "%s: size\n", tr->type_name); return 1; }
    for (int64_t r = 0; r < rows; ++r) {
      if (tr->to_float) tr->to_float(q + r * row_bytes, back + r * n, n);
      else memcpy(back + r * n, q + r * row_bytes, row_bytes); /* F32 has no converter */
    }
    const uint32_t header[4] = {(uint32_t)types[t], (uint32_t)n, (uint32_t)rows, (uint32_t)row_bytes};
    fwrite(header, sizeof header, 1, out);
    fwrite(q, row_bytes, rows, out);
    fwrite(back, sizeof(float), (size_t)(n * rows), out);
    fprintf(stderr, "%-7s block %lld, %zu bytes/row\n", tr->type_name, (long long)tr->blck_size, row_bytes);
    free(q);
  }
  fclose(out);
  return 0;
}
