#!/bin/sh
# Bad input to the command line: one clear line on stderr, nothing on stdout, non-zero exit.
vkquill=$1
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect_error DESCRIPTION SUBSTRING [env assignments...] -- ARGS...
expect_error() {
    what=$1 want=$2
    shift 2
    envs=""
    while [ "$1" != "--" ]; do envs="$envs $1"; shift; done
    shift
    env $envs "$vkquill" "$@" >"$tmp/out" 2>"$tmp/err"
    code=$?
    lines=$(wc -l <"$tmp/err")
    if [ $code -eq 0 ] || [ "$lines" -ne 1 ] || [ -s "$tmp/out" ] || ! grep -qF -- "$want" "$tmp/err"; then
        echo "FAIL: $what (exit $code, $lines stderr lines)"
        sed 's/^/  stderr: /' "$tmp/err"
        sed 's/^/  stdout: /' "$tmp/out"
        failures=$((failures + 1))
    else
        echo "ok: $what: $(cat "$tmp/err")"
    fi
}

expect_error "no driver" "mesa-vulkan-drivers" \
    VK_ICD_FILENAMES=/nonexistent/icd.json VK_DRIVER_FILES=/nonexistent/icd.json -- devices
expect_error "no loader" "apt-get install libvulkan1" \
    VKQ_VULKAN_LIBRARY=/nonexistent/libvulkan.so.1 -- devices
expect_error "not a loader" "is not a Vulkan loader" VKQ_VULKAN_LIBRARY=libc.so.6 -- devices
expect_error "unknown device" "matches none of the" VKQ_DEVICE=no-such-gpu -- selftest
expect_error "device index out of range" "matches none of the" VKQ_DEVICE=99 -- selftest
expect_error "unknown variant" "VKQ_VARIANT=fast" VKQ_VARIANT=fast -- selftest --kernel reduce
expect_error "unknown command" "unknown command 'frobnicate'" -- frobnicate
expect_error "unknown option" "unknown option '--fast'" -- devices --fast
expect_error "missing benchmark" "name a benchmark" -- bench
expect_error "unknown benchmark" "unknown benchmark 'sort'" -- bench sort
expect_error "non-numeric size" "--m expects a positive integer, got 'abc'" -- bench matmul --m abc
expect_error "zero size" "--k expects a positive integer, got '0'" -- bench matmul --k 0
expect_error "negative size" "--n expects a positive integer, got '-5'" -- bench matmul --n -5
expect_error "missing value" "--runs needs a value" -- bench matmul --runs
expect_error "unknown form" "--form expects nn, nt or tn, got 'tt'" -- bench matmul --form tt
expect_error "unknown kernel family" "no kernel family is named 'conv'" -- selftest --kernel conv
expect_error "unknown selftest variant" "--variant expects cpu or gpu" -- selftest --variant tpu

if [ $failures -ne 0 ]; then
    echo "$failures CLI error check(s) failed"
    exit 1
fi
echo "all CLI error checks passed"
