#include <stdio.h>
#include <string.h>

#include "check/harness.h"
#include "kernels/reference.h"

enum { MAX_ROWS = 128 };

typedef struct rows_case {
    uint32_t count, dim, n;
    int out_of_range; /* two listed indices lie outside [0, n) */
} rows_case;

static const rows_case cases[] = {{1, 1, 1, 0}, {5, 37, 13, 1}, {70, 3, 97, 1}, {13, 64, 13, 0}};

typedef struct rows_bufs {
    uint32_t count, dim, n;
    vkq_buf full, list, gathered;
} rows_bufs;

/* The first count entries of a random permutation of 0 .. n-1: distinct, as scatter needs. */
static void random_rows(vkq_check_env *e, const rows_case *c, int32_t *rows)
{
    int32_t all[MAX_ROWS];
    float u[MAX_ROWS];
    vkq_check_random(e, u, c->n, 0.0f, 1.0f);
    for (uint32_t i = 0; i < c->n; i++)
        all[i] = (int32_t)i;
    for (uint32_t i = c->n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(u[i] * (float)(i + 1));
        j = j > i ? i : j;
        int32_t t = all[i];
        all[i] = all[j];
        all[j] = t;
    }
    memcpy(rows, all, c->count * sizeof *rows);
    if (c->out_of_range) {
        rows[1] = -1;
        rows[c->count - 1] = (int32_t)c->n;
    }
}

static vkq_status device_gather(vkq_check_env *e, void *user, const float *full, float *gathered)
{
    rows_bufs *b = user;
    VKQ_TRY(vkq_buf_upload(e->ctx, b->full, 0, full, (size_t)b->n * b->dim * sizeof(float)));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_gather_rows(e->rec, b->full, b->list, b->gathered, b->count, b->dim, b->n));
    VKQ_TRY(vkq_check_submit(e));
    return vkq_buf_download(e->ctx, b->gathered, 0, gathered,
                            (size_t)b->count * b->dim * sizeof(float));
}

static vkq_status run_case(vkq_check_env *e, const rows_case *c)
{
    size_t n_listed = (size_t)c->count * c->dim, n_full = (size_t)c->n * c->dim;
    float *full = vkq_check_floats(e, n_full), *listed = vkq_check_floats(e, n_listed);
    float *stale = vkq_check_floats(e, n_listed), *dst0 = vkq_check_floats(e, n_full);
    float *gathered = vkq_check_floats(e, n_listed), *scattered = vkq_check_floats(e, n_full);
    float *gradient = vkq_check_floats(e, n_full), *got = vkq_check_floats(e, n_full);
    float *copied = vkq_check_floats(e, n_full);
    if (!full || !listed || !stale || !dst0 || !gathered || !scattered || !gradient || !got ||
        !copied)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    int32_t rows[MAX_ROWS];
    random_rows(e, c, rows);
    vkq_check_random(e, full, n_full, -1.0f, 1.0f);
    vkq_check_random(e, listed, n_listed, -1.0f, 1.0f);
    vkq_check_random(e, stale, n_listed, 5.0f, 6.0f); /* the gather must overwrite every row */
    vkq_check_random(e, dst0, n_full, -1.0f, 1.0f);   /* the scatter must add */

    rows_bufs b = {.count = c->count, .dim = c->dim, .n = c->n};
    vkq_buf dlisted;
    vkq_guarded ggathered, gscattered, ggradient, gcopied;
    VKQ_TRY(vkq_check_input(e, full, n_full, &b.full));
    VKQ_TRY(vkq_check_input_ints(e, rows, c->count, &b.list));
    VKQ_TRY(vkq_check_input(e, listed, n_listed, &dlisted));
    VKQ_TRY(vkq_check_output(e, stale, n_listed, &ggathered));
    VKQ_TRY(vkq_check_output(e, dst0, n_full, &gscattered));
    VKQ_TRY(vkq_check_output(e, NULL, n_full, &ggradient));
    VKQ_TRY(vkq_check_output(e, dst0, n_full, &gcopied)); /* rows not listed keep their values */
    b.gathered = ggathered.view;

    /* The scatter into zeros is the gather's gradient for loss = sum(listed * gathered). */
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_gather_rows(e->rec, b.full, b.list, b.gathered, c->count, c->dim, c->n));
    VKQ_TRY(vkq_scatter_add_rows(e->rec, dlisted, b.list, gscattered.view, c->count, c->dim, c->n));
    VKQ_TRY(vkq_scatter_add_rows(e->rec, dlisted, b.list, ggradient.view, c->count, c->dim, c->n));
    VKQ_TRY(vkq_copy_rows(e->rec, dlisted, b.list, gcopied.view, c->count, c->dim, c->n));
    VKQ_TRY(vkq_check_submit(e));
    vkq_ref_gather_rows(full, rows, gathered, c->count, c->dim, c->n);
    memcpy(scattered, dst0, n_full * sizeof *scattered);
    vkq_ref_scatter_add_rows(listed, rows, scattered, c->count, c->dim, c->n);
    memcpy(copied, dst0, n_full * sizeof *copied);
    vkq_ref_copy_rows(listed, rows, copied, c->count, c->dim, c->n);

    char name[96];
    int guards;
    struct { const char *what; const vkq_guarded *g; const float *want; } outs[] = {
        {"gather", &ggathered, gathered}, {"scatter_add", &gscattered, scattered},
        {"copy", &gcopied, copied}};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        VKQ_TRY(vkq_check_read(e, outs[i].g, got, &guards));
        snprintf(name, sizeof name, "count=%u dim=%u n=%u %s", c->count, c->dim, c->n,
                 outs[i].what);
        vkq_check_emit(e, name, vkq_nmse(got, outs[i].want, outs[i].g->n), 1e-10, guards);
    }

    VKQ_TRY(vkq_check_read(e, &ggradient, gradient, &guards));
    snprintf(name, sizeof name, "count=%u dim=%u n=%u scatter as gather gradient", c->count,
             c->dim, c->n);
    /* The gather is linear: a large step loses nothing. */
    vkq_fd_check fd = {name, device_gather, &b, full, n_full, listed, n_listed, gradient,
                       0.25f, 24, 1e-5};
    VKQ_TRY(vkq_check_fd(e, &fd));
    vkq_check_release(e);
    return VKQ_OK;
}

