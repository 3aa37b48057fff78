#include <stdio.h>
#include <string.h>

#include "check/harness.h"
#include "kernels/reference.h"

typedef struct rmsnorm_case {
    uint32_t rows, dim;
} rmsnorm_case;

/* dim 1 is left out: there y = sign(x) w and dx vanishes to rounding noise. */
static const rmsnorm_case cases[] = {{1, 3}, {5, 64}, {13, 37}, {70, 8}};
static const float eps = 1e-5f;

/* Device buffers of one case; the forward used by the finite differences runs on them. */
typedef struct rmsnorm_bufs {
    uint32_t rows, dim;
    vkq_buf x, w, y, rstd, dy, dx, dw;
    int perturb_w; /* finite differences over w instead of x */
} rmsnorm_bufs;

static vkq_status device_forward(vkq_check_env *e, void *user, const float *in, float *y)
{
    rmsnorm_bufs *b = user;
    size_t n = b->perturb_w ? b->dim : (size_t)b->rows * b->dim;
    VKQ_TRY(vkq_buf_upload(e->ctx, b->perturb_w ? b->w : b->x, 0, in, n * sizeof(float)));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_rmsnorm_forward(e->rec, b->x, b->w, b->y, b->rstd, b->rows, b->dim, eps));
    VKQ_TRY(vkq_check_submit(e));
    return vkq_buf_download(e->ctx, b->y, 0, y, (size_t)b->rows * b->dim * sizeof(float));
}

static vkq_status run_case(vkq_check_env *e, const rmsnorm_case *c)
{
    size_t n = (size_t)c->rows * c->dim;
    float *x = vkq_check_floats(e, n), *w = vkq_check_floats(e, c->dim);
    float *dy = vkq_check_floats(e, n), *y = vkq_check_floats(e, n);
    float *rstd = vkq_check_floats(e, c->rows), *dx = vkq_check_floats(e, n);
    float *dw = vkq_check_floats(e, c->dim), *got = vkq_check_floats(e, n);
    if (!x || !w || !dy || !y || !rstd || !dx || !dw || !got)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_check_random(e, x, n, -2.0f, 2.0f);
    vkq_check_random(e, w, c->dim, 0.5f, 1.5f);
    vkq_check_random(e, dy, n, -1.0f, 1.0f);

    rmsnorm_bufs b = {.rows = c->rows, .dim = c->dim};
    vkq_guarded gy, grstd, gdx, gdw;
    VKQ_TRY(vkq_check_input(e, x, n, &b.x));
    VKQ_TRY(vkq_check_input(e, w, c->dim, &b.w));
    VKQ_TRY(vkq_check_input(e, dy, n, &b.dy));
    VKQ_TRY(vkq_check_output(e, NULL, n, &gy));
    VKQ_TRY(vkq_check_output(e, NULL, c->rows, &grstd));
    VKQ_TRY(vkq_check_output(e, NULL, n, &gdx));
    VKQ_TRY(vkq_check_output(e, NULL, c->dim, &gdw));
    b.y = gy.view, b.rstd = grstd.view, b.dx = gdx.view, b.dw = gdw.view;

    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_rmsnorm_forward(e->rec, b.x, b.w, b.y, b.rstd, c->rows, c->dim, eps));
    VKQ_TRY(vkq_rmsnorm_backward(e->rec, b.dy, b.x, b.w, b.rstd, b.dx, b.dw, c->rows, c->dim));
    VKQ_TRY(vkq_check_submit(e));
    vkq_ref_rmsnorm_forward(x, w, y, rstd, c->rows, c->dim, eps);
    vkq_ref_rmsnorm_backward(dy, x, w, rstd, dx, dw, c->rows, c->dim);

    char name[96];
    int guards;
    struct { const char *what; const vkq_guarded *g; const float *want; } outs[] = {
        {"y", &gy, y}, {"rstd", &grstd, rstd}, {"dx", &gdx, dx}, {"dw", &gdw, dw}};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        VKQ_TRY(vkq_check_read(e, outs[i].g, got, &guards));
        snprintf(name, sizeof name, "rows=%u dim=%u %s", c->rows, c->dim, outs[i].what);
        vkq_check_emit(e, name, vkq_nmse(got, outs[i].want, outs[i].g->n), 1e-10, guards);
    }

    /* The device's own dx and dw against central differences of the device forward. */
    float *gpu_dx = vkq_check_floats(e, n), *gpu_dw = vkq_check_floats(e, c->dim);
    if (!gpu_dx || !gpu_dw)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    VKQ_TRY(vkq_check_read(e, &gdx, gpu_dx, &guards));
    VKQ_TRY(vkq_check_read(e, &gdw, gpu_dw, &guards));
    snprintf(name, sizeof name, "rows=%u dim=%u dx", c->rows, c->dim);
    vkq_fd_check fd = {name, device_forward, &b, x, n, dy, n, gpu_dx, 1e-2f, 24, 1e-5};
    VKQ_TRY(vkq_check_fd(e, &fd));
    b.perturb_w = 1; /* y is linear in w: a large step loses nothing and rounds less */
    snprintf(name, sizeof name, "rows=%u dim=%u dw", c->rows, c->dim);
    fd = (vkq_fd_check){name, device_forward, &b, w, c->dim, dy, n, gpu_dw, 0.25f, 24, 1e-5};
    VKQ_TRY(vkq_check_fd(e, &fd));
    vkq_check_release(e);
    return VKQ_OK;
}

vkq_status vkq_check_rmsnorm(vkq_check_env *e)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        VKQ_TRY(run_case(e, &cases[i]));
    return VKQ_OK;
}
