#include <math.h>

#include "kernels/launch.h"
#include "vkquill/nn.h"

typedef struct dropout_push {
    uint32_t n, key, threshold;
    float scale;
} dropout_push;
VKQ_STATIC_ASSERT_PUSH(dropout_push);

enum { WRITE, ADD };

uint32_t vkq_dropout_threshold(float p)
{
    double t = floor((double)p * 4294967296.0 + 0.5);
    return t >= 4294967295.0 ? UINT32_MAX : (uint32_t)t;
}

static vkq_status dropout(vkq_rec *rec, uint32_t mode, vkq_buf x, vkq_buf out, uint32_t n,
                          float p, uint32_t key)
{
    if (!(p >= 0.0f && p < 1.0f))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "dropout: p must be in [0, 1), not %g", p);
    VKQ_TRY(vkq_need_floats("dropout", "x", x, n));
    VKQ_TRY(vkq_need_floats("dropout", "out", out, n));
    dropout_push push = {n, key, vkq_dropout_threshold(p), 1.0f / (1.0f - p)};
    vkq_dispatch d = {.kernel = &vkq_kernel_dropout,
                      .spec = {mode},
                      .spec_count = 1,
                      .push = &push,
                      .push_bytes = sizeof push,
                      .slot = {{x, VKQ_READ}, {out, mode == ADD ? VKQ_READ_WRITE : VKQ_WRITE}}};
    vkq_grid_1d(n, 64, d.groups);
    return vkq_rec_dispatch(rec, &d);
}

vkq_status vkq_dropout_forward(vkq_rec *rec, vkq_buf x, vkq_buf out, uint32_t n, float p,
                               uint32_t key)
{
    return dropout(rec, WRITE, x, out, n, p, key);
}

vkq_status vkq_dropout_backward(vkq_rec *rec, vkq_buf dout, vkq_buf dx, uint32_t n, float p,
                                uint32_t key)
{
    return dropout(rec, ADD, dout, dx, n, p, key);
}
