#include <stdio.h>

#include "check/harness.h"
#include "kernels/reference.h"

typedef struct matmul_case {
    uint32_t m, n, k, batch, pad;
    float alpha, beta;
} matmul_case;

/* Awkward sizes on purpose: 1, primes, one past a tile, and batches with gaps between items;
 * the last three are read in place by the cpu variant in some forms (rows or k a multiple of
 * 4): a k that ends inside a texel, rows that end inside one, and a partial last tile. */
static const matmul_case cases[] = {
    {1, 1, 1, 1, 0, 1.0f, 0.0f},     {7, 13, 5, 1, 0, 1.0f, 0.0f},
    {32, 32, 32, 1, 0, 1.0f, 0.0f},  {33, 65, 17, 1, 0, 1.0f, 0.0f},
    {64, 31, 100, 1, 0, 1.0f, 0.0f}, {97, 130, 61, 1, 0, 1.0f, 0.0f},
    {19, 40, 23, 3, 5, 0.5f, 1.0f},  {5, 3, 129, 2, 0, -2.0f, 0.25f},
    {40, 36, 20, 1, 0, 1.0f, 0.0f},  {9, 16, 48, 2, 8, 1.0f, 0.5f},
    {44, 68, 37, 2, 4, 1.0f, 0.5f},  {42, 20, 8, 1, 0, 1.0f, 0.0f},
    {36, 100, 12, 3, 0, 0.5f, 1.0f},
};

/* The 16-bit operands (a frozen base's weights) run on a few of them: an odd k, odd strides,
 * one past a tile, and shapes whose rows or k let the cpu variant read 16-bit texels (k a
 * multiple of 8 where k is contiguous, rows a multiple of 4 where they are). */
static const size_t half_cases[] = {1, 3, 5, 6, 8, 9};

static const double threshold = 1e-10;

/* An operand of type t from random floats: its device buffer and the host copy in t. */
static vkq_status operand(vkq_check_env *e, vkq_dtype t, size_t n, void **host, vkq_buf *dev)
{
    float *x = vkq_check_floats(e, n);
    if (!x)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_check_random(e, x, n, -1.0f, 1.0f);
    return vkq_check_input_typed(e, t, x, n, host, dev);
}

static vkq_status run_case(vkq_check_env *e, vkq_matmul_form form, const matmul_case *c,
                           vkq_dtype type_a, vkq_dtype type_b)
{
    vkq_matmul_args args = {.form = form, .m = c->m, .n = c->n, .k = c->k, .batch = c->batch,
                            .stride_a = (uint64_t)c->m * c->k + c->pad,
                            .stride_b = (uint64_t)c->k * c->n + c->pad,
                            .stride_c = (uint64_t)c->m * c->n + c->pad,
                            .alpha = c->alpha, .beta = c->beta,
                            .type_a = type_a, .type_b = type_b};
    size_t na = args.stride_a * c->batch, nb = args.stride_b * c->batch,
           nc = args.stride_c * c->batch;
    float *want = vkq_check_floats(e, nc), *got = vkq_check_floats(e, nc);
    if (!want || !got)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    void *a, *b;
    vkq_buf da, db;
    vkq_guarded dc;
    VKQ_TRY(operand(e, type_a, na, &a, &da));
    VKQ_TRY(operand(e, type_b, nb, &b, &db));
    vkq_check_random(e, want, nc, -1.0f, 1.0f);
    VKQ_TRY(vkq_check_output(e, want, nc, &dc));
    vkq_ref_matmul(&args, a, b, want);

    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_matmul(e->rec, &args, da, db, dc.view));
    VKQ_TRY(vkq_check_submit(e));
    int guards_ok;
    VKQ_TRY(vkq_check_read(e, &dc, got, &guards_ok));

    char name[128];
    snprintf(name, sizeof name, "%s m=%u n=%u k=%u batch=%u alpha=%g beta=%g%s%s%s%s",
             vkq_matmul_form_name(form), c->m, c->n, c->k, c->batch, c->alpha, c->beta,
             type_a ? " a=" : "", type_a ? vkq_dtype_name(type_a) : "", type_b ? " b=" : "",
             type_b ? vkq_dtype_name(type_b) : "");
    vkq_check_emit(e, name, vkq_nmse(got, want, nc), threshold, guards_ok);
    vkq_check_release(e);
    return VKQ_OK;
}

