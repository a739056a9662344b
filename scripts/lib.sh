# Shared by the scripts in this folder: dependency installation and builds.
# shellcheck shell=bash
set -euo pipefail

POCKETLLM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages for building and running pocketllm.
BUILD_PACKAGES=(cmake ninja-build g++ pkg-config
  libcli11-dev nlohmann-json3-dev libfmt-dev)
# Extra packages for the tests: GoogleTest, clang with libFuzzer and the
# sanitizer runtimes for the asan configuration.
TEST_PACKAGES=(libgtest-dev clang libclang-rt-dev)

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
