#!/usr/bin/env bash
# build-vulkan.sh - build tokenmeter with llama.cpp's Vulkan backend (`--features vulkan`) into
# target/vulkan/release/tokenmeter. On a machine without a GPU, Mesa's llvmpipe (a Vulkan device implemented on
# the CPU) is the device, so the offload path (-ngl, device memory, weights per device) runs on every commit.
#
# Usage: scripts/build-vulkan.sh [--print-env]
#   --print-env   print the environment the build uses (VULKAN_SDK, …) as shell assignments, and stop
#
# Steps:
#   1. Debian packages, installed when missing: mesa-vulkan-drivers (llvmpipe), libvulkan1 (the loader), glslc and
#      glslang-tools (shader compilers), vulkan-tools (vulkaninfo).
#   2. Headers. The vendored llama.cpp needs Vulkan headers >= 1.3.261 (vk::LayerSettingEXT) and SPIRV-Headers'
#      CMake package. When the system's are older (Debian 12 ships 1.3.239), the headers of Debian 13's
#      libvulkan-dev and spirv-headers (1.4.309) are downloaded with apt from a private source list and unpacked
#      with `dpkg -x` into target/vulkan/sdk; nothing is installed system-wide, libc stays as it is.
#   3. cargo build --release --features vulkan, with VULKAN_SDK pointing at the headers, in the main target
#      directory (the dependencies are shared with the CPU build); the binary is copied to target/vulkan/release.
#
# Environment:
#   VULKAN_SDK        use these headers and this loader (include/, lib/) instead of steps 1-2's choice
#   DEBIAN_HEADERS    Debian suite to take the headers from (default: trixie)
#
# Needs: apt-get and dpkg (Debian or Ubuntu), cmake, a C/C++ compiler, cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
die() { echo "build-vulkan.sh: error: $*" >&2; exit 2; }

sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

need=()
ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
ldconfig -p | grep -q 'libvulkan\.so\.1 ' || need+=(libvulkan1)
command -v glslc >/dev/null 2>&1 || need+=(glslc)
command -v glslangValidator >/dev/null 2>&1 || need+=(glslang-tools)
command -v vulkaninfo >/dev/null 2>&1 || need+=(vulkan-tools)
if [ ${#need[@]} -gt 0 ] && [ "${1:-}" != "--print-env" ]; then
  echo "build-vulkan.sh: installing ${need[*]}" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi

multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
loader=$(ldconfig -p | sed -n 's/.*libvulkan\.so\.1 (.*) => //p' | head -n 1)
[ -n "$loader" ] || loader=/usr/lib/$multiarch/libvulkan.so.1

# Headers new enough: VK_EXT_layer_settings in vulkan_core.h, and SPIRV-Headers' CMake package.
headers_ok() {
  grep -q VK_EXT_layer_settings "$1/include/vulkan/vulkan_core.h" 2>/dev/null &&
    [ -f "$1/include/vulkan/vulkan.hpp" ] &&
    ls "$1"/share/cmake/SPIRV-Headers/SPIRV-HeadersConfig.cmake >/dev/null 2>&1
}

if [ -z "${VULKAN_SDK:-}" ]; then
  sdk=$root/target/vulkan/sdk/usr
  if headers_ok /usr; then
    VULKAN_SDK=/usr
  elif headers_ok "$sdk" && [ -e "$sdk/lib/libvulkan.so" ]; then
    VULKAN_SDK=$sdk
  elif [ "${1:-}" = "--print-env" ]; then
    die "no Vulkan headers yet: run scripts/build-vulkan.sh once"
  else
    suite=${DEBIAN_HEADERS:-trixie}
    apt_dir=$root/target/vulkan/apt
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main" \
      > "$apt_dir/sources.list"
    apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o APT::Get::List-Cleanup=0
      -o APT::Sandbox::User=root)
    echo "build-vulkan.sh: downloading libvulkan-dev and spirv-headers from Debian $suite (headers only)" >&2
    apt-get "${apt_opts[@]}" update -qq || die "apt-get update of Debian $suite failed (network?)"
    (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download libvulkan-dev spirv-headers) ||
      die "apt-get download libvulkan-dev spirv-headers from Debian $suite failed"
    rm -rf "$root/target/vulkan/sdk"
    for deb in "$apt_dir"/debs/*.deb; do dpkg -x "$deb" "$root/target/vulkan/sdk"; done
    # FindVulkan looks for the loader in $VULKAN_SDK/lib: the system's runtime loader, which Debian 12 has.
    ln -sf "$loader" "$sdk/lib/libvulkan.so"
    headers_ok "$sdk" || die "$sdk: the downloaded headers lack VK_EXT_layer_settings or SPIRV-Headers"
    VULKAN_SDK=$sdk
  fi
fi

if [ "${1:-}" = "--print-env" ]; then
  echo "VULKAN_SDK=$VULKAN_SDK"
  exit 0
fi

export VULKAN_SDK
echo "build-vulkan.sh: VULKAN_SDK=$VULKAN_SDK, loader $loader" >&2
# In the main target directory, so that every dependency the CPU build compiled is reused; only llama.cpp and
# tokenmeter are built again with the feature. Cargo puts the binary at target/release/tokenmeter, so it is copied
# out and the CPU build's binary put back (cargo restores a fresh unit's binary without compiling).
cpu_bin=$root/target/release/tokenmeter
had_cpu=0
[ -x "$cpu_bin" ] && had_cpu=1
cargo build --release --features vulkan --bin tokenmeter
mkdir -p "$root/target/vulkan/release"
cp -f "$cpu_bin" "$root/target/vulkan/release/tokenmeter.tmp"
mv -f "$root/target/vulkan/release/tokenmeter.tmp" "$root/target/vulkan/release/tokenmeter"
if [ "$had_cpu" = 1 ]; then
  env -u VULKAN_SDK cargo build --release --bin tokenmeter
else
  rm -f "$cpu_bin"
fi
echo "built $root/target/vulkan/release/tokenmeter" >&2
