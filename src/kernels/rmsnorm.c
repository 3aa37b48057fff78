#include "kernels/launch.h"
#include "vkquill/nn.h"

typedef struct rmsnorm_push {
    uint32_t rows, dim;
    float eps;
} rmsnorm_push;
VKQ_STATIC_ASSERT_PUSH(rmsnorm_push);

enum { FORWARD, INPUT_GRADIENT, WEIGHT_GRADIENT };

static vkq_status rmsnorm(vkq_rec *rec, uint32_t mode, const vkq_binding slots[5],
                          const rmsnorm_push *push, uint32_t invocations)
{
    vkq_dispatch d = {.kernel = &vkq_kernel_rmsnorm,
                      .spec = {mode},
                      .spec_count = 1,
                      .push = push,
                      .push_bytes = sizeof *push};
    for (int i = 0; i < 5; i++)
        d.slot[i] = slots[i];
    vkq_grid_1d(invocations, 64, d.groups);
    return vkq_rec_dispatch(rec, &d);
}

vkq_status vkq_rmsnorm_forward(vkq_rec *rec, vkq_buf x, vkq_buf w, vkq_buf y, vkq_buf rstd,
                               uint32_t rows, uint32_t dim, float eps)
{
    uint64_t n = (uint64_t)rows * dim;
    VKQ_TRY(vkq_need_floats("rmsnorm", "x", x, n));
    VKQ_TRY(vkq_need_floats("rmsnorm", "w", w, dim));
    VKQ_TRY(vkq_need_floats("rmsnorm", "y", y, n));
    VKQ_TRY(vkq_need_floats("rmsnorm", "rstd", rstd, rows));
    rmsnorm_push push = {rows, dim, eps};
    /* dy is unused in the forward; x stands in so every declared binding is valid. */
    vkq_binding slots[5] = {{x, VKQ_READ}, {w, VKQ_READ}, {rstd, VKQ_WRITE}, {x, VKQ_READ},
                            {y, VKQ_WRITE}};
    return rmsnorm(rec, FORWARD, slots, &push, rows);
}

vkq_status vkq_rmsnorm_backward(vkq_rec *rec, vkq_buf dy, vkq_buf x, vkq_buf w, vkq_buf rstd,
                                vkq_buf dx, vkq_buf dw, uint32_t rows, uint32_t dim)
{
    uint64_t n = (uint64_t)rows * dim;
    VKQ_TRY(vkq_need_floats("rmsnorm backward", "dy", dy, n));
    VKQ_TRY(vkq_need_floats("rmsnorm backward", "x", x, n));
    VKQ_TRY(vkq_need_floats("rmsnorm backward", "w", w, dim));
    VKQ_TRY(vkq_need_floats("rmsnorm backward", "rstd", rstd, rows));
    VKQ_TRY(vkq_need_floats("rmsnorm backward", "dx", dx, n));
    VKQ_TRY(vkq_need_floats("rmsnorm backward", "dw", dw, dim));
    rmsnorm_push push = {rows, dim, 0.0f};
    vkq_binding slots[5] = {{x, VKQ_READ}, {w, VKQ_READ}, {rstd, VKQ_READ}, {dy, VKQ_READ},
                            {dx, VKQ_READ_WRITE}};
    VKQ_TRY(rmsnorm(rec, INPUT_GRADIENT, slots, &push, rows));
    slots[4] = (vkq_binding){dw, VKQ_READ_WRITE};
    return rmsnorm(rec, WEIGHT_GRADIENT, slots, &push, dim);
}
