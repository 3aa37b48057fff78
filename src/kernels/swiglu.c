#include "kernels/launch.h"
#include "kernels/texels.h"
#include "vkquill/nn.h"

typedef struct swiglu_push {
    uint32_t n;
} swiglu_push;
VKQ_STATIC_ASSERT_PUSH(swiglu_push);

typedef struct swiglu_cpu_push {
    uint32_t n;
    int32_t at[5]; /* texel offsets of a, b, dout, da, db */
} swiglu_cpu_push;
VKQ_STATIC_ASSERT_PUSH(swiglu_cpu_push);

enum { FORWARD, BACKWARD };

/* slots: a, b, dout, out or da, db; the cpu kernel reads the first `streams` of them (2 in the
 * forward, all 5 in the backward) through texel spans when they fit. */
static vkq_status swiglu(vkq_rec *rec, uint32_t mode, const vkq_binding slots[5], uint32_t streams,
                         uint32_t n)
{
    swiglu_push push = {n};
    vkq_dispatch d = {.kernel = &vkq_kernel_swiglu,
                      .spec = {mode},
                      .spec_count = 1,
                      .push = &push,
                      .push_bytes = sizeof push};
    for (int i = 0; i < 5; i++)
        d.slot[i] = slots[i];
    vkq_buf bufs[5];
    uint64_t floats[5];
    for (uint32_t i = 0; i < streams; i++) {
        bufs[i] = slots[i].buf;
        floats[i] = n;
    }
    vkq_spans spans;
    if (!vkq_spans_plan(rec, bufs, floats, streams, &spans)) {
        vkq_grid_1d(n, 64, d.groups);
        return vkq_rec_dispatch(rec, &d);
    }
    swiglu_cpu_push cpu_push = {n, {0}};
    for (uint32_t i = 0; i < streams; i++)
        cpu_push.at[i] = spans.at[i];
    d.kernel = &vkq_kernel_swiglu_cpu;
    d.spec[1] = spans.bits;
    d.spec_count = 2;
    d.push = &cpu_push;
    d.push_bytes = sizeof cpu_push;
    vkq_spans_bind(&spans, &d);
    vkq_texel_grid(n, 1, d.groups);
    return vkq_rec_dispatch(rec, &d);
}

vkq_status vkq_swiglu_forward(vkq_rec *rec, vkq_buf a, vkq_buf b, vkq_buf out, uint32_t n)
{
    VKQ_TRY(vkq_need_floats("swiglu", "a", a, n));
    VKQ_TRY(vkq_need_floats("swiglu", "b", b, n));
    VKQ_TRY(vkq_need_floats("swiglu", "out", out, n));
    /* dout and db are unused in the forward; a stands in so every declared binding is valid. */
    vkq_binding slots[5] = {{a, VKQ_READ}, {b, VKQ_READ}, {a, VKQ_READ}, {out, VKQ_WRITE},
                            {a, VKQ_READ}};
    return swiglu(rec, FORWARD, slots, 2, n);
}

vkq_status vkq_swiglu_backward(vkq_rec *rec, vkq_buf dout, vkq_buf a, vkq_buf b, vkq_buf da,
                               vkq_buf db, uint32_t n)
{
    VKQ_TRY(vkq_need_floats("swiglu backward", "dout", dout, n));
    VKQ_TRY(vkq_need_floats("swiglu backward", "a", a, n));
    VKQ_TRY(vkq_need_floats("swiglu backward", "b", b, n));
    VKQ_TRY(vkq_need_floats("swiglu backward", "da", da, n));
    VKQ_TRY(vkq_need_floats("swiglu backward", "db", db, n));
    vkq_binding slots[5] = {{a, VKQ_READ}, {b, VKQ_READ}, {dout, VKQ_READ}, {da, VKQ_READ_WRITE},
                            {db, VKQ_READ_WRITE}};
    return swiglu(rec, BACKWARD, slots, 5, n);
}
