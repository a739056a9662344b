// `pocketllm bench -m MODEL [-p 512] [-n 128] [-d 0] [-t 2] [-r 3] [-b 2048] [--ctk f16] [--ctv f16] [-o md|json]`
// measures prompt processing (pp) and generation (tg) speed the way
// llama-bench does, with its flags and (-o json) its JSON fields:
//   pp N: BOS then N - 1 random tokens, one forward per n_batch chunk,
//         logits for the chunk's last row only;
//   tg N: N single-token decode steps (BOS, then random tokens), logits
//         every step;
//   -d D: either test runs after D tokens of context already in the cache
//         (filled before each repetition, untimed; llama-bench's n_depth).
// -p, -n, -d, -t, --ctk and --ctv take comma lists ("-p 512,1024"): one
// result row per combination, in llama-bench's order (threads, K type,
// V type, depth; then every pp test, then every tg test).
// Each test gets one warm-up run (pp: one chunk, tg: one step), then R
// timed repetitions, each starting from an empty cache (plus the depth).
// tokens/s of a repetition = N / its seconds; reported as mean and sample
// stddev. The JSON adds decode_weight_bytes, the weight bytes one decode
// step reads, for the roofline (bench/compare_llama_cpp.sh).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backends/cpu/thread_pool.h"
#include "cli/commands.h"
#include "cli/common_flags.h"
#include "engine/forward_batch.h"
#include "formats/ggml_types.h"
#include "kv/paged_kv_cache.h"
#include "model/model.h"
#include "model/model_source.h"
#include "util/error.h"

namespace pocketllm::cli {
namespace {

struct BenchOptions {
  std::string model;
  std::vector<int> n_prompt{512};
  std::vector<int> n_gen{128};
  std::vector<int> n_depth{0};
  std::vector<unsigned> n_threads{0};  // 0: ThreadPool::default_thread_count()
  int repetitions = 5;
  int n_batch = 2048;
  std::vector<std::string> cache_type_k{"f16"};
  std::vector<std::string> cache_type_v{"f16"};
  std::string output = "md";
};

KvDtype parse_kv_dtype(const std::string& name) { return kv_dtype_from_name(name, "bench: KV cache type"); }

// Size, parameter count and main weight type of the file, as llama-bench prints them.
struct ModelFacts {
  std::string filename;
  std::string type;  // "llama 1.1B Q4_0"
  uint64_t size = 0;
  uint64_t n_params = 0;
  // Weight bytes one decode step reads: all but the token embedding table,
  // of which only a row is read (unless it doubles as the output matrix).
  uint64_t decode_weight_bytes = 0;
};

ModelFacts model_facts(const std::string& path, const ModelDesc& desc) {
  const ModelSource source = open_model_source(path);
  ModelFacts facts;
  facts.filename = path.empty() ? "<embedded>" : std::filesystem::path(path).filename().string();
  facts.size = source.n_tensor_bytes;
  facts.n_params = source.n_tensor_elements;
  facts.decode_weight_bytes = source.n_tensor_bytes;
  if (source.gguf && source.gguf->find_tensor("output.weight") != nullptr) {
    if (const GgufTensorInfo* embd = source.gguf->find_tensor("token_embd.weight")) facts.decode_weight_bytes -= embd->n_bytes;
  }
  std::string main_type = "?";
  uint64_t main_bytes = 0;
  for (const TensorTypeTotals& t : source.tensor_types) {
    if (t.n_bytes > main_bytes) {
      main_bytes = t.n_bytes;
      main_type = t.type;
    }
  }
  const double billions = static_cast<double>(facts.n_params) * 1e-9;
  facts.type = billions >= 0.1 ? fmt::format("{} {:.1f}B {}", desc.architecture, billions, main_type)
                               : fmt::format("{} {:.0f}M {}", desc.architecture, billions * 1e3, main_type);
  return facts;
}

// A tiny deterministic generator for the random tokens (llama-bench: std::rand).
struct TokenSource {
  uint32_t state = 0x2545F491u;
  uint32_t vocab;
  int32_t next() {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return static_cast<int32_t>(state % vocab);
  }
};

class Bench {
 public:
  Bench(Model& model, PagedKvCache& cache, int n_batch)
      : model_(model), cache_(cache), n_batch_(n_batch), tokens_{0x2545F491u, model.desc().vocab_size} {
    const Tokenizer* tokenizer = model.tokenizer();
    bos_ = tokenizer != nullptr && tokenizer->vocab().bos >= 0 ? tokenizer->vocab().bos : tokens_.next();
  }

  // Empties the cache, then fills it with `n_depth` tokens of context (the
  // untimed part of a test at depth).
  void start(int n_depth) {
    cache_.free_sequence(kSeq);
    n_past_ = 0;
    if (n_depth > 0) prompt(n_depth);
  }

  // n tokens (BOS first on an empty cache) after what the cache holds.
  void prompt(int n) {
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = i == 0 && n_past_ == 0 ? bos_ : tokens_.next();
    for (int start = 0; start < n; start += n_batch_) {
      const int len = std::min(n_batch_, n - start);
      batch_.clear();
      batch_.add_sequence_chunk(kSeq, ids.data() + start, static_cast<size_t>(len), n_past_, true);
      step(static_cast<uint32_t>(len));
    }
  }

