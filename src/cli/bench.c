#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status_internal.h"
#include "cli/cli.h"
#include "vk/vk_internal.h"
#include "vkquill/kernels.h"

enum { OVERHEAD_DISPATCHES = 100, OVERHEAD_RUNS = 15 };

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Median seconds of `runs` submissions of what rec holds (after two warm-up submissions). */
static vkq_status time_submits(vkq_rec *rec, int runs, double *seconds)
{
    double *t = calloc((size_t)runs, sizeof *t);
    if (!t)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_status s = vkq_rec_submit(rec);
    if (s == VKQ_OK)
        s = vkq_rec_submit(rec);
    for (int i = 0; i < runs && s == VKQ_OK; i++) {
        double t0 = cli_now_seconds();
        s = vkq_rec_submit(rec);
        t[i] = cli_now_seconds() - t0;
    }
    if (s == VKQ_OK)
        *seconds = median(t, runs);
    free(t);
    return s;
}

/* Fills of 64 floats into separate slices: no barriers, only per-dispatch cost. */
static vkq_status record_fills(vkq_rec *rec, vkq_buf buf, int count)
{
    VKQ_TRY(vkq_rec_begin(rec));
    for (int i = 0; i < count; i++)
        VKQ_TRY(vkq_fill(rec, vkq_buf_slice(buf, (uint64_t)i * 256, 256), 1.0f, 64));
    return vkq_rec_end(rec);
}

static vkq_status measure_overheads(vkq_ctx *ctx, vkq_rec *rec, double *submit_us,
                                    double *dispatch_us)
{
    vkq_buf buf;
    VKQ_TRY(vkq_buf_alloc(ctx, 256ull * (OVERHEAD_DISPATCHES + 1), &buf));
    double one = 0, many = 0;
    vkq_status s = vkq_rec_begin(rec);
    if (s == VKQ_OK)
        s = vkq_rec_end(rec);
    if (s == VKQ_OK)
        s = time_submits(rec, OVERHEAD_RUNS, submit_us);
    if (s == VKQ_OK)
        s = record_fills(rec, buf, 1);
    if (s == VKQ_OK)
        s = time_submits(rec, OVERHEAD_RUNS, &one);
    if (s == VKQ_OK)
        s = record_fills(rec, buf, OVERHEAD_DISPATCHES + 1);
    if (s == VKQ_OK)
        s = time_submits(rec, OVERHEAD_RUNS, &many);
    vkq_buf_free(ctx, &buf);
    *submit_us *= 1e6;
    *dispatch_us = (many - one) / OVERHEAD_DISPATCHES * 1e6;
    return s;
}

typedef struct matmul_bench {
    vkq_matmul_args args;
    uint32_t runs;
    int json;
    double submit_us, dispatch_us;
} matmul_bench;

static vkq_status random_buffer(vkq_ctx *ctx, uint64_t n, uint64_t *seed, vkq_buf *out)
{
    float *h = malloc(n * sizeof *h);
    if (!h)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory for %llu floats",
                        (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
        h[i] = (float)((*seed >> 40) * (1.0 / 16777216.0)) - 0.5f;
    }
    vkq_status s = vkq_buf_alloc(ctx, n * sizeof *h, out);
    if (s == VKQ_OK)
        s = vkq_buf_upload(ctx, *out, 0, h, n * sizeof *h);
    free(h);
    return s;
}

static void print_matmul(const vkq_ctx *ctx, const matmul_bench *b, double seconds)
{
    const vkq_matmul_args *a = &b->args;
    double flops = 2.0 * a->m * a->n * a->k * (a->batch ? a->batch : 1);
    double gflops = flops / seconds * 1e-9;
    const char *form = vkq_matmul_form_name(a->form);
    if (!b->json) {
        printf("matmul %s m=%u n=%u k=%u batch=%u: %.1f GFLOP/s (%.2f ms, median of %u) "
               "[%s kernels on %s]\n",
               form, a->m, a->n, a->k, a->batch ? a->batch : 1, gflops, seconds * 1e3, b->runs,
               vkq_variant_name(vkq_ctx_variant(ctx)), vkq_ctx_device(ctx)->name);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "bench", "matmul");
    cJSON_AddStringToObject(o, "form", form);
    cJSON_AddNumberToObject(o, "m", a->m);
    cJSON_AddNumberToObject(o, "n", a->n);
    cJSON_AddNumberToObject(o, "k", a->k);
    cJSON_AddNumberToObject(o, "batch", a->batch ? a->batch : 1);
    cJSON_AddNumberToObject(o, "gflops", gflops);
    cJSON_AddNumberToObject(o, "ms", seconds * 1e3);
    cJSON_AddNumberToObject(o, "runs", b->runs);
    cJSON_AddNumberToObject(o, "dispatch_us", b->dispatch_us);
    cJSON_AddNumberToObject(o, "submit_us", b->submit_us);
    cJSON_AddStringToObject(o, "variant", vkq_variant_name(vkq_ctx_variant(ctx)));
    cJSON_AddStringToObject(o, "device", vkq_ctx_device(ctx)->name);
    cli_emit_json(o);
}

