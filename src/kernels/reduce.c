#include "kernels/registry.h"
#include "vkquill/kernels.h"

typedef struct reduce_push {
    uint32_t n;
} reduce_push;
VKQ_STATIC_ASSERT_PUSH(reduce_push);

enum { MAX_PARTIALS = 256 };

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

static vkq_status reduce(vkq_rec *rec, uint32_t square, vkq_buf x, uint32_t n, vkq_buf out)
{
    if (!x.block || x.size / 4 < n || n == 0 || !out.block || out.size < 4)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "%s: needs n > 0, an input of n floats and an output of one float",
                        square ? "sumsq" : "sum");
    uint32_t groups = (n + 1023) / 1024;
    if (groups > MAX_PARTIALS)
        groups = MAX_PARTIALS;
    if (groups == 1)
        return reduce_pass(rec, square, x, n, 1, vkq_buf_slice(out, 0, 4));
    vkq_buf partials;
    VKQ_TRY(vkq_rec_scratch(rec, groups * 4ull, &partials));
    VKQ_TRY(reduce_pass(rec, square, x, n, groups, partials));
    return reduce_pass(rec, 0, partials, groups, 1, vkq_buf_slice(out, 0, 4));
}

vkq_status vkq_sum(vkq_rec *rec, vkq_buf x, uint32_t n, vkq_buf out)
{
    return reduce(rec, 0, x, n, out);
}

vkq_status vkq_sumsq(vkq_rec *rec, vkq_buf x, uint32_t n, vkq_buf out)
{
    return reduce(rec, 1, x, n, out);
}
