#include "kernels/texels.h"
#include "vkquill/kernels.h"

typedef struct reduce_push {
    uint32_t n;
} reduce_push;
VKQ_STATIC_ASSERT_PUSH(reduce_push);

typedef struct reduce_cpu_push {
    uint32_t n;
    int32_t x_at;
    uint32_t invocations;
} reduce_cpu_push;
VKQ_STATIC_ASSERT_PUSH(reduce_cpu_push);

enum { MAX_PARTIALS = 256 };
enum { CPU_TEXELS_PER_PARTIAL = 256, CPU_MAX_PARTIALS = 1024 };

static vkq_status reduce_pass(vkq_rec *rec, uint32_t square, vkq_buf x, uint32_t n,
                              uint32_t groups, vkq_buf out)
{
    reduce_push push = {n};
    vkq_dispatch d = {.kernel = &vkq_kernel_reduce,
                      .spec = {square},
                      .spec_count = 1,
                      .push = &push,
                      .push_bytes = sizeof push,
                      .groups = {groups, 1, 1}};
    d.slot[0] = (vkq_binding){x, VKQ_READ};
    d.slot[1] = (vkq_binding){out, VKQ_WRITE};
    return vkq_rec_dispatch(rec, &d);
}

static vkq_status cpu_pass(vkq_rec *rec, uint32_t square, vkq_buf x, uint32_t n,
                           const vkq_spans *spans, uint32_t invocations, vkq_buf out)
{
    reduce_cpu_push push = {n, spans->at[0], invocations};
    vkq_dispatch d = {.kernel = &vkq_kernel_reduce_cpu,
                      .spec = {square, spans->bits},
                      .spec_count = 2,
                      .push = &push,
                      .push_bytes = sizeof push};
    d.slot[0] = (vkq_binding){x, VKQ_READ};
    d.slot[1] = (vkq_binding){out, VKQ_WRITE};
    vkq_spans_bind(spans, &d);
    vkq_grid_1d(invocations, 64, d.groups);
    return vkq_rec_dispatch(rec, &d);
}

static vkq_status reduce(vkq_rec *rec, uint32_t square, vkq_buf x, uint32_t n, vkq_buf out);

/* Partial sums over texel spans, then the sum of the partials (recursively; a single partial
 * is the whole sum). */
/* Partials of the cpu pass; fewer than a texel holds: none, one invocation sums it all. */
static uint32_t cpu_partials(uint32_t n)
{
    uint32_t invocations = n / 4 / CPU_TEXELS_PER_PARTIAL;
    if (invocations > CPU_MAX_PARTIALS)
        invocations = CPU_MAX_PARTIALS;
    return invocations < 4 ? 0 : invocations;
}

static uint32_t gpu_partials(uint32_t n)
{
    uint32_t groups = (n + 1023) / 1024;
    groups = groups > MAX_PARTIALS ? MAX_PARTIALS : groups;
    return groups == 1 ? 0 : groups;
}

static vkq_status reduce_cpu(vkq_rec *rec, uint32_t square, vkq_buf x, uint32_t n,
                             const vkq_spans *spans, vkq_buf out)
{
    uint32_t invocations = cpu_partials(n);
    if (!invocations)
        return cpu_pass(rec, square, x, n, spans, 1, vkq_buf_slice(out, 0, 4));
    vkq_buf partials;
    VKQ_TRY(vkq_rec_scratch(rec, invocations * 4ull, &partials));
    vkq_status s = cpu_pass(rec, square, x, n, spans, invocations, partials);
    if (s == VKQ_OK)
        s = reduce(rec, 0, partials, invocations, out);
    vkq_rec_scratch_release(rec, partials);
    return s;
}

static vkq_status reduce(vkq_rec *rec, uint32_t square, vkq_buf x, uint32_t n, vkq_buf out)
{
    if (!x.block || x.size / 4 < n || n == 0 || !out.block || out.size < 4)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "%s: needs n > 0, an input of n floats and an output of one float",
                        square ? "sumsq" : "sum");
    uint64_t floats = n;
    vkq_spans spans;
    if (vkq_spans_plan(rec, &x, &floats, 1, &spans))
        return reduce_cpu(rec, square, x, n, &spans, out);
    uint32_t groups = gpu_partials(n);
    if (!groups)
        return reduce_pass(rec, square, x, n, 1, vkq_buf_slice(out, 0, 4));
    vkq_buf partials;
    VKQ_TRY(vkq_rec_scratch(rec, groups * 4ull, &partials));
    vkq_status s = reduce_pass(rec, square, x, n, groups, partials);
    if (s == VKQ_OK)
        s = reduce_pass(rec, 0, partials, groups, 1, vkq_buf_slice(out, 0, 4));
    vkq_rec_scratch_release(rec, partials);
    return s;
}

uint64_t vkq_reduce_scratch(const vkq_scratch_target *t, uint32_t n)
{
    return 4ull * (t->variant == VKQ_VARIANT_CPU ? cpu_partials(n) : gpu_partials(n));
}

vkq_status vkq_sum(vkq_rec *rec, vkq_buf x, uint32_t n, vkq_buf out)
{
    return reduce(rec, 0, x, n, out);
}

vkq_status vkq_sumsq(vkq_rec *rec, vkq_buf x, uint32_t n, vkq_buf out)
{
    return reduce(rec, 1, x, n, out);
}