  void generate(int n) {
    int32_t token = bos_;
    for (int i = 0; i < n; ++i) {
      batch_.clear();
      batch_.add_sequence_chunk(kSeq, &token, 1, n_past_, true);
      step(1);
      token = tokens_.next();
    }
  }

 private:
  static constexpr SeqId kSeq = 0;

  void step(uint32_t n_new) {
    if (!cache_.reserve(kSeq, n_new)) throw InputError("bench: the KV cache is too small for the test");
    model_.forward(batch_, cache_, logits_);
    n_past_ += static_cast<int32_t>(n_new);
  }

  Model& model_;
  PagedKvCache& cache_;
  int n_batch_;
  TokenSource tokens_;
  int32_t bos_ = 0;
  int32_t n_past_ = 0;
  ForwardBatch batch_;
  std::vector<float> logits_;
};

struct TestResult {
  int n_prompt = 0;
  int n_gen = 0;
  int n_depth = 0;
  unsigned n_threads = 0;
  std::string type_k, type_v;
  std::vector<double> samples_ns;
  std::vector<double> samples_ts;
  double avg_ns = 0, stddev_ns = 0, avg_ts = 0, stddev_ts = 0;
};

double mean(const std::vector<double>& xs) {
  double s = 0;
  for (double x : xs) s += x;
  return xs.empty() ? 0.0 : s / static_cast<double>(xs.size());
}

double stddev(const std::vector<double>& xs) {
  if (xs.size() < 2) return 0.0;
  const double m = mean(xs);
  double s = 0;
  for (double x : xs) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(xs.size() - 1));
}

// `prepare` runs untimed before each repetition (the depth fill).
template <typename P, typename F>
TestResult run_test(int n_prompt, int n_gen, int repetitions, P&& prepare, F&& work) {
  TestResult r;
  r.n_prompt = n_prompt;
  r.n_gen = n_gen;
  for (int i = 0; i < repetitions; ++i) {
    prepare();
    const auto t0 = std::chrono::steady_clock::now();
    work();
    const auto ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                            std::chrono::steady_clock::now() - t0).count());
    r.samples_ns.push_back(ns);
    r.samples_ts.push_back(static_cast<double>(n_prompt + n_gen) * 1e9 / ns);
  }
  r.avg_ns = mean(r.samples_ns);
  r.stddev_ns = stddev(r.samples_ns);
  r.avg_ts = mean(r.samples_ts);
  r.stddev_ts = stddev(r.samples_ts);
  return r;
}

template <typename T>
T max_of(const std::vector<T>& xs) {
  return xs.empty() ? T{} : *std::max_element(xs.begin(), xs.end());
}

std::string test_name(const TestResult& r) {
  std::string name = r.n_prompt > 0 ? fmt::format("pp{}", r.n_prompt) : fmt::format("tg{}", r.n_gen);
  if (r.n_depth > 0) name += fmt::format(" @ d{}", r.n_depth);
  return name;
}

