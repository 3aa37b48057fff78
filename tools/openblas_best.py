#!/usr/bin/python3
"""OpenBLAS's fastest correct kernel on this CPU, for fair comparisons with vkquill.

    /usr/bin/python3 tools/openblas_best.py [--size 1024] [--runs 10] [--json]

Debian's OpenBLAS (0.3.21) picks its kernels by CPU model and falls back to old SSE3
("Prescott") kernels on CPUs it does not know, which can make a reference several times
slower than it should be. OPENBLAS_CORETYPE forces a kernel set, but only when set before the
library loads, so each candidate runs in a child process: the detected core (no variable) and
every core type the CPU's flags allow. Each child checks sgemm against float64 before timing
it; the fastest correct one wins. Prints every candidate's sgemm GFLOP/s for the nn, nt and tn
forms (the three vkquill's `bench matmul` measures) and the winner. Other tools import
best_coretype() and run their reference under it.
"""

import argparse
import json
import os
import subprocess
import sys

# Kernel sets OpenBLAS's DYNAMIC_ARCH builds carry, each with the CPU flags it needs.
CANDIDATES = [
    ("Sandybridge", {"avx"}),
    ("Haswell", {"avx2", "fma"}),
    ("Zen", {"avx2", "fma"}),
    ("SkylakeX", {"avx512f", "avx512bw", "avx512vl"}),
    ("Cooperlake", {"avx512f", "avx512bw", "avx512vl", "avx512_bf16"}),
]
RELATIVE_TOLERANCE = 1e-4

CHILD = r"""
import ctypes, json, sys, time
import torch
size, runs = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(torch.get_num_threads())
corename = "unknown"
for name in ("libopenblas.so.0", "libblas.so.3"):
    try:
        get = ctypes.CDLL(name).openblas_get_corename
        get.restype = ctypes.c_char_p
        corename = get().decode()
        break
    except (OSError, AttributeError):
        pass
gen = torch.Generator().manual_seed(0)
a = torch.randn(size, size, generator=gen)
b = torch.randn(size, size, generator=gen)
forms = {"nn": (a, b), "nt": (a, b.t()), "tn": (a.t(), b)}
worst = 0.0
for x, y in forms.values():
    exact = x.double() @ y.double()
    err = ((x @ y).double() - exact).norm() / exact.norm()
    worst = max(worst, float(err))
gflops = {}
for form, (x, y) in forms.items():
    torch.mm(x, y)
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        torch.mm(x, y)
        best = min(best, time.perf_counter() - start)
    gflops[form] = 2.0 * size ** 3 / best / 1e9
print(json.dumps({"corename": corename, "relative_error": worst, "gflops": gflops}))
"""


def cpu_flags():
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def candidates():
    """The detected core (None) and every core type the CPU's flags allow."""
    flags = cpu_flags()
    return [None] + [name for name, needs in CANDIDATES if needs <= flags]


def measure(coretype, size=1024, runs=10):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    env.pop("OPENBLAS_L2_SIZE", None)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    proc = subprocess.run([sys.executable, "-c", CHILD, str(size), str(runs)], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return {"coretype": coretype, "error": proc.stderr.strip().splitlines()[-1:]}
    result = json.loads(proc.stdout)
    result["coretype"] = coretype
    result["correct"] = result["relative_error"] < RELATIVE_TOLERANCE
    return result


def best_coretype(size=512, runs=5):
    """(coretype or None for the detected one, every candidate's result), fastest correct."""
    results = [measure(c, size, runs) for c in candidates()]
    correct = [r for r in results if r.get("correct")]
    if not correct:
        return None, results
    best = max(correct, key=lambda r: min(r["gflops"].values()))
    return best["coretype"], results


def describe(result):
    name = result["coretype"] or "detected"
    if "error" in result:
        return f"{name}: failed ({' '.join(result['error'])})"
    rates = ", ".join(f"{form} {g:.1f}" for form, g in result["gflops"].items())
    verdict = "" if result["correct"] else f" WRONG (relative error {result['relative_error']:.1e})"
    return f"{name} ({result['corename']}): {rates} GFLOP/s{verdict}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="M = N = K")
    parser.add_argument("--runs", type=int, default=10, help="timed runs; the best counts")
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    args = parser.parse_args()
    results = [measure(c, args.size, args.runs) for c in candidates()]
    for r in results:
        print(describe(r))
    correct = [r for r in results if r.get("correct")]
    if not correct:
        print("no OpenBLAS kernel set gave correct results", file=sys.stderr)
        sys.exit(1)
    best = max(correct, key=lambda r: min(r["gflops"].values()))
    print(f"best: {describe(best)}")
    if args.json:
        print(json.dumps({"bench": "openblas_sgemm", "size": args.size, "best": best,
                          "candidates": results}))


if __name__ == "__main__":
    main()
