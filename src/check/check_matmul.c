#include <stdio.h>

#include "check/harness.h"
#include "kernels/reference.h"

typedef struct matmul_case {
    uint32_t m, n, k, batch, pad;
    float alpha, beta;
} matmul_case;

/* Awkward sizes on purpose: 1, primes, one past a tile, and batches with gaps between items. */
static const matmul_case cases[] = {
    {1, 1, 1, 1, 0, 1.0f, 0.0f},     {7, 13, 5, 1, 0, 1.0f, 0.0f},
    {32, 32, 32, 1, 0, 1.0f, 0.0f},  {33, 65, 17, 1, 0, 1.0f, 0.0f},
    {64, 31, 100, 1, 0, 1.0f, 0.0f}, {97, 130, 61, 1, 0, 1.0f, 0.0f},
    {19, 40, 23, 3, 5, 0.5f, 1.0f},  {5, 3, 129, 2, 0, -2.0f, 0.25f},
};

static const double threshold = 1e-10;

static vkq_status run_case(vkq_check_env *e, vkq_matmul_form form, const matmul_case *c)
{
    vkq_matmul_args args = {.form = form, .m = c->m, .n = c->n, .k = c->k, .batch = c->batch,
                            .stride_a = (uint64_t)c->m * c->k + c->pad,
                            .stride_b = (uint64_t)c->k * c->n + c->pad,
                            .stride_c = (uint64_t)c->m * c->n + c->pad,
                            .alpha = c->alpha, .beta = c->beta};
    size_t na = args.stride_a * c->batch, nb = args.stride_b * c->batch,
           nc = args.stride_c * c->batch;
    float *a = vkq_check_floats(e, na), *b = vkq_check_floats(e, nb);
    float *want = vkq_check_floats(e, nc), *got = vkq_check_floats(e, nc);
    if (!a || !b || !want || !got)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_check_random(e, a, na, -1.0f, 1.0f);
    vkq_check_random(e, b, nb, -1.0f, 1.0f);
    vkq_check_random(e, want, nc, -1.0f, 1.0f);

    vkq_buf da, db;
    vkq_guarded dc;
    VKQ_TRY(vkq_check_input(e, a, na, &da));
    VKQ_TRY(vkq_check_input(e, b, nb, &db));
    VKQ_TRY(vkq_check_output(e, want, nc, &dc));
    vkq_ref_matmul(&args, a, b, want);

    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_matmul(e->rec, &args, da, db, dc.view));
    VKQ_TRY(vkq_check_submit(e));
    int guards_ok;
    VKQ_TRY(vkq_check_read(e, &dc, got, &guards_ok));

    char name[128];
    snprintf(name, sizeof name, "%s m=%u n=%u k=%u batch=%u alpha=%g beta=%g",
             vkq_matmul_form_name(form), c->m, c->n, c->k, c->batch, c->alpha, c->beta);
    vkq_check_emit(e, name, vkq_nmse(got, want, nc), threshold, guards_ok);
    vkq_check_release(e);
    return VKQ_OK;
}

vkq_status vkq_check_matmul(vkq_check_env *e)
{
    for (int form = VKQ_MATMUL_NN; form <= VKQ_MATMUL_TN; form++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            VKQ_TRY(run_case(e, (vkq_matmul_form)form, &cases[i]));
    return VKQ_OK;
}
