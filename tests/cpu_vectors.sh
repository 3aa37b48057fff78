#!/bin/sh
# lavapipe's vector width: with LP_NATIVE_VECTOR_WIDTH unset, vkquill asks for 512 bits exactly
# when /proc/cpuinfo lists AVX-512 and lavapipe is Mesa 22 or older (newer Mesa ran the cpu
# kernels slower at 512 bits), and a width the user sets is left alone. The width lavapipe
# names in its device name shows that the choice reached the driver.
vkquill=$1
fail() { echo "FAIL: $*"; exit 1; }

lavapipe_line() { env "$@" "$vkquill" devices --json | grep '"name":"llvmpipe'; }
line=$(lavapipe_line -u LP_NATIVE_VECTOR_WIDTH) || { echo "skipped: no lavapipe device"; exit 77; }
mesa=$(echo "$line" | sed -n 's/.*"driver":"llvmpipe Mesa \([0-9]*\)\..*/\1/p')
[ -n "$mesa" ] || fail "no Mesa version in the driver: $line"
if grep -qw avx512f /proc/cpuinfo && [ "$mesa" -le 22 ]; then
    echo "$line" | grep -q '512 bits)' || fail "AVX-512 CPU but lavapipe is not at 512 bits: $line"
    echo "$line" | grep -q "chosen because the CPU has AVX-512 and lavapipe is Mesa $mesa" ||
        fail "no reason given: $line"
elif grep -qw avx512f /proc/cpuinfo; then
    echo "$line" | grep -q '512 bits)' && fail "Mesa $mesa but lavapipe runs 512 bits: $line"
    echo "$line" | grep -q "ran slower on Mesa newer than 22 and this is Mesa $mesa" ||
        fail "no reason given: $line"
else
    echo "$line" | grep -q '512 bits)' && fail "no AVX-512 but lavapipe runs 512 bits: $line"
    echo "$line" | grep -q 'the CPU has no AVX-512' || fail "no reason given: $line"
fi
echo "ok: unset: $line"

for width in 256 512; do
    line=$(lavapipe_line LP_NATIVE_VECTOR_WIDTH=$width) || fail "devices with width $width"
    echo "$line" | grep -q "$width bits)" || fail "LP_NATIVE_VECTOR_WIDTH=$width not kept: $line"
    echo "$line" | grep -q "$width bits, as LP_NATIVE_VECTOR_WIDTH asks" ||
        fail "the user's width is not named: $line"
done
echo "ok: a width in LP_NATIVE_VECTOR_WIDTH is kept and named"
