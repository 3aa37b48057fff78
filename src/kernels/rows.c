#include "kernels/launch.h"
#include "vkquill/nn.h"

typedef struct rows_push {
    uint32_t count, dim, n;
    uint32_t src_width, src_at, dst_width, dst_at;
} rows_push;
VKQ_STATIC_ASSERT_PUSH(rows_push);

enum { GATHER, SCATTER_ADD, SCATTER, COLUMNS };

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
    rows_push push = {count, dim, n, 0, 0, 0, 0};
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

/* Fails unless columns [at, at + cols) lie within rows of width floats and buf holds the rows. */
static vkq_status check_columns(const char *name, vkq_buf buf, uint32_t width, uint32_t at,
                                uint32_t rows, uint32_t cols)
{
    if (at > width || cols > width - at)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "copy_columns: %s columns %u..%u are outside rows of %u", name, at,
                        at + cols, width);
    return vkq_need_floats("copy_columns", name, buf, (uint64_t)rows * width);
}

vkq_status vkq_copy_columns(vkq_rec *rec, vkq_buf src, uint32_t src_width, uint32_t src_at,
                            vkq_buf dst, uint32_t dst_width, uint32_t dst_at, uint32_t rows,
                            uint32_t cols)
{
    VKQ_TRY(check_columns("src", src, src_width, src_at, rows, cols));
    VKQ_TRY(check_columns("dst", dst, dst_width, dst_at, rows, cols));
    if (rows == 0 || cols == 0)
        return VKQ_OK;
    rows_push push = {rows, cols, 0, src_width, src_at, dst_width, dst_at};
    vkq_dispatch d = {.kernel = &vkq_kernel_rows,
                      .spec = {COLUMNS},
                      .spec_count = 1,
                      .push = &push,
                      .push_bytes = sizeof push};
    d.slot[0] = (vkq_binding){src, VKQ_READ};
    d.slot[1] = (vkq_binding){src, VKQ_READ}; /* no row list */
    d.slot[2] = (vkq_binding){dst, VKQ_WRITE};
    vkq_grid_1d((uint64_t)rows * cols, 64, d.groups);
    return vkq_rec_dispatch(rec, &d);
}
