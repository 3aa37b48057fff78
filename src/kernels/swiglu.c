#include "kernels/launch.h"
#include "vkquill/nn.h"

typedef struct swiglu_push {
    uint32_t n;
} swiglu_push;
VKQ_STATIC_ASSERT_PUSH(swiglu_push);

enum { FORWARD, BACKWARD };

static vkq_status swiglu(vkq_rec *rec, uint32_t mode, const vkq_binding slots[5], uint32_t n)
{
    swiglu_push push = {n};
    vkq_dispatch d = {.kernel = &vkq_kernel_swiglu,
                      .spec = {mode},
                      .spec_count = 1,
                      .push = &push,
                      .push_bytes = sizeof push};
    for (int i = 0; i < 5; i++)
        d.slot[i] = slots[i];
    vkq_grid_1d(n, 64, d.groups);
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
    return swiglu(rec, FORWARD, slots, n);
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
    return swiglu(rec, BACKWARD, slots, n);
}
