#include "kernels/registry.h"
#include "vkquill/kernels.h"

typedef struct elementwise_push {
    uint32_t n;
    float s;
} elementwise_push;
VKQ_STATIC_ASSERT_PUSH(elementwise_push);

enum { OP_ADD, OP_SCALE, OP_AXPY, OP_COPY, OP_FILL };

static vkq_status check_len(const char *op, vkq_buf buf, uint32_t n)
{
    if (buf.block && buf.size / 4 >= n)
        return VKQ_OK;
    return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: a buffer of %llu bytes is shorter than %u floats",
                    op, (unsigned long long)buf.size, n);
}

static vkq_status elementwise(vkq_rec *rec, uint32_t op, const char *name, vkq_buf x, vkq_buf y,
                              vkq_buf out, vkq_access out_access, float s, uint32_t n)
{
    elementwise_push push = {n, s};
    vkq_dispatch d = {.kernel = &vkq_kernel_elementwise,
                      .spec = {op},
                      .spec_count = 1,
                      .push = &push,
                      .push_bytes = sizeof push};
    if (n == 0)
        return VKQ_OK;
    vkq_grid_1d(n, 64, d.groups);
    /* The shader declares all three bindings; operations without an input bind the output
     * there, unread, so every binding the SPIR-V names is valid. */
    VKQ_TRY(check_len(name, out, n));
    if (x.block)
        VKQ_TRY(check_len(name, x, n));
    if (y.block)
        VKQ_TRY(check_len(name, y, n));
    d.slot[0] = (vkq_binding){x.block ? x : out, VKQ_READ};
    d.slot[1] = (vkq_binding){y.block ? y : out, VKQ_READ};
    d.slot[2] = (vkq_binding){out, out_access};
    return vkq_rec_dispatch(rec, &d);
}

static const vkq_buf none;

vkq_status vkq_add(vkq_rec *rec, vkq_buf a, vkq_buf b, vkq_buf out, uint32_t n)
{
    return elementwise(rec, OP_ADD, "add", a, b, out, VKQ_WRITE, 0.0f, n);
}

vkq_status vkq_scale(vkq_rec *rec, vkq_buf x, vkq_buf out, float s, uint32_t n)
{
    return elementwise(rec, OP_SCALE, "scale", x, none, out, VKQ_WRITE, s, n);
}

vkq_status vkq_axpy(vkq_rec *rec, float alpha, vkq_buf x, vkq_buf y, uint32_t n)
{
    return elementwise(rec, OP_AXPY, "axpy", x, none, y, VKQ_READ_WRITE, alpha, n);
}

vkq_status vkq_copy(vkq_rec *rec, vkq_buf src, vkq_buf dst, uint32_t n)
{
    return elementwise(rec, OP_COPY, "copy", src, none, dst, VKQ_WRITE, 0.0f, n);
}

vkq_status vkq_fill(vkq_rec *rec, vkq_buf dst, float value, uint32_t n)
{
    return elementwise(rec, OP_FILL, "fill", none, none, dst, VKQ_WRITE, value, n);
}