/* Columns 5..16 of 19-wide rows into columns 30..41 of 43-wide rows and back out of them:
 * the other columns of the destination keep their values. */
static vkq_status check_columns(vkq_check_env *e)
{
    enum { ROWS = 7, SRC_W = 19, SRC_AT = 5, DST_W = 43, DST_AT = 30, COLS = 12 };
    float src[ROWS * SRC_W], dst0[ROWS * DST_W], want[ROWS * DST_W], got[ROWS * DST_W];
    float back0[ROWS * COLS], back[ROWS * COLS];
    vkq_check_random(e, src, ROWS * SRC_W, -1.0f, 1.0f);
    vkq_check_random(e, dst0, ROWS * DST_W, 2.0f, 3.0f);
    vkq_check_random(e, back0, ROWS * COLS, 4.0f, 5.0f);
    vkq_buf dsrc;
    vkq_guarded gdst, gback;
    VKQ_TRY(vkq_check_input(e, src, ROWS * SRC_W, &dsrc));
    VKQ_TRY(vkq_check_output(e, dst0, ROWS * DST_W, &gdst));
    VKQ_TRY(vkq_check_output(e, back0, ROWS * COLS, &gback));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_copy_columns(e->rec, dsrc, SRC_W, SRC_AT, gdst.view, DST_W, DST_AT, ROWS, COLS));
    VKQ_TRY(vkq_copy_columns(e->rec, gdst.view, DST_W, DST_AT, gback.view, COLS, 0, ROWS, COLS));
    VKQ_TRY(vkq_check_submit(e));
    memcpy(want, dst0, sizeof want);
    vkq_ref_copy_columns(src, SRC_W, SRC_AT, want, DST_W, DST_AT, ROWS, COLS);
    vkq_ref_copy_columns(src, SRC_W, SRC_AT, back, COLS, 0, ROWS, COLS);
    int guards;
    VKQ_TRY(vkq_check_read(e, &gdst, got, &guards));
    vkq_check_emit(e, "copy_columns into wider rows", vkq_nmse(got, want, ROWS * DST_W), 0.0,
                   guards);
    VKQ_TRY(vkq_check_read(e, &gback, got, &guards));
    vkq_check_emit(e, "copy_columns back", vkq_nmse(got, back, ROWS * COLS), 0.0, guards);
    vkq_check_release(e);
    return VKQ_OK;
}

vkq_status vkq_check_rows(vkq_check_env *e)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        VKQ_TRY(run_case(e, &cases[i]));
    return check_columns(e);
}
