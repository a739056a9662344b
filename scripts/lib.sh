# Shared by the scripts in this folder: dependency installation and builds.
# shellcheck shell=bash
set -euo pipefail

POCKETLLM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages for building and running pocketllm.
BUILD_PACKAGES=(cmake ninja-build g++ pkg-config
  libcli11-dev nlohmann-json3-dev libfmt-dev libpcre2-dev libutf8proc-dev)
# Extra packages for the tests: GoogleTest, clang with libFuzzer and the
# sanitizer runtimes for the asan configuration. Node and npm (for the
# reference implementations in tests/js) are installed by
# install_npm_test_packages only when missing: machines that carry NodeSource's
# nodejs (which bundles npm) cannot also install Debian's npm package.
TEST_PACKAGES=(libgtest-dev clang libclang-rt-dev)
# The Arm stage: Debian's aarch64 cross compiler (with its libc/libstdc++
# sysroot) and qemu-user to run what it builds. GoogleTest is built from the
# sources in libgtest-dev and fmt is used header-only, so no arm64 packages.
ARM_TEST_PACKAGES=(g++-aarch64-linux-gnu qemu-user-static)

die() { echo "pocketllm: $*" >&2; exit 1; }

# Installs the named Debian packages that are missing; does nothing when all
# are present, so running it again is cheap.
install_packages() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  echo "pocketllm: installing Debian packages: ${missing[*]}"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "need root (or sudo) to install: ${missing[*]}"
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq \
    || die "apt-get update failed; cannot install: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]} (see the apt output above)"
}

# Installs the npm packages the tests compare against (tests/js, versions
# pinned by its package-lock.json) with `npm ci`. Skipped when node_modules
# was installed from the same lockfile, so running it again is cheap.
# --omit=optional keeps node-llama-cpp slim: its prebuilt CPU binary for
# linux-x64 is a direct dependency, the GPU/other-OS builds (optional) are
# skipped; --ignore-scripts stops its postinstall from trying to download or build.
install_npm_test_packages() {
  local js_dir="$POCKETLLM_ROOT/tests/js"
  local stamp="$js_dir/node_modules/.pocketllm-lock.sha256"
  local lock_hash
  lock_hash=$(sha256sum "$js_dir/package-lock.json" | cut -d' ' -f1)
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$lock_hash" ]]; then
    return 0
  fi
  command -v npm >/dev/null || install_packages nodejs npm
  command -v npm >/dev/null || die "npm is missing after installing Debian's nodejs and npm"
  echo "pocketllm: installing npm test packages in tests/js (npm ci)"
  (cd "$js_dir" && npm ci --omit=optional --ignore-scripts --no-audit --no-fund) \
    || die "npm ci failed in $js_dir (is the npm registry reachable? see the npm output above)"
  echo "$lock_hash" > "$stamp"
}

# One compile job per ~2.5 GB of available memory, at most the core count:
# big C++ translation units OOM small machines when run wide.
build_jobs() {
  local avail_kb cores jobs
  avail_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
  cores=$(nproc)
  jobs=$(( avail_kb / 2621440 ))
  (( jobs < 1 )) && jobs=1
  (( jobs > cores )) && jobs=$cores
  echo "$jobs"
}

# configure_and_build DIR [cmake args...]
configure_and_build() {
  local dir="$1"; shift
  cmake -S "$POCKETLLM_ROOT" -B "$dir" -G Ninja "$@" \
    || die "cmake configure failed for $dir"
  cmake --build "$dir" -j "$(build_jobs)" || die "build failed in $dir"
}
