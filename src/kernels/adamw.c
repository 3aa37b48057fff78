#include "kernels/launch.h"
#include "kernels/texels.h"
#include "vkquill/nn.h"

typedef struct adamw_push {
    uint32_t n;
} adamw_push;
VKQ_STATIC_ASSERT_PUSH(adamw_push);

typedef struct adamw_cpu_push {
    uint32_t n;
    int32_t at[4]; /* texel offsets of params, grads, m, v */
} adamw_cpu_push;
VKQ_STATIC_ASSERT_PUSH(adamw_cpu_push);

enum { CPU_TEXELS_PER_INVOCATION = 4 }; /* measured best on lavapipe */

_Static_assert(sizeof(vkq_adamw_hyper) == 8 * sizeof(float),
               "vkq_adamw_hyper must match the Hyper block of shaders/adamw.comp");

vkq_status vkq_adamw(vkq_rec *rec, vkq_buf params, vkq_buf grads, vkq_buf m, vkq_buf v,
                     vkq_buf hyper, vkq_buf grad_sumsq, uint32_t n)
{
    VKQ_TRY(vkq_need_floats("adamw", "params", params, n));
    VKQ_TRY(vkq_need_floats("adamw", "grads", grads, n));
    VKQ_TRY(vkq_need_floats("adamw", "m", m, n));
    VKQ_TRY(vkq_need_floats("adamw", "v", v, n));
    VKQ_TRY(vkq_need_floats("adamw", "hyper", hyper, sizeof(vkq_adamw_hyper) / sizeof(float)));
    VKQ_TRY(vkq_need_floats("adamw", "grad_sumsq", grad_sumsq, 1));
    if (n == 0)
        return VKQ_OK;
    adamw_push push = {n};
    vkq_dispatch d = {.kernel = &vkq_kernel_adamw, .push = &push, .push_bytes = sizeof push};
    d.slot[0] = (vkq_binding){params, VKQ_READ_WRITE};
    d.slot[1] = (vkq_binding){grads, VKQ_READ};
    d.slot[2] = (vkq_binding){m, VKQ_READ_WRITE};
    d.slot[3] = (vkq_binding){v, VKQ_READ_WRITE};
    d.slot[4] = (vkq_binding){hyper, VKQ_READ};
    d.slot[5] = (vkq_binding){grad_sumsq, VKQ_READ};
    vkq_buf streams[4] = {params, grads, m, v};
    uint64_t floats[4] = {n, n, n, n};
    vkq_spans spans;
    if (!vkq_spans_plan(rec, streams, floats, 4, &spans)) {
        vkq_grid_1d(n, 64, d.groups);
        return vkq_rec_dispatch(rec, &d);
    }
    adamw_cpu_push cpu_push = {n, {spans.at[0], spans.at[1], spans.at[2], spans.at[3]}};
    d.kernel = &vkq_kernel_adamw_cpu;
    d.spec[0] = spans.bits;
    d.spec[1] = CPU_TEXELS_PER_INVOCATION;
    d.spec_count = 2;
    d.push = &cpu_push;
    d.push_bytes = sizeof cpu_push;
    vkq_spans_bind(&spans, &d);
    vkq_texel_grid(n, CPU_TEXELS_PER_INVOCATION, d.groups);
    return vkq_rec_dispatch(rec, &d);
}
