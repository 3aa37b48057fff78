#include "kernels/launch.h"
#include "vkquill/nn.h"

typedef struct rows_push {
    uint32_t count, dim, n;
} rows_push;
VKQ_STATIC_ASSERT_PUSH(rows_push);

enum { GATHER, SCATTER_ADD, SCATTER };

static const char *const op_names[] = {"gather_rows", "scatter_add_rows", "copy_rows"};

static vkq_status check_shapes(uint32_t mode, vkq_buf listed, vkq_buf rows, vkq_buf full,
                               uint32_t count, uint32_t dim, uint32_t n)
{
    const char *op = op_names[mode];
    VKQ_TRY(vkq_need_floats(op, mode == GATHER ? "dst" : "src", listed, (uint64_t)count * dim));
    VKQ_TRY(vkq_need_floats(op, "rows", rows, count)); /* int32: 4 bytes, like a float */
    return vkq_need_floats(op, mode == GATHER ? "src" : "dst", full, (uint64_t)n * dim);
}

/* `listed` is the [count][dim] side, `full` the [n][dim] side. */
static vkq_status launch_rows(vkq_rec *rec, uint32_t mode, vkq_buf listed, vkq_buf rows,
                              vkq_buf full, uint32_t count, uint32_t dim, uint32_t n)
{
    VKQ_TRY(check_shapes(mode, listed, rows, full, count, dim, n));
    if (count == 0 || dim == 0)
        return VKQ_OK;
    rows_push push = {count, dim, n};
    vkq_dispatch d = {.kernel = &vkq_kernel_rows,
                      .spec = {mode},
                      .spec_count = 1,
                      .push = &push,
                      .push_bytes = sizeof push};
    d.slot[0] = (vkq_binding){mode == GATHER ? full : listed, VKQ_READ};
    d.slot[1] = (vkq_binding){rows, VKQ_READ};
    d.slot[2] = mode == GATHER        ? (vkq_binding){listed, VKQ_WRITE}
                : mode == SCATTER_ADD ? (vkq_binding){full, VKQ_READ_WRITE}
                                      : (vkq_binding){full, VKQ_WRITE};
    vkq_grid_1d((uint64_t)count * dim, 64, d.groups);
    return vkq_rec_dispatch(rec, &d);
}

vkq_status vkq_gather_rows(vkq_rec *rec, vkq_buf src, vkq_buf rows, vkq_buf dst, uint32_t count,
                           uint32_t dim, uint32_t n)
{
    return launch_rows(rec, GATHER, dst, rows, src, count, dim, n);
}

vkq_status vkq_scatter_add_rows(vkq_rec *rec, vkq_buf src, vkq_buf rows, vkq_buf dst,
                                uint32_t count, uint32_t dim, uint32_t n)
{
    return launch_rows(rec, SCATTER_ADD, src, rows, dst, count, dim, n);
}

vkq_status vkq_copy_rows(vkq_rec *rec, vkq_buf src, vkq_buf rows, vkq_buf dst, uint32_t count,
                         uint32_t dim, uint32_t n)
{
    return launch_rows(rec, SCATTER, src, rows, dst, count, dim, n);
}
