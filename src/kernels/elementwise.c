#include "kernels/texels.h"
#include "vkquill/kernels.h"

typedef struct elementwise_push {
    uint32_t n;
    float s;
} elementwise_push;
VKQ_STATIC_ASSERT_PUSH(elementwise_push);

typedef struct elementwise_cpu_push {
    uint32_t n;
    float s;
    int32_t x_at, y_at;
} elementwise_cpu_push;
VKQ_STATIC_ASSERT_PUSH(elementwise_cpu_push);

enum { CPU_TEXELS_PER_INVOCATION = 4 }; /* measured best on lavapipe */

enum { OP_ADD, OP_SCALE, OP_AXPY, OP_COPY, OP_FILL };

/* The cpu variant when texel spans can hold the streams: x and, for add, y; axpy reads its
 * output as stream 1, and fill, which reads nothing, lets its output stand in for stream 0
 * because the kernel declares both texel bindings. */
static int plan_cpu(vkq_rec *rec, uint32_t op, vkq_buf x, vkq_buf y, vkq_buf out, uint32_t n,
                    vkq_spans *spans)
{
    vkq_buf streams[2] = {op == OP_FILL ? out : x, op == OP_AXPY ? out : y};
    uint64_t floats[2] = {n, n};
    uint32_t count = op == OP_ADD || op == OP_AXPY ? 2 : 1;
    return vkq_spans_plan(rec, streams, floats, count, spans);
}

static vkq_status check_len(const char *op, vkq_buf buf, uint32_t n)
{
    if (buf.block && buf.size / 4 >= n)
        return VKQ_OK;
    return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: a buffer of %llu bytes is shorter than %u floats",
                    op, (unsigned long long)buf.size, n);
}

static vkq_status elementwise(vkq_rec *rec, uint32_t op, const char *name, vkq_buf x, vkq_buf y,
                              vkq_buf out, vkq_access out_access, float s, uint32_t n)
{
    elementwise_push push = {n, s};
    vkq_dispatch d = {.kernel = &vkq_kernel_elementwise,
                      .spec = {op},
                      .spec_count = 1,
                      .push = &push,
                      .push_bytes = sizeof push};
    if (n == 0)
        return VKQ_OK;
    VKQ_TRY(check_len(name, out, n));
    if (x.block)
        VKQ_TRY(check_len(name, x, n));
    if (y.block)
        VKQ_TRY(check_len(name, y, n));
    /* The shader declares all three bindings; operations without an input bind the output
     * there, unread, so every binding the SPIR-V names is valid. */
    d.slot[0] = (vkq_binding){x.block ? x : out, VKQ_READ};
    d.slot[1] = (vkq_binding){y.block ? y : out, VKQ_READ};
    d.slot[2] = (vkq_binding){out, out_access};
    vkq_spans spans;
    if (!plan_cpu(rec, op, x, y, out, n, &spans)) {
        vkq_grid_1d(n, 64, d.groups);
        return vkq_rec_dispatch(rec, &d);
    }
    elementwise_cpu_push cpu_push = {n, s, spans.at[0], spans.at[1]};
    d.kernel = &vkq_kernel_elementwise_cpu;
    d.spec[1] = spans.bits;
    d.spec[2] = CPU_TEXELS_PER_INVOCATION;
    d.spec_count = 3;
    d.push = &cpu_push;
    d.push_bytes = sizeof cpu_push;
    vkq_spans_bind(&spans, &d);
    vkq_texel_grid(n, CPU_TEXELS_PER_INVOCATION, d.groups);
    return vkq_rec_dispatch(rec, &d);
}

static const vkq_buf none;

vkq_status vkq_add(vkq_rec *rec, vkq_buf a, vkq_buf b, vkq_buf out, uint32_t n)
{
    return elementwise(rec, OP_ADD, "add", a, b, out, VKQ_WRITE, 0.0f, n);
}

vkq_status vkq_scale(vkq_rec *rec, vkq_buf x, vkq_buf out, float s, uint32_t n)
{
    return elementwise(rec, OP_SCALE, "scale", x, none, out, VKQ_WRITE, s, n);
}

vkq_status vkq_axpy(vkq_rec *rec, float alpha, vkq_buf x, vkq_buf y, uint32_t n)
{
    return elementwise(rec, OP_AXPY, "axpy", x, none, y, VKQ_READ_WRITE, alpha, n);
}

vkq_status vkq_copy(vkq_rec *rec, vkq_buf src, vkq_buf dst, uint32_t n)
{
    return elementwise(rec, OP_COPY, "copy", src, none, dst, VKQ_WRITE, 0.0f, n);
}

vkq_status vkq_fill(vkq_rec *rec, vkq_buf dst, float value, uint32_t n)
{
    return elementwise(rec, OP_FILL, "fill", none, none, dst, VKQ_WRITE, value, n);
}