static vkq_status bench_matmul_form(vkq_ctx *ctx, vkq_rec *rec, matmul_bench *b)
{
    const vkq_matmul_args *a = &b->args;
    uint64_t batch = a->batch ? a->batch : 1, seed = 42;
    vkq_buf da = {0}, db = {0}, dc = {0};
    vkq_status s = random_buffer(ctx, (uint64_t)a->m * a->k * batch, &seed, &da);
    if (s == VKQ_OK)
        s = random_buffer(ctx, (uint64_t)a->k * a->n * batch, &seed, &db);
    if (s == VKQ_OK)
        s = vkq_buf_alloc(ctx, (uint64_t)a->m * a->n * batch * 4, &dc);
    if (s == VKQ_OK)
        s = vkq_rec_begin(rec);
    if (s == VKQ_OK)
        s = vkq_matmul(rec, a, da, db, dc);
    if (s == VKQ_OK)
        s = vkq_rec_end(rec);
    double seconds = 0;
    if (s == VKQ_OK)
        s = time_submits(rec, (int)b->runs, &seconds);
    if (s == VKQ_OK)
        print_matmul(ctx, b, seconds);
    vkq_rec_begin(rec); /* releases the packing scratch */
    vkq_buf_free(ctx, &da);
    vkq_buf_free(ctx, &db);
    vkq_buf_free(ctx, &dc);
    return s;
}

static vkq_status parse_form(const char *text, int *first, int *last)
{
    if (!text) {
        *first = VKQ_MATMUL_NN;
        *last = VKQ_MATMUL_TN;
        return VKQ_OK;
    }
    for (int f = VKQ_MATMUL_NN; f <= VKQ_MATMUL_TN; f++)
        if (strcmp(text, vkq_matmul_form_name((vkq_matmul_form)f)) == 0) {
            *first = *last = f;
            return VKQ_OK;
        }
    return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                    "bench matmul: --form expects nn, nt or tn, got '%s'", text);
}

static vkq_status bench_matmul(int argc, char **argv)
{
    matmul_bench b = {.args = {.m = 1024, .n = 1024, .k = 1024, .batch = 1, .alpha = 1.0f},
                      .runs = 10};
    const char *form = NULL;
    cli_option opts[] = {{"--m", CLI_U32, &b.args.m},       {"--n", CLI_U32, &b.args.n},
                         {"--k", CLI_U32, &b.args.k},       {"--batch", CLI_U32, &b.args.batch},
                         {"--runs", CLI_U32, &b.runs},      {"--form", CLI_STRING, &form},
                         {"--json", CLI_FLAG, &b.json}};
    int first = 0, last = 0;
    VKQ_TRY(cli_parse("bench matmul", argc, argv, 3, opts, sizeof opts / sizeof opts[0]));
    VKQ_TRY(parse_form(form, &first, &last));
    vkq_ctx *ctx;
    VKQ_TRY(vkq_ctx_create(NULL, &ctx));
    vkq_rec *rec = NULL;
    vkq_status s = vkq_rec_create(ctx, &rec);
    if (s == VKQ_OK)
        s = measure_overheads(ctx, rec, &b.submit_us, &b.dispatch_us);
    if (s == VKQ_OK && !b.json)
        printf("overheads: %.1f us per submit, %.1f us per extra dispatch\n", b.submit_us,
               b.dispatch_us);
    for (int f = first; f <= last && s == VKQ_OK; f++) {
        b.args.form = (vkq_matmul_form)f;
        s = bench_matmul_form(ctx, rec, &b);
    }
    vkq_rec_destroy(rec);
    vkq_ctx_print_profile(ctx, stderr);
    vkq_status d = vkq_ctx_destroy(ctx);
    return s != VKQ_OK ? s : d;
}

int cmd_bench(int argc, char **argv)
{
    vkq_status s;
    if (argc < 3)
        s = vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                     "bench: name a benchmark: matmul, train, generate, tokenize, allreduce");
    else if (strcmp(argv[2], "matmul") == 0)
        s = bench_matmul(argc, argv);
    else if (strcmp(argv[2], "train") == 0)
        s = cli_bench_train(argc, argv);
    else if (strcmp(argv[2], "generate") == 0)
        s = cli_bench_generate(argc, argv);
    else if (strcmp(argv[2], "tokenize") == 0)
        s = cli_bench_tokenize(argc, argv);
    else if (strcmp(argv[2], "allreduce") == 0)
        s = cli_bench_allreduce(argc, argv);
    else
        s = vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                     "bench: unknown benchmark '%s'; known: matmul, train, generate, tokenize, "
                     "allreduce",
                     argv[2]);
    return s == VKQ_OK ? 0 : cli_fail(s);
}
