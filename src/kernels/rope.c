#include "kernels/launch.h"
#include "vkquill/nn.h"

typedef struct rope_push {
    uint32_t n, heads, head_dim;
    float theta;
} rope_push;
VKQ_STATIC_ASSERT_PUSH(rope_push);

enum { FORWARD, BACKWARD };

static vkq_status rope(vkq_rec *rec, uint32_t mode, const char *op, vkq_buf x, vkq_buf positions,
                       uint32_t n, uint32_t heads, uint32_t head_dim, float theta)
{
    if (heads == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: no heads", op);
    if (head_dim == 0 || head_dim % 2 != 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: head_dim %u is not a positive even number",
                        op, head_dim);
    if (!(theta > 0.0f))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: theta %g is not positive", op, theta);
    VKQ_TRY(vkq_need_floats(op, "x", x, (uint64_t)n * heads * head_dim));
    VKQ_TRY(vkq_need_floats(op, "positions", positions, n));
    rope_push push = {n, heads, head_dim, theta};
    vkq_dispatch d = {.kernel = &vkq_kernel_rope,
                      .spec = {mode},
                      .spec_count = 1,
                      .push = &push,
                      .push_bytes = sizeof push,
                      .slot = {{x, VKQ_READ_WRITE}, {positions, VKQ_READ}}};
    vkq_grid_1d((uint64_t)n * (head_dim / 2), 64, d.groups);
    return vkq_rec_dispatch(rec, &d);
}

vkq_status vkq_rope_forward(vkq_rec *rec, vkq_buf x, vkq_buf positions, uint32_t n, uint32_t heads,
                            uint32_t head_dim, float theta)
{
    return rope(rec, FORWARD, "rope", x, positions, n, heads, head_dim, theta);
}

vkq_status vkq_rope_backward(vkq_rec *rec, vkq_buf dx, vkq_buf positions, uint32_t n, uint32_t heads,
                             uint32_t head_dim, float theta)
{
    return rope(rec, BACKWARD, "rope backward", dx, positions, n, heads, head_dim, theta);
}
