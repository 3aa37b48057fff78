#include "kernels/launch.h"
#include "vkquill/nn.h"

typedef struct cross_entropy_push {
    uint32_t rows, vocab;
} cross_entropy_push;
VKQ_STATIC_ASSERT_PUSH(cross_entropy_push);

enum { NO_GRADIENT, SEPARATE_GRADIENT, IN_PLACE_GRADIENT };

static int overlap(vkq_buf a, vkq_buf b)
{
    return a.block == b.block && a.offset < b.offset + b.size && b.offset < a.offset + a.size;
}

static vkq_status gradient_mode(vkq_buf logits, vkq_buf dlogits, uint32_t *mode)
{
    if (!dlogits.block)
        *mode = NO_GRADIENT;
    else if (dlogits.block == logits.block && dlogits.offset == logits.offset)
        *mode = IN_PLACE_GRADIENT;
    else if (overlap(logits, dlogits))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "cross_entropy: dlogits must be the logits "
                        "buffer itself or not overlap it");
    else
        *mode = SEPARATE_GRADIENT;
    return VKQ_OK;
}

vkq_status vkq_cross_entropy(vkq_rec *rec, vkq_buf logits, vkq_buf targets, vkq_buf weights,
                             vkq_buf losses, vkq_buf dlogits, uint32_t rows, uint32_t vocab)
{
    uint64_t n = (uint64_t)rows * vocab;
    uint32_t mode;
    VKQ_TRY(vkq_need_floats("cross_entropy", "logits", logits, n));
    VKQ_TRY(vkq_need_floats("cross_entropy", "targets", targets, rows)); /* int32 */
    VKQ_TRY(vkq_need_floats("cross_entropy", "weights", weights, rows));
    VKQ_TRY(vkq_need_floats("cross_entropy", "losses", losses, rows));
    VKQ_TRY(gradient_mode(logits, dlogits, &mode));
    if (mode != NO_GRADIENT)
        VKQ_TRY(vkq_need_floats("cross_entropy", "dlogits", dlogits, n));
    if (vocab == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "cross_entropy: vocab must be at least 1");
    if (rows == 0)
        return VKQ_OK;
    cross_entropy_push push = {rows, vocab};
    vkq_dispatch d = {.kernel = &vkq_kernel_cross_entropy,
                      .spec = {mode},
                      .spec_count = 1,
                      .push = &push,
                      .push_bytes = sizeof push};
    /* In place the logits are read and written through slot 4 only; slot 0 then gets the
     * weights, unread, so that no two bindings alias. Without a gradient slot 4 gets the
     * logits, unread. */
    d.slot[0] = (vkq_binding){mode == IN_PLACE_GRADIENT ? weights : logits, VKQ_READ};
    d.slot[1] = (vkq_binding){targets, VKQ_READ};
    d.slot[2] = (vkq_binding){weights, VKQ_READ};
    d.slot[3] = (vkq_binding){losses, VKQ_WRITE};
    static const vkq_access gradient_access[] = {VKQ_READ, VKQ_WRITE, VKQ_READ_WRITE};
    d.slot[4] = (vkq_binding){mode == NO_GRADIENT ? logits : dlogits, gradient_access[mode]};
    vkq_grid_1d(rows, 1, d.groups);
    return vkq_rec_dispatch(rec, &d);
}
