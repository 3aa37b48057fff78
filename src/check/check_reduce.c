#include <stdio.h>

#include "check/harness.h"
#include "kernels/reference.h"

/* Around the one-workgroup limit (1024) and past the partial-count cap (256 x 1024). */
static const uint32_t sizes[] = {1, 100, 1024, 1025, 100000, 300001};

static const double threshold = 1e-10;

static vkq_status run_case(vkq_check_env *e, int square, uint32_t n)
{
    /* Positive inputs: no cancellation, so a relative error means something. */
    float *x = vkq_check_floats(e, n);
    if (!x)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_check_random(e, x, n, 0.0f, 1.0f);
    float want = square ? vkq_ref_sumsq(x, n) : vkq_ref_sum(x, n), got;

    vkq_buf dx;
    vkq_guarded out;
    VKQ_TRY(vkq_check_input(e, x, n, &dx));
    VKQ_TRY(vkq_check_output(e, NULL, 1, &out));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(square ? vkq_sumsq(e->rec, dx, n, out.view) : vkq_sum(e->rec, dx, n, out.view));
    VKQ_TRY(vkq_check_submit(e));
    int guards_ok;
    VKQ_TRY(vkq_check_read(e, &out, &got, &guards_ok));
    char name[64];
    snprintf(name, sizeof name, "%s n=%u", square ? "sumsq" : "sum", n);
    vkq_check_emit(e, name, vkq_nmse(&got, &want, 1), threshold, guards_ok);
    vkq_check_release(e);
    return VKQ_OK;
}

vkq_status vkq_check_reduce(vkq_check_env *e)
{
    for (int square = 0; square <= 1; square++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            VKQ_TRY(run_case(e, square, sizes[i]));
    return VKQ_OK;
}
