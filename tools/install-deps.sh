#!/bin/sh
# Installs the Debian/Ubuntu packages vkquill needs to build and test. Prints nothing and
# returns at once when everything is already there.
set -eu

packages="build-essential cmake pkg-config libvulkan-dev libvulkan1 mesa-vulkan-drivers \
glslang-tools libcjson-dev libcmocka-dev libxxhash-dev vulkan-validationlayers \
libpcre2-dev libutf8proc-dev libopenmpi-dev openmpi-bin clang libclang-rt-dev llvm"

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "vkquill: tools/install-deps.sh knows Debian and Ubuntu; elsewhere install CMake, a C11" \
         "compiler, pkg-config, the Vulkan headers and loader, glslangValidator, cJSON, cmocka," \
         "xxHash, PCRE2, utf8proc, a Vulkan driver (Mesa's lavapipe runs on any CPU), the" \
         "Khronos validation layer, (optional, for training across GPUs) MPI, and for make" \
         "fuzz clang with its libFuzzer runtime" >&2
    exit 1
fi

missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
else
    echo "vkquill: missing packages:$missing" >&2
    echo "install them with: sudo apt-get install -y$missing" >&2
    exit 1
fi

echo "vkquill: installing$missing"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