void run_bench(const BenchOptions& o) {
  const auto negative = [](const std::vector<int>& xs) {
    return std::any_of(xs.begin(), xs.end(), [](int x) { return x < 0; });
  };
  if (negative(o.n_prompt) || negative(o.n_gen) || negative(o.n_depth)) {
    throw InputError("bench: -p, -n and -d must be >= 0");
  }
  if (max_of(o.n_prompt) == 0 && max_of(o.n_gen) == 0) throw InputError("bench: -p and -n are both 0: nothing to test");
  if (o.repetitions < 1 || o.n_batch < 1) throw InputError("bench: -r and -b must be at least 1");
  if (o.output != "md" && o.output != "json") throw InputError(fmt::format("bench: -o must be md or json, got '{}'", o.output));
  for (const std::string& type : o.cache_type_k) parse_kv_dtype(type);
  for (const std::string& type : o.cache_type_v) parse_kv_dtype(type);
  const int64_t most_tokens = int64_t{max_of(o.n_depth)} + std::max(max_of(o.n_prompt), max_of(o.n_gen));
  if (most_tokens >= int64_t{1} << 30) throw InputError("bench: -d plus -p or -n is too large");
  const auto n_ctx = static_cast<uint32_t>(most_tokens);

  ModelFacts facts;
  std::vector<TestResult> results;
  for (const unsigned threads_option : o.n_threads) {
    const unsigned n_threads = threads_option > 0 ? threads_option : ThreadPool::default_thread_count();
    ModelLoadOptions load;
    load.n_threads = n_threads;
    const std::unique_ptr<Model> model = Model::load(o.model, load);
    if (facts.filename.empty()) facts = model_facts(o.model, model->desc());
    for (const std::string& type_k : o.cache_type_k) {
      for (const std::string& type_v : o.cache_type_v) {
        KvCacheOptions kv;
        kv.k_dtype = parse_kv_dtype(type_k);
        kv.v_dtype = parse_kv_dtype(type_v);
        kv.n_blocks = PagedKvCache::blocks_for_tokens(n_ctx, 1, kv.block_tokens);
        PagedKvCache cache(model->desc(), kv);
        Bench bench(*model, cache, o.n_batch);
        for (const int depth : o.n_depth) {
          const auto record = [&](TestResult r) {
            r.n_depth = depth;
            r.n_threads = n_threads;
            r.type_k = type_k;
            r.type_v = type_v;
            results.push_back(std::move(r));
          };
          for (const int n_prompt : o.n_prompt) {
            if (n_prompt == 0) continue;
            bench.start(0);
            bench.prompt(std::min(o.n_batch, n_prompt));  // warm-up
            record(run_test(n_prompt, 0, o.repetitions, [&] { bench.start(depth); }, [&] { bench.prompt(n_prompt); }));
          }
          for (const int n_gen : o.n_gen) {
            if (n_gen == 0) continue;
            bench.start(0);
            bench.generate(1);  // warm-up
            record(run_test(0, n_gen, o.repetitions, [&] { bench.start(depth); }, [&] { bench.generate(n_gen); }));
          }
        }
      }
    }
  }

  std::string out;
  if (o.output == "json") {
    nlohmann::json list = nlohmann::json::array();
    for (const TestResult& r : results) {
      list.push_back({{"build_number", POCKETLLM_VERSION_STRING},
                      {"backends", "CPU"},
                      {"model_filename", facts.filename},
                      {"model_type", facts.type},
                      {"model_size", facts.size},
                      {"model_n_params", facts.n_params},
                      {"decode_weight_bytes", facts.decode_weight_bytes},
                      {"n_batch", o.n_batch},
                      {"n_ubatch", o.n_batch},
                      {"n_threads", r.n_threads},
                      {"type_k", r.type_k},
                      {"type_v", r.type_v},
                      {"n_gpu_layers", 0},
                      {"n_prompt", r.n_prompt},
                      {"n_gen", r.n_gen},
                      {"n_depth", r.n_depth},
                      {"avg_ns", static_cast<uint64_t>(std::llround(r.avg_ns))},
                      {"stddev_ns", static_cast<uint64_t>(std::llround(r.stddev_ns))},
                      {"avg_ts", r.avg_ts},
                      {"stddev_ts", r.stddev_ts},
                      {"samples_ns", r.samples_ns},
                      {"samples_ts", r.samples_ts}});
    }
    out = list.dump(2) + "\n";
  } else {
    // As llama-bench: the K/V type columns only when a type other than f16 is measured.
    const bool kv_columns = std::any_of(results.begin(), results.end(),
                                        [](const TestResult& r) { return r.type_k != "f16" || r.type_v != "f16"; });
    out = kv_columns ? "| model | size | params | backend | threads | type_k | type_v | test | t/s |\n"
                       "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n"
                     : "| model | size | params | backend | threads | test | t/s |\n"
                       "| --- | ---: | ---: | --- | ---: | ---: | ---: |\n";
    for (const TestResult& r : results) {
      const std::string kv = kv_columns ? fmt::format(" {} | {} |", r.type_k, r.type_v) : std::string();
      out += fmt::format("| {} | {:.2f} MiB | {:.2f} B | CPU | {} |{} {} | {:.2f} ± {:.2f} |\n", facts.type,
                         static_cast<double>(facts.size) / (1024.0 * 1024.0), static_cast<double>(facts.n_params) * 1e-9,
                         r.n_threads, kv, test_name(r), r.avg_ts, r.stddev_ts);
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* command = app.add_subcommand("bench", "Measure prompt processing and generation speed (llama-bench's method)");
  add_model_flag(*command, options->model);
  // Comma lists, one value per occurrence otherwise (no space-separated values).
  const auto list = [](CLI::Option* option) { option->delimiter(',')->allow_extra_args(false); };
  list(command->add_option("-p,--n-prompt", options->n_prompt, "Prompt tokens of the pp tests, e.g. 512,1024 (0: none; default 512)"));
  list(command->add_option("-n,--n-gen", options->n_gen, "Generated tokens of the tg tests (0: none; default 128)"));
  list(command->add_option("-d,--n-depth", options->n_depth, "Tokens of context already in the cache before each test (default 0)"));
  list(command->add_option("-t,--threads", options->n_threads, "Threads (default: the physical cores)"));
  command->add_option("-r,--repetitions", options->repetitions, "Timed repetitions of each test (default 5)");
  command->add_option("-b,--batch-size", options->n_batch, "Tokens per forward in the pp test (default 2048)");
  list(command->add_option("--ctk,--cache-type-k", options->cache_type_k, "KV cache type of K: f16, f32 (default f16)"));
  list(command->add_option("--ctv,--cache-type-v", options->cache_type_v, "KV cache type of V: f16, f32 (default f16)"));
  command->add_option("-o,--output", options->output, "Output format: md, json (default md)");
  command->callback([options] { run_bench(*options); });
}

}  // namespace pocketllm::cli
