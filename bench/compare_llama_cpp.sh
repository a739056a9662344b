#!/usr/bin/env bash
# pocketllm against llama.cpp on the same model file, side by side, with
# llama-bench's method on both sides (pocketllm bench / tests/js/llama_cpp_bench.mjs
# through node-llama-cpp's prebuilt CPU build), then the decode roofline:
# measured read bandwidth (pocketllm-bench-kernels, same thread count; the
# mean of a measurement before and one after the runs, since a VM's bandwidth
# drifts over minutes) divided by the weight bytes one decode step reads.
#
# usage: bench/compare_llama_cpp.sh [BUILD_DIR]
#   BUILD_DIR (default build/bench-release) is configured Release with
#   -DPOCKETLLM_BENCH=ON and built when it has no pocketllm.
# environment: PRESET (tinyllama-1.1b), TYPE (q4_0), SEED (1), THREADS (2),
#   PP (512), TG (128), REPS (3), MODEL (an existing GGUF instead of gen's),
#   DEPTH (0: tokens of context in the cache before each test, llama-bench's -d),
#   CTK / CTV (f16: KV cache types, the same on both sides; llama.cpp runs a
#   quantized V cache with flash attention, and cannot quantize a cache whose
#   head_dim is not a multiple of its 32-element blocks), FA (auto: llama.cpp's
#   flash attention for quantized caches only; on / off: always / never).
# Run it on an otherwise idle machine: both engines share the cores.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUILD_DIR="${1:-$POCKETLLM_ROOT/build/bench-release}"
PRESET="${PRESET:-tinyllama-1.1b}"
TYPE="${TYPE:-q4_0}"
SEED="${SEED:-1}"
THREADS="${THREADS:-2}"
PP="${PP:-512}"
TG="${TG:-128}"
REPS="${REPS:-3}"
DEPTH="${DEPTH:-0}"
CTK="${CTK:-f16}"
CTV="${CTV:-f16}"
FA="${FA:-auto}"

build_when_missing "$BUILD_DIR" src/pocketllm bench/pocketllm-bench-kernels -- -DPOCKETLLM_BENCH=ON
[[ -d "$POCKETLLM_ROOT/tests/js/node_modules/node-llama-cpp" ]] || install_npm_test_packages
POCKETLLM="$BUILD_DIR/src/pocketllm"

MODEL="${MODEL:-$BUILD_DIR/models/$PRESET-$TYPE-seed$SEED.gguf}"
random_model_when_missing "$POCKETLLM" "$MODEL" "$PRESET" "$TYPE" "$SEED"

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

measure_bandwidth() {
  echo "== read bandwidth (pocketllm-bench-kernels, $THREADS threads)"
  "$BUILD_DIR/bench/pocketllm-bench-kernels" --threads="$THREADS" --benchmark_filter='^$' 2>&1 \
    | grep -i "bandwidth:" | tee -a "$OUT/bandwidth.txt" || true
}

measure_bandwidth
echo "== pocketllm bench -m $MODEL -p $PP -n $TG -d $DEPTH -t $THREADS -r $REPS --ctk $CTK --ctv $CTV"
"$POCKETLLM" bench -m "$MODEL" -p "$PP" -n "$TG" -d "$DEPTH" -t "$THREADS" -r "$REPS" --ctk "$CTK" --ctv "$CTV" \
  -o json > "$OUT/ours.json"
echo "== node tests/js/llama_cpp_bench.mjs (llama.cpp via node-llama-cpp 3.21.1)"
node "$POCKETLLM_ROOT/tests/js/llama_cpp_bench.mjs" --model "$MODEL" --n-prompt "$PP" --n-gen "$TG" \
  --n-depth "$DEPTH" --threads "$THREADS" --repetitions "$REPS" --cache-type-k "$CTK" --cache-type-v "$CTV" \
  --flash-attention "$FA" --output json > "$OUT/theirs.json"
measure_bandwidth

node - "$OUT/ours.json" "$OUT/theirs.json" "$OUT/bandwidth.txt" <<'EOF'
const { readFileSync } = require("node:fs");
const [ours, theirs] = [2, 3].map((i) => JSON.parse(readFileSync(process.argv[i], "utf8")));
const bandwidths = [...readFileSync(process.argv[4], "utf8").matchAll(/bandwidth:\s*([0-9.]+)\s*GB\/s/gi)].map((m) => Number(m[1]));
const find = (list, pp) => list.find((r) => (pp ? r.n_prompt > 0 : r.n_gen > 0));
const fmt = (r) => `${r.avg_ts.toFixed(2)} ± ${r.stddev_ts.toFixed(2)}`;
console.log(`\nmodel: ${ours[0].model_filename} (${ours[0].model_type}, ${(ours[0].model_size / 2 ** 20).toFixed(1)} MiB), threads ${ours[0].n_threads}, KV ${ours[0].type_k}/${ours[0].type_v}, llama.cpp flash attention ${theirs[0].flash_attn}`);
console.log("| test | pocketllm t/s | llama.cpp t/s | ratio |\n| --- | ---: | ---: | ---: |");
for (const pp of [true, false]) {
  const a = find(ours, pp), b = find(theirs, pp);
  if (!a || !b) continue;
  const name = (pp ? `pp${a.n_prompt}` : `tg${a.n_gen}`) + (a.n_depth > 0 ? ` @ d${a.n_depth}` : "");
  console.log(`| ${name} | ${fmt(a)} | ${fmt(b)} | ${(a.avg_ts / b.avg_ts).toFixed(3)} |`);
}
const tg = find(ours, false);
if (tg && bandwidths.length > 0) {
  const bw = (bandwidths.reduce((a, b) => a + b, 0) / bandwidths.length) * 1e9;
  const roofline = bw / tg.decode_weight_bytes;
  const tgTheirs = find(theirs, false);
  console.log(`\nread bandwidth before / after the runs: ${bandwidths.map((b) => b.toFixed(2)).join(" / ")} GB/s`);
  console.log(`decode roofline: ${(bw / 1e9).toFixed(2)} GB/s / ${(tg.decode_weight_bytes / 2 ** 20).toFixed(1)} MiB per token = ${roofline.toFixed(2)} tokens/s`);
  console.log(`tg${tg.n_gen}: pocketllm at ${(100 * tg.avg_ts / roofline).toFixed(1)}% of the roofline` +
    (tgTheirs ? `, llama.cpp at ${(100 * tgTheirs.avg_ts / roofline).toFixed(1)}%` : ""));
}
EOF
