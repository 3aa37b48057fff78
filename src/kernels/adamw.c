#include "kernels/launch.h"
#include "kernels/texels.h"
#include "vkquill/nn.h"

typedef struct adamw_push {
    uint32_t n;
} adamw_push;
VKQ_STATIC_ASSERT_PUSH(adamw_push);

typedef struct adamw_cpu_push {
    uint32_t first_group;
    int32_t at[4]; /* texel offsets of params, grads, m, v */
} adamw_cpu_push;
VKQ_STATIC_ASSERT_PUSH(adamw_cpu_push);

enum {
    CPU_TEXELS_PER_INVOCATION = 16, /* measured best on lavapipe */
    CPU_GROUP_FLOATS = 8 * CPU_TEXELS_PER_INVOCATION * 4,
    MAX_GROUPS_X = 65535
};

_Static_assert(sizeof(vkq_adamw_hyper) == 8 * sizeof(float),
               "vkq_adamw_hyper must match the Hyper block of shaders/adamw.comp");

typedef struct adamw_streams {
    vkq_buf params, grads, m, v, hyper, grad_sumsq;
} adamw_streams;

static void bind(vkq_dispatch *d, const adamw_streams *s)
{
    d->slot[0] = (vkq_binding){s->params, VKQ_READ_WRITE};
    d->slot[1] = (vkq_binding){s->grads, VKQ_READ};
    d->slot[2] = (vkq_binding){s->m, VKQ_READ_WRITE};
    d->slot[3] = (vkq_binding){s->v, VKQ_READ_WRITE};
    d->slot[4] = (vkq_binding){s->hyper, VKQ_READ};
    d->slot[5] = (vkq_binding){s->grad_sumsq, VKQ_READ};
}

/* adamw.comp over the n floats from float `first` of each stream. */
static vkq_status adamw_any(vkq_rec *rec, const adamw_streams *s, uint64_t first, uint32_t n)
{
    adamw_streams from = *s;
    vkq_buf *streams[4] = {&from.params, &from.grads, &from.m, &from.v};
    for (int i = 0; i < 4; i++)
        *streams[i] = vkq_buf_slice(*streams[i], first * 4, (uint64_t)n * 4);
    adamw_push push = {n};
    vkq_dispatch d = {.kernel = &vkq_kernel_adamw, .push = &push, .push_bytes = sizeof push};
    bind(&d, &from);
    vkq_grid_1d(n, 64, d.groups);
    return vkq_rec_dispatch(rec, &d);
}

/* adamw_cpu over `groups` whole workgroups: rows of MAX_GROUPS_X, then the rest, so that no
 * workgroup falls past the end. */
static vkq_status adamw_cpu(vkq_rec *rec, const adamw_streams *s, const vkq_spans *spans,
                            uint32_t groups)
{
    adamw_cpu_push push = {0, {spans->at[0], spans->at[1], spans->at[2], spans->at[3]}};
    vkq_dispatch d = {.kernel = &vkq_kernel_adamw_cpu,
                      .spec = {spans->bits, CPU_TEXELS_PER_INVOCATION},
                      .spec_count = 2,
                      .push = &push,
                      .push_bytes = sizeof push};
    bind(&d, s);
    vkq_spans_bind(spans, &d);
    uint32_t rows = groups / MAX_GROUPS_X, rest = groups % MAX_GROUPS_X;
    if (rows) {
        d.groups[0] = MAX_GROUPS_X, d.groups[1] = rows, d.groups[2] = 1;
        VKQ_TRY(vkq_rec_dispatch(rec, &d));
    }
    if (!rest)
        return VKQ_OK;
    push.first_group = rows * MAX_GROUPS_X;
    d.groups[0] = rest, d.groups[1] = 1, d.groups[2] = 1;
    return vkq_rec_dispatch(rec, &d);
}

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
    adamw_streams s = {params, grads, m, v, hyper, grad_sumsq};
    uint32_t groups = n / CPU_GROUP_FLOATS, whole = groups * CPU_GROUP_FLOATS;
    vkq_buf streams[4] = {params, grads, m, v};
    uint64_t floats[4] = {whole, whole, whole, whole};
    vkq_spans spans;
    if (groups == 0 || !vkq_spans_plan(rec, streams, floats, 4, &spans))
        return adamw_any(rec, &s, 0, n);
    VKQ_TRY(adamw_cpu(rec, &s, &spans, groups));
    return whole < n ? adamw_any(rec, &s, whole, n - whole) : VKQ_OK;
}
