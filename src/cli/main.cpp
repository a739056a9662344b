// pocketllm: one binary, subcommands in the style of llama.cpp's tools.
// Exit status: 0 success, 2 bad input (unreadable or malformed model file,
// bad option), 1 anything unexpected (a bug).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstring>
#include <exception>

#include "cli/commands.h"
#include "util/error.h"

int main(int argc, char** argv) {
  CLI::App app{"pocketllm: LLM inference for machines where memory is the wall"};
  app.require_subcommand(1);
  app.set_version_flag("--version", POCKETLLM_VERSION_STRING);
  pocketllm::cli::add_info_command(app);
  pocketllm::cli::add_tokenize_command(app);
  pocketllm::cli::add_template_command(app);
  pocketllm::cli::add_gen_command(app);
  pocketllm::cli::add_bench_command(app);
  pocketllm::cli::add_run_command(app);
  pocketllm::cli::add_logits_command(app);
  pocketllm::cli::add_perplexity_command(app);

  // llama.cpp spells the KV cache type flags -ctk / -ctv and the micro-batch
  // -ub (one dash, several letters), which CLI11 cannot declare: read them
  // as --ctk / --ctv / --ub.
  static char ctk[] = "--ctk";
  static char ctv[] = "--ctv";
  static char ub[] = "--ub";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "-ctk") == 0) argv[i] = ctk;
    if (std::strcmp(argv[i], "-ctv") == 0) argv[i] = ctv;
    if (std::strcmp(argv[i], "-ub") == 0) argv[i] = ub;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const pocketllm::InputError& e) {
    std::fprintf(stderr, "pocketllm: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pocketllm: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
