#include <stdio.h>
#include <string.h>

#include "check/harness.h"
#include "kernels/reference.h"

/* rows x dim; 67 columns: not a multiple of the workgroup size. */
static const uint32_t shapes[][2] = {{1, 1}, {5, 8}, {37, 67}, {300, 24}};

typedef struct bias_data {
    uint32_t rows, dim;
    const float *x; /* what y holds before the bias is added */
    vkq_buf y;
    vkq_buf b;
} bias_data;

/* y(b) = x + b on every row: the forward as a function of the bias. */
static vkq_status device_forward(vkq_check_env *e, void *user, const float *b, float *y)
{
    bias_data *d = user;
    size_t n = (size_t)d->rows * d->dim;
    VKQ_TRY(vkq_buf_upload(e->ctx, d->b, 0, b, d->dim * sizeof(float)));
    VKQ_TRY(vkq_buf_upload(e->ctx, d->y, 0, d->x, n * sizeof(float)));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_bias_forward(e->rec, d->y, d->b, d->rows, d->dim));
    VKQ_TRY(vkq_check_submit(e));
    return vkq_buf_download(e->ctx, d->y, 0, y, n * sizeof(float));
}

static vkq_status run_case(vkq_check_env *e, uint32_t rows, uint32_t dim)
{
    size_t n = (size_t)rows * dim;
    float *x = vkq_check_floats(e, n), *b = vkq_check_floats(e, dim);
    float *dy = vkq_check_floats(e, n), *db0 = vkq_check_floats(e, dim);
    float *want_y = vkq_check_floats(e, n), *want_db = vkq_check_floats(e, dim);
    float *got_y = vkq_check_floats(e, n), *got_db = vkq_check_floats(e, dim);
    float *added = vkq_check_floats(e, dim);
    if (!x || !b || !dy || !db0 || !want_y || !want_db || !got_y || !got_db || !added)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_check_random(e, x, n, -2.0f, 2.0f);
    vkq_check_random(e, b, dim, -1.0f, 1.0f);
    vkq_check_random(e, dy, n, -1.0f, 1.0f);
    vkq_check_random(e, db0, dim, -1.0f, 1.0f); /* non-zero: the backward must add */

    bias_data d = {rows, dim, x, {0}, {0}};
    vkq_buf dev_dy;
    vkq_guarded gy, gdb, scratch_y;
    VKQ_TRY(vkq_check_input(e, b, dim, &d.b));
    VKQ_TRY(vkq_check_input(e, dy, n, &dev_dy));
    VKQ_TRY(vkq_check_output(e, x, n, &gy));
    VKQ_TRY(vkq_check_output(e, db0, dim, &gdb));
    VKQ_TRY(vkq_check_output(e, NULL, n, &scratch_y));
    d.y = scratch_y.view;

    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_bias_forward(e->rec, gy.view, d.b, rows, dim));
    VKQ_TRY(vkq_bias_backward(e->rec, dev_dy, gdb.view, rows, dim));
    VKQ_TRY(vkq_check_submit(e));
    memcpy(want_y, x, n * sizeof *x);
    vkq_ref_bias_forward(want_y, b, rows, dim);
    memcpy(want_db, db0, dim * sizeof *db0);
    vkq_ref_bias_backward(dy, want_db, rows, dim);

    char name[96];
    int guards;
    VKQ_TRY(vkq_check_read(e, &gy, got_y, &guards));
    snprintf(name, sizeof name, "rows=%u dim=%u y", rows, dim);
    vkq_check_emit(e, name, vkq_nmse(got_y, want_y, n), 1e-12, guards);
    VKQ_TRY(vkq_check_read(e, &gdb, got_db, &guards));
    snprintf(name, sizeof name, "rows=%u dim=%u db", rows, dim);
    vkq_check_emit(e, name, vkq_nmse(got_db, want_db, dim), 1e-10, guards);

    for (uint32_t j = 0; j < dim; j++)
        added[j] = got_db[j] - db0[j];
    /* y is linear in b: a large step loses nothing */
    vkq_fd_check fd = {name, device_forward, &d, b, dim, dy, n, added, 0.25f, 16, 1e-6};
    VKQ_TRY(vkq_check_fd(e, &fd));
    vkq_check_release(e);
    return VKQ_OK;
}

vkq_status vkq_check_bias(vkq_check_env *e)
{
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        VKQ_TRY(run_case(e, shapes[i][0], shapes[i][1]));
    return VKQ_OK;
}
