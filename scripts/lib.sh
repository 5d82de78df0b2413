# Shared by scripts/run.sh and scripts/test.sh: install what is missing, build.
# Idempotent and quick when everything is already there.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${SLUICE_BUILD_DIR:-$REPO_ROOT/build}"
# ccache keys on paths relative to the checkout, so a fresh clone elsewhere
# (CI's) reuses what an earlier build of the same sources compiled.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$REPO_ROOT}"
# The sanitizer build carries debug info (-g1), and ccache then keys on the
# build directory too unless told not to: without this a fresh clone at
# another path would compile the whole ASan build again.
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"

# Debian 12 packages the build needs (see docs/development.md).
BUILD_PACKAGES=(cmake g++ make pkg-config ccache
  libboost1.81-dev libboost-system1.81-dev nlohmann-json3-dev libssl-dev libhiredis-dev
  libspdlog-dev libyaml-cpp-dev libsimdjson-dev libre2-dev libgtest-dev libgmock-dev
  libeigen3-dev libutf8proc-dev wordnet-base libxxhash-dev libhnswlib-dev)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the named Debian packages that are not installed yet.
ensure_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Configures and builds the given CMake targets (default: all) in Release.
# Configuring every time is cheap and makes CMAKE_ARGS win over an old cache.
build() {
  cmake -S "$REPO_ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "${CMAKE_ARGS[@]}" > /dev/null
  # ccache keys on the locale (compiler messages depend on it): one fixed
  # locale lets the container image's build stage reuse what this build cached.
  env -u LC_ALL -u LC_CTYPE -u LC_MESSAGES LANG=C.UTF-8 \
    cmake --build "$BUILD_DIR" -j "$(nproc)" ${1:+--target "$@"}
}
CMAKE_ARGS=()
