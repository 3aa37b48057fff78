#include <stdio.h>

#include "check/harness.h"
#include "kernels/reference.h"

enum { MAX_ROWS = 16 };

typedef struct cross_entropy_case {
    uint32_t rows, vocab;
    int shift; /* row 0 shifted by +100: exp overflows unless the kernel subtracts the max */
    int fd;    /* small unshifted rows only: elsewhere the fp32 loss rounds more than a
                * finite difference of one logit changes it */
} cross_entropy_case;

/* 131075: past 128K, and not a multiple of any workgroup size. */
static const cross_entropy_case cases[] = {
    {1, 1, 1, 0}, {3, 7, 0, 1}, {13, 37, 0, 1}, {5, 1000, 1, 0}, {2, 131075, 1, 0}};

static const vkq_buf no_gradient;

typedef struct cross_entropy_bufs {
    uint32_t rows, vocab;
    vkq_buf logits, targets, weights, losses;
} cross_entropy_bufs;

/* Awkward but valid inputs: from 3 rows on, the last row's target is -1 and (from 5 rows)
 * row 1's is vocab, both ignored; the middle row's weight is 0. */
static void random_inputs(vkq_check_env *e, const cross_entropy_case *c, float *logits,
                          int32_t *targets, float *weights)
{
    float u[MAX_ROWS];
    vkq_check_random(e, logits, (size_t)c->rows * c->vocab, -4.0f, 4.0f);
    vkq_check_random(e, weights, c->rows, 0.5f, 1.5f);
    vkq_check_random(e, u, c->rows, 0.0f, 1.0f);
    for (uint32_t r = 0; r < c->rows; r++)
        targets[r] = (int32_t)(u[r] * (float)c->vocab) % (int32_t)c->vocab;
    for (uint32_t j = 0; c->shift && j < c->vocab; j++)
        logits[j] += 100.0f;
    if (c->rows >= 3) {
        targets[c->rows - 1] = -1;
        weights[c->rows / 2] = 0.0f;
    }
    if (c->rows >= 5)
        targets[1] = (int32_t)c->vocab;
}

static vkq_status device_losses(vkq_check_env *e, void *user, const float *logits, float *losses)
{
    cross_entropy_bufs *b = user;
    VKQ_TRY(vkq_buf_upload(e->ctx, b->logits, 0, logits,
                           (size_t)b->rows * b->vocab * sizeof(float)));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_cross_entropy(e->rec, b->logits, b->targets, b->weights, b->losses, no_gradient,
                              b->rows, b->vocab));
    VKQ_TRY(vkq_check_submit(e));
    return vkq_buf_download(e->ctx, b->losses, 0, losses, b->rows * sizeof(float));
}

typedef struct outputs {
    vkq_guarded losses, dlogits;          /* separate gradient buffer */
    vkq_guarded in_place_losses, in_place; /* gradient over a copy of the logits */
    vkq_guarded plain_losses;             /* no gradient */
} outputs;

static vkq_status record_all(vkq_check_env *e, const cross_entropy_bufs *b, const outputs *o)
{
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_cross_entropy(e->rec, b->logits, b->targets, b->weights, o->losses.view,
                              o->dlogits.view, b->rows, b->vocab));
    VKQ_TRY(vkq_cross_entropy(e->rec, o->in_place.view, b->targets, b->weights,
                              o->in_place_losses.view, o->in_place.view, b->rows, b->vocab));
    VKQ_TRY(vkq_cross_entropy(e->rec, b->logits, b->targets, b->weights, o->plain_losses.view,
                              no_gradient, b->rows, b->vocab));
    return vkq_check_submit(e);
}

static vkq_status compare(vkq_check_env *e, const cross_entropy_case *c, const outputs *o,
                          const float *losses, const float *dlogits, float *got)
{
    struct { const char *what; const vkq_guarded *g; const float *want; } outs[] = {
        {"losses", &o->losses, losses},
        {"dlogits", &o->dlogits, dlogits},
        {"in-place losses", &o->in_place_losses, losses},
        {"in-place dlogits", &o->in_place, dlogits},
        {"no-gradient losses", &o->plain_losses, losses}};
    char name[96];
    int guards;
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        VKQ_TRY(vkq_check_read(e, outs[i].g, got, &guards));
        snprintf(name, sizeof name, "rows=%u vocab=%u %s", c->rows, c->vocab, outs[i].what);
        vkq_check_emit(e, name, vkq_nmse(got, outs[i].want, outs[i].g->n), 1e-10, guards);
    }
    return VKQ_OK;
}

static vkq_status run_case(vkq_check_env *e, const cross_entropy_case *c)
{
    size_t n = (size_t)c->rows * c->vocab;
    float *logits = vkq_check_floats(e, n), *dlogits = vkq_check_floats(e, n);
    float *stale = vkq_check_floats(e, n), *got = vkq_check_floats(e, n);
    float weights[MAX_ROWS], losses[MAX_ROWS], ones[MAX_ROWS];
    int32_t targets[MAX_ROWS];
    if (!logits || !dlogits || !stale || !got)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    random_inputs(e, c, logits, targets, weights);
    vkq_check_random(e, stale, n, 5.0f, 6.0f); /* the gradient must overwrite every logit */

    cross_entropy_bufs b = {.rows = c->rows, .vocab = c->vocab};
    outputs o;
    VKQ_TRY(vkq_check_input(e, logits, n, &b.logits));
    VKQ_TRY(vkq_check_input_ints(e, targets, c->rows, &b.targets));
    VKQ_TRY(vkq_check_input(e, weights, c->rows, &b.weights));
    VKQ_TRY(vkq_check_output(e, NULL, c->rows, &o.losses));
    VKQ_TRY(vkq_check_output(e, stale, n, &o.dlogits));
    VKQ_TRY(vkq_check_output(e, NULL, c->rows, &o.in_place_losses));
    VKQ_TRY(vkq_check_output(e, logits, n, &o.in_place));
    VKQ_TRY(vkq_check_output(e, NULL, c->rows, &o.plain_losses));
    VKQ_TRY(record_all(e, &b, &o));
    vkq_ref_cross_entropy(logits, targets, weights, losses, dlogits, c->rows, c->vocab);
    VKQ_TRY(compare(e, c, &o, losses, dlogits, got));

    if (c->fd) { /* the device gradient against differences of the summed device losses */
        int guards;
        char name[96];
        VKQ_TRY(vkq_check_read(e, &o.dlogits, got, &guards));
        for (uint32_t r = 0; r < c->rows; r++)
            ones[r] = 1.0f;
        b.losses = o.plain_losses.view;
        snprintf(name, sizeof name, "rows=%u vocab=%u dlogits", c->rows, c->vocab);
        vkq_fd_check fd = {name, device_losses, &b, logits, n, ones, c->rows, got, 5e-2f, 24,
                           1e-5};
        VKQ_TRY(vkq_check_fd(e, &fd));
    }
    vkq_check_release(e);
    return VKQ_OK;
}

vkq_status vkq_check_cross_entropy(vkq_check_env *e)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        VKQ_TRY(run_case(e, &cases[i]));
    return VKQ_OK;
}