/* The input gradient through a frozen 16-bit weight w [n][k]: y = x w^T (nt) forward,
 * dx = dy w (nn) backward, against central differences of the device forward. */
typedef struct frozen_weight {
    uint32_t m, n, k;
    vkq_dtype type;
    vkq_buf w, x;
    vkq_guarded y;
} frozen_weight;

static vkq_status frozen_forward(vkq_check_env *e, void *user, const float *x, float *y)
{
    frozen_weight *f = user;
    vkq_matmul_args args = {.form = VKQ_MATMUL_NT, .m = f->m, .n = f->n, .k = f->k,
                            .alpha = 1.0f, .type_b = f->type};
    VKQ_TRY(vkq_buf_upload(e->ctx, f->x, 0, x, (uint64_t)f->m * f->k * sizeof(float)));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_matmul(e->rec, &args, f->x, f->w, f->y.view));
    VKQ_TRY(vkq_check_submit(e));
    return vkq_buf_download(e->ctx, f->y.view, 0, y, f->y.n * sizeof(float));
}

static vkq_status check_frozen_input_grad(vkq_check_env *e, vkq_dtype type)
{
    frozen_weight f = {.m = 9, .n = 37, .k = 21, .type = type};
    size_t nx = (size_t)f.m * f.k, ny = (size_t)f.m * f.n;
    float *x = vkq_check_floats(e, nx), *r = vkq_check_floats(e, ny);
    float *dx = vkq_check_floats(e, nx), *want = vkq_check_floats(e, nx);
    if (!x || !r || !dx || !want)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_check_random(e, x, nx, -1.0f, 1.0f);
    vkq_check_random(e, r, ny, -1.0f, 1.0f);
    void *w;
    vkq_buf dr;
    vkq_guarded gdx;
    VKQ_TRY(operand(e, type, (size_t)f.n * f.k, &w, &f.w));
    VKQ_TRY(vkq_check_input(e, x, nx, &f.x));
    VKQ_TRY(vkq_check_input(e, r, ny, &dr));
    VKQ_TRY(vkq_check_output(e, NULL, ny, &f.y));
    VKQ_TRY(vkq_check_output(e, NULL, nx, &gdx));
    vkq_matmul_args back = {.form = VKQ_MATMUL_NN, .m = f.m, .n = f.k, .k = f.n, .alpha = 1.0f,
                            .type_b = type};
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_matmul(e->rec, &back, dr, f.w, gdx.view));
    VKQ_TRY(vkq_check_submit(e));
    int guards_ok;
    VKQ_TRY(vkq_check_read(e, &gdx, dx, &guards_ok));
    char name[96];
    snprintf(name, sizeof name, "dx through a frozen %s weight m=%u n=%u k=%u",
             vkq_dtype_name(type), f.m, f.n, f.k);
    vkq_ref_matmul(&back, r, w, want);
    vkq_check_emit(e, name, vkq_nmse(dx, want, nx), threshold, guards_ok);
    /* y is linear in x: a large step loses nothing and rounds less */
    vkq_fd_check fd = {name, frozen_forward, &f, x, nx, r, ny, dx, 0.25f, 24, 1e-6};
    VKQ_TRY(vkq_check_fd(e, &fd));
    vkq_check_release(e);
    return VKQ_OK;
}

vkq_status vkq_check_matmul(vkq_check_env *e)
{
    static const vkq_dtype halves[] = {VKQ_BF16, VKQ_F16};
    for (int form = VKQ_MATMUL_NN; form <= VKQ_MATMUL_TN; form++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            VKQ_TRY(run_case(e, (vkq_matmul_form)form, &cases[i], VKQ_F32, VKQ_F32));
        for (size_t h = 0; h < 2; h++)
            for (size_t i = 0; i < sizeof half_cases / sizeof half_cases[0]; i++) {
                const matmul_case *c = &cases[half_cases[i]];
                VKQ_TRY(run_case(e, (vkq_matmul_form)form, c, VKQ_F32, halves[h]));
                VKQ_TRY(run_case(e, (vkq_matmul_form)form, c, halves[h], VKQ_F32));
            }
    }
    for (size_t h = 0; h < 2; h++)
        VKQ_TRY(check_frozen_input_grad(e, halves[h]));
    return VKQ_OK;
}
