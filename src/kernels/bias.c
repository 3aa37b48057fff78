#include "kernels/launch.h"
#include "vkquill/nn.h"

typedef struct bias_push {
    uint32_t rows, dim;
} bias_push;
VKQ_STATIC_ASSERT_PUSH(bias_push);

enum { FORWARD, BACKWARD };

static vkq_status bias(vkq_rec *rec, uint32_t mode, const char *op, vkq_buf rows_buf,
                       vkq_access rows_access, vkq_buf b, uint32_t rows, uint32_t dim)
{
    if (dim == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: dim is 0", op);
    VKQ_TRY(vkq_need_floats(op, mode == FORWARD ? "y" : "dy", rows_buf, (uint64_t)rows * dim));
    VKQ_TRY(vkq_need_floats(op, mode == FORWARD ? "b" : "db", b, dim));
    bias_push push = {rows, dim};
    vkq_dispatch d = {.kernel = &vkq_kernel_bias,
                      .spec = {mode},
                      .spec_count = 1,
                      .push = &push,
                      .push_bytes = sizeof push,
                      .slot = {{rows_buf, rows_access},
                               {b, mode == FORWARD ? VKQ_READ : VKQ_READ_WRITE}}};
    vkq_grid_1d(mode == FORWARD ? (uint64_t)rows * dim : dim, 64, d.groups);
    return vkq_rec_dispatch(rec, &d);
}

vkq_status vkq_bias_forward(vkq_rec *rec, vkq_buf y, vkq_buf b, uint32_t rows, uint32_t dim)
{
    return bias(rec, FORWARD, "bias", y, VKQ_READ_WRITE, b, rows, dim);
}

vkq_status vkq_bias_backward(vkq_rec *rec, vkq_buf dy, vkq_buf db, uint32_t rows, uint32_t dim)
{
    return bias(rec, BACKWARD, "bias backward", dy, VKQ_READ, db, rows, dim);
}
