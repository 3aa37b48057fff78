#include <stdio.h>

#include "check/harness.h"
#include "kernels/reference.h"

typedef enum { ADD, SCALE, AXPY, COPY, FILL } op;
static const char *const op_names[] = {"add", "scale", "axpy", "copy", "fill"};

/* 4200000 spills the grid into a second dimension (over 65535 groups of 64). */
static const uint32_t sizes[] = {1, 63, 64, 1000, 4200000};

static const double threshold = 1e-12;

static vkq_status run_case(vkq_check_env *e, op o, uint32_t n)
{
    float *x = vkq_check_floats(e, n), *y = vkq_check_floats(e, n);
    float *want = vkq_check_floats(e, n), *got = vkq_check_floats(e, n);
    if (!x || !y || !want || !got)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_check_random(e, x, n, -1.0f, 1.0f);
    vkq_check_random(e, y, n, -1.0f, 1.0f);
    vkq_check_random(e, want, n, -1.0f, 1.0f);
    const float s = -1.75f;

    vkq_buf dx, dy;
    vkq_guarded out;
    VKQ_TRY(vkq_check_input(e, x, n, &dx));
    VKQ_TRY(vkq_check_input(e, y, n, &dy));
    VKQ_TRY(vkq_check_output(e, want, n, &out));
    VKQ_TRY(vkq_rec_begin(e->rec));
    switch (o) {
    case ADD:
        vkq_ref_add(x, y, want, n);
        VKQ_TRY(vkq_add(e->rec, dx, dy, out.view, n));
        break;
    case SCALE:
        vkq_ref_scale(x, want, s, n);
        VKQ_TRY(vkq_scale(e->rec, dx, out.view, s, n));
        break;
    case AXPY:
        vkq_ref_axpy(s, x, want, n);
        VKQ_TRY(vkq_axpy(e->rec, s, dx, out.view, n));
        break;
    case COPY:
        vkq_ref_copy(x, want, n);
        VKQ_TRY(vkq_copy(e->rec, dx, out.view, n));
        break;
    case FILL:
        vkq_ref_fill(want, s, n);
        VKQ_TRY(vkq_fill(e->rec, out.view, s, n));
        break;
    }
    VKQ_TRY(vkq_check_submit(e));
    int guards_ok;
    VKQ_TRY(vkq_check_read(e, &out, got, &guards_ok));
    char name[64];
    snprintf(name, sizeof name, "%s n=%u", op_names[o], n);
    vkq_check_emit(e, name, vkq_nmse(got, want, n), threshold, guards_ok);
    vkq_check_release(e);
    return VKQ_OK;
}

vkq_status vkq_check_elementwise(vkq_check_env *e)
{
    for (int o = ADD; o <= FILL; o++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            if (o == ADD || sizes[i] < 100000)
                VKQ_TRY(run_case(e, (op)o, sizes[i]));
    return VKQ_OK;
}
