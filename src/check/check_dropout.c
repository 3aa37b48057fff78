#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check/harness.h"
#include "kernels/reference.h"

/* n, p: an empty mask, typical rates, a length not a multiple of the workgroup size. */
static const struct {
    uint32_t n;
    float p;
} cases[] = {{1, 0.0f}, {67, 0.1f}, {4096, 0.5f}, {1000, 0.9f}};

typedef struct dropout_data {
    uint32_t n, key;
    float p;
    vkq_buf x, out;
} dropout_data;

static vkq_status device_forward(vkq_check_env *e, void *user, const float *x, float *y)
{
    dropout_data *d = user;
    VKQ_TRY(vkq_buf_upload(e->ctx, d->x, 0, x, d->n * sizeof(float)));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_dropout_forward(e->rec, d->x, d->out, d->n, d->p, d->key));
    VKQ_TRY(vkq_check_submit(e));
    return vkq_buf_download(e->ctx, d->out, 0, y, d->n * sizeof(float));
}

/* How far the count of kept elements is from n (1 - p), in units of five standard deviations
 * (plus one element): above 1 means the mask does not drop at the rate asked for. */
static double keep_rate_error(const float *y, const float *x, uint32_t n, float p)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; i++)
        kept += y[i] != 0.0f || x[i] == 0.0f;
    double mean = n * (1.0 - p), sd = sqrt(n * p * (1.0 - p));
    return fabs(kept - mean) / (5.0 * sd + 1.0);
}

static vkq_status run_case(vkq_check_env *e, uint32_t n, float p, uint32_t key)
{
    float *x = vkq_check_floats(e, n), *dy = vkq_check_floats(e, n);
    float *dx0 = vkq_check_floats(e, n), *want_y = vkq_check_floats(e, n);
    float *want_dx = vkq_check_floats(e, n), *got_y = vkq_check_floats(e, n);
    float *got_dx = vkq_check_floats(e, n), *added = vkq_check_floats(e, n);
    if (!x || !dy || !dx0 || !want_y || !want_dx || !got_y || !got_dx || !added)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_check_random(e, x, n, -2.0f, 2.0f);
    vkq_check_random(e, dy, n, -1.0f, 1.0f);
    vkq_check_random(e, dx0, n, -1.0f, 1.0f); /* non-zero: the backward must add */

    dropout_data d = {n, key, p, {0}, {0}};
    vkq_buf dev_x, dev_dy;
    vkq_guarded gy, gdx, scratch_x, scratch_y;
    VKQ_TRY(vkq_check_input(e, x, n, &dev_x));
    VKQ_TRY(vkq_check_input(e, dy, n, &dev_dy));
    VKQ_TRY(vkq_check_output(e, NULL, n, &gy));
    VKQ_TRY(vkq_check_output(e, dx0, n, &gdx));
    VKQ_TRY(vkq_check_output(e, NULL, n, &scratch_x));
    VKQ_TRY(vkq_check_output(e, NULL, n, &scratch_y));
    d.x = scratch_x.view;
    d.out = scratch_y.view;

    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_dropout_forward(e->rec, dev_x, gy.view, n, p, key));
    VKQ_TRY(vkq_dropout_backward(e->rec, dev_dy, gdx.view, n, p, key));
    VKQ_TRY(vkq_check_submit(e));
    vkq_ref_dropout_forward(x, want_y, n, p, key);
    memcpy(want_dx, dx0, n * sizeof *dx0);
    vkq_ref_dropout_backward(dy, want_dx, n, p, key);

    char name[96];
    int guards;
    VKQ_TRY(vkq_check_read(e, &gy, got_y, &guards));
    snprintf(name, sizeof name, "n=%u p=%g y", n, p);
    vkq_check_emit(e, name, vkq_nmse(got_y, want_y, n), 1e-14, guards);
    snprintf(name, sizeof name, "n=%u p=%g keep rate", n, p);
    vkq_check_emit(e, name, keep_rate_error(got_y, x, n, p), 1.0, 1);
    VKQ_TRY(vkq_check_read(e, &gdx, got_dx, &guards));
    snprintf(name, sizeof name, "n=%u p=%g dx", n, p);
    vkq_check_emit(e, name, vkq_nmse(got_dx, want_dx, n), 1e-14, guards);

    for (uint32_t i = 0; i < n; i++)
        added[i] = got_dx[i] - dx0[i];
    /* y is linear in x for a fixed mask */
    vkq_fd_check fd = {name, device_forward, &d, x, n, dy, n, added, 0.25f, 16, 1e-6};
    VKQ_TRY(vkq_check_fd(e, &fd));
    vkq_check_release(e);
    return VKQ_OK;
}

vkq_status vkq_check_dropout(vkq_check_env *e)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        VKQ_TRY(run_case(e, cases[i].n, cases[i].p, 0x5eed0000u + (uint32_t)i));
    return VKQ_OK;
}
