#include <stdio.h>
#include <string.h>

#include "check/harness.h"
#include "kernels/reference.h"

/* 4099: not a multiple of the workgroup size. */
static const uint32_t sizes[] = {1, 7, 64, 1000, 4099};

/* One case: host inputs, the device buffers, and the gradients' non-zero starting values. */
typedef struct swiglu_data {
    uint32_t n;
    float *a, *b, *dout, *da0, *db0;
    vkq_buf dev_a, dev_b, dev_dout;
    vkq_guarded out, da, db;
    int perturb_b; /* finite differences over b instead of a */
} swiglu_data;

static vkq_status device_forward(vkq_check_env *e, void *user, const float *in, float *out)
{
    swiglu_data *d = user;
    VKQ_TRY(vkq_buf_upload(e->ctx, d->perturb_b ? d->dev_b : d->dev_a, 0, in,
                           d->n * sizeof(float)));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_swiglu_forward(e->rec, d->dev_a, d->dev_b, d->out.view, d->n));
    VKQ_TRY(vkq_check_submit(e));
    return vkq_buf_download(e->ctx, d->out.view, 0, out, d->n * sizeof(float));
}

static vkq_status prepare(vkq_check_env *e, uint32_t n, swiglu_data *d)
{
    *d = (swiglu_data){.n = n};
    d->a = vkq_check_floats(e, n), d->b = vkq_check_floats(e, n);
    d->dout = vkq_check_floats(e, n);
    d->da0 = vkq_check_floats(e, n), d->db0 = vkq_check_floats(e, n);
    if (!d->a || !d->b || !d->dout || !d->da0 || !d->db0)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_check_random(e, d->a, n, -6.0f, 6.0f); /* both tails of the sigmoid */
    vkq_check_random(e, d->b, n, -2.0f, 2.0f);
    vkq_check_random(e, d->dout, n, -1.0f, 1.0f);
    /* Non-zero gradients, so the check sees that the backward adds. */
    vkq_check_random(e, d->da0, n, -1.0f, 1.0f);
    vkq_check_random(e, d->db0, n, -1.0f, 1.0f);
    VKQ_TRY(vkq_check_input(e, d->a, n, &d->dev_a));
    VKQ_TRY(vkq_check_input(e, d->b, n, &d->dev_b));
    VKQ_TRY(vkq_check_input(e, d->dout, n, &d->dev_dout));
    VKQ_TRY(vkq_check_output(e, NULL, n, &d->out));
    VKQ_TRY(vkq_check_output(e, d->da0, n, &d->da));
    return vkq_check_output(e, d->db0, n, &d->db);
}

static vkq_status compare_with_reference(vkq_check_env *e, const swiglu_data *d)
{
    uint32_t n = d->n;
    float *out = vkq_check_floats(e, n), *da = vkq_check_floats(e, n);
    float *db = vkq_check_floats(e, n), *got = vkq_check_floats(e, n);
    if (!out || !da || !db || !got)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_ref_swiglu_forward(d->a, d->b, out, n);
    memcpy(da, d->da0, n * sizeof *da);
    memcpy(db, d->db0, n * sizeof *db);
    vkq_ref_swiglu_backward(d->dout, d->a, d->b, da, db, n);

    char name[96];
    int guards;
    struct { const char *what; const vkq_guarded *g; const float *want; } outs[] = {
        {"out", &d->out, out}, {"da", &d->da, da}, {"db", &d->db, db}};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        VKQ_TRY(vkq_check_read(e, outs[i].g, got, &guards));
        snprintf(name, sizeof name, "n=%u %s", n, outs[i].what);
        vkq_check_emit(e, name, vkq_nmse(got, outs[i].want, n), 1e-10, guards);
    }
    return VKQ_OK;
}

/* What the backward added to a gradient that started at `initial`. */
static vkq_status read_added(vkq_check_env *e, const vkq_guarded *g, const float *initial,
                             float *added)
{
    int guards;
    VKQ_TRY(vkq_check_read(e, g, added, &guards));
    for (size_t i = 0; i < g->n; i++)
        added[i] -= initial[i];
    return VKQ_OK;
}

/* The device's da and db against central differences of the device forward. */
static vkq_status check_finite_differences(vkq_check_env *e, swiglu_data *d)
{
    uint32_t n = d->n;
    float *da = vkq_check_floats(e, n), *db = vkq_check_floats(e, n);
    if (!da || !db)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    VKQ_TRY(read_added(e, &d->da, d->da0, da));
    VKQ_TRY(read_added(e, &d->db, d->db0, db));
    char name[96];
    snprintf(name, sizeof name, "n=%u da", n);
    vkq_fd_check fd = {name, device_forward, d, d->a, n, d->dout, n, da, 1e-2f, 24, 1e-5};
    VKQ_TRY(vkq_check_fd(e, &fd));
    d->perturb_b = 1; /* out is linear in b: a large step loses nothing and rounds less */
    snprintf(name, sizeof name, "n=%u db", n);
    fd = (vkq_fd_check){name, device_forward, d, d->b, n, d->dout, n, db, 0.25f, 24, 1e-5};
    return vkq_check_fd(e, &fd);
}

static vkq_status run_case(vkq_check_env *e, uint32_t n)
{
    swiglu_data d;
    VKQ_TRY(prepare(e, n, &d));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_swiglu_forward(e->rec, d.dev_a, d.dev_b, d.out.view, n));
    VKQ_TRY(vkq_swiglu_backward(e->rec, d.dev_dout, d.dev_a, d.dev_b, d.da.view, d.db.view, n));
    VKQ_TRY(vkq_check_submit(e));
    VKQ_TRY(compare_with_reference(e, &d));
    VKQ_TRY(check_finite_differences(e, &d));
    vkq_check_release(e);
    return VKQ_OK;
}

vkq_status vkq_check_swiglu(vkq_check_env *e)
{
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        VKQ_TRY(run_case(e, sizes[i]));
    return VKQ_OK;
}
