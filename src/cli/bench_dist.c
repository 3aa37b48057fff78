/* bench allreduce: the gradient sum over the ranks of a job (run under mpirun), as training
 * does it: device buffer to host buckets, MPI sum, back, one bucket's copy overlapping the
 * previous bucket's sum; and the host-memory MPI sum alone. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/status_internal.h"
#include "cli/cli.h"
#include "vkquill/dist.h"

typedef struct allreduce_bench {
    uint32_t mib, runs, bucket_mib;
    int json;
    size_t count;
    double device_s, host_s;
} allreduce_bench;

/* Every rank holds rank + 1 everywhere: the sum must be n (n + 1) / 2 everywhere. */
static vkq_status check_sum(const float *x, size_t count)
{
    double n = vkq_dist_size(), want = n * (n + 1) / 2;
    for (size_t i = 0; i < count; i++)
        if (x[i] != (float)want)
            return vkq_fail(VKQ_ERR_CHECK_FAILED, "bench allreduce: element %zu is %g after the "
                            "sum, not %g", i, x[i], want);
    return VKQ_OK;
}

static void fill(float *x, size_t count)
{
    for (size_t i = 0; i < count; i++)
        x[i] = (float)(vkq_dist_rank() + 1);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of this rank's runs: a sum ends on every rank at nearly the same moment. */
static double median(double *times, uint32_t runs)
{
    qsort(times, runs, sizeof *times, compare_doubles);
    return times[runs / 2];
}

static vkq_status time_device(vkq_ctx *ctx, allreduce_bench *b, float *host, double *times)
{
    vkq_buf buf;
    VKQ_TRY(vkq_buf_alloc(ctx, 4 * b->count, &buf));
    vkq_status s = VKQ_OK;
    for (uint32_t r = 0; r <= b->runs && s == VKQ_OK; r++) { /* run 0 warms up */
        fill(host, b->count);
        s = vkq_buf_upload(ctx, buf, 0, host, 4 * b->count);
        if (s == VKQ_OK)
            s = vkq_dist_barrier();
        double t0 = cli_now_seconds();
        if (s == VKQ_OK)
            s = vkq_dist_sum_device(ctx, buf, b->count, (size_t)b->bucket_mib << 20);
        if (r)
            times[r - 1] = cli_now_seconds() - t0;
    }
    if (s == VKQ_OK)
        s = vkq_buf_download(ctx, buf, 0, host, 4 * b->count);
    if (s == VKQ_OK)
        s = check_sum(host, b->count);
    vkq_buf_free(ctx, &buf);
    b->device_s = median(times, b->runs);
    return s;
}

static vkq_status time_host(allreduce_bench *b, float *host, double *times)
{
    vkq_status s = VKQ_OK;
    size_t bucket = ((size_t)b->bucket_mib << 20) / sizeof(float);
    for (uint32_t r = 0; r <= b->runs && s == VKQ_OK; r++) {
        fill(host, b->count);
        s = vkq_dist_barrier();
        double t0 = cli_now_seconds();
        for (size_t at = 0; at < b->count && s == VKQ_OK; at += bucket)
            s = vkq_dist_sum(host + at, b->count - at < bucket ? b->count - at : bucket);
        if (r)
            times[r - 1] = cli_now_seconds() - t0;
    }
    if (s == VKQ_OK)
        s = check_sum(host, b->count);
    b->host_s = median(times, b->runs);
    return s;
}

/* GB/s of the data summed, and the bus rate 2 (n - 1) / n of it (what each link carries in a
 * ring all-reduce), as NCCL's tests report them. */
static void report(const allreduce_bench *b, const char *device)
{
    int n = vkq_dist_size();
    double bytes = 4.0 * (double)b->count, bus = 2.0 * (n - 1) / n;
    double dev = bytes / b->device_s / 1e9, host = bytes / b->host_s / 1e9;
    if (b->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "bench", "allreduce");
        cJSON_AddStringToObject(o, "device", device);
        cJSON_AddNumberToObject(o, "ranks", n);
        cJSON_AddNumberToObject(o, "mib", b->mib);
        cJSON_AddNumberToObject(o, "bucket_mib", b->bucket_mib);
        cJSON_AddNumberToObject(o, "device_ms", 1e3 * b->device_s);
        cJSON_AddNumberToObject(o, "device_gb_s", dev);
        cJSON_AddNumberToObject(o, "device_bus_gb_s", dev * bus);
        cJSON_AddNumberToObject(o, "host_ms", 1e3 * b->host_s);
        cJSON_AddNumberToObject(o, "host_gb_s", host);
        cJSON_AddNumberToObject(o, "host_bus_gb_s", host * bus);
        cli_emit_json(o);
        return;
    }
    printf("all-reduce of %u MiB over %d rank%s (%u MiB buckets, %s), median of %u runs:\n",
           b->mib, n, n == 1 ? " (run under mpirun -np N)" : "s", b->bucket_mib, device, b->runs);
    printf("  gradient (device -> host -> sum -> device): %8.2f ms  %6.2f GB/s  bus %6.2f GB/s\n",
           1e3 * b->device_s, dev, dev * bus);
    printf("  host memory only:                           %8.2f ms  %6.2f GB/s  bus %6.2f GB/s\n",
           1e3 * b->host_s, host, host * bus);
}

static vkq_status run(allreduce_bench *b)
{
    vkq_ctx *ctx;
    VKQ_TRY(cli_rank_context(&ctx));
    float *host = malloc(4 * b->count);
    double *times = calloc(b->runs, sizeof *times);
    vkq_status s = host && times ? VKQ_OK : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    if (s == VKQ_OK)
        s = time_device(ctx, b, host, times);
    if (s == VKQ_OK)
        s = time_host(b, host, times);
    if (s == VKQ_OK && vkq_dist_rank() == 0)
        report(b, vkq_ctx_device(ctx)->name);
    free(host);
    free(times);
    vkq_status d = vkq_ctx_destroy(ctx);
    return s != VKQ_OK ? s : d;
}

vkq_status cli_bench_allreduce(int argc, char **argv)
{
    allreduce_bench b = {.mib = 64, .runs = 10, .bucket_mib = VKQ_DIST_BUCKET_BYTES >> 20};
    cli_option opts[] = {{"--mib", CLI_U32, &b.mib}, {"--runs", CLI_U32, &b.runs},
                         {"--bucket-mib", CLI_U32, &b.bucket_mib}, {"--json", CLI_FLAG, &b.json}};
    VKQ_TRY(cli_parse("bench allreduce", argc, argv, 3, opts, sizeof opts / sizeof opts[0]));
    if (b.mib == 0 || b.mib > 65536 || b.runs == 0 || b.bucket_mib == 0 || b.bucket_mib > 256)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "bench allreduce: --mib takes 1 to 65536, "
                        "--bucket-mib 1 to 256 and --runs at least 1");
    b.count = ((size_t)b.mib << 20) / sizeof(float);
    VKQ_TRY(vkq_dist_start());
    vkq_status s = run(&b);
    if (s == VKQ_OK)
        vkq_dist_stop();
    return s;
}
