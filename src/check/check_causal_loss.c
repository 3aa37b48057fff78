#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/harness.h"
#include "kernels/reference.h"
#include "vkquill/causal_loss.h"

enum { MAX_ROWS = 8 };

typedef struct causal_case {
    uint32_t rows, vocab;
    int all_ignored; /* every target out of range: all sums are zero */
    int shift;       /* token 0's z^h shifted by +100: exp overflows unless maxima come first */
    int fd;          /* small shapes: the probes then hit target entries, and the fp32
                      * rounding of L stays well below what one logit's step changes */
} causal_case;

static const causal_case cases[] = {{1, 1, 0, 0, 0}, {3, 2, 0, 0, 0}, {2, 5, 1, 0, 0},
                                     {6, 3, 0, 0, 1}, {5, 7, 0, 0, 1}, {7, 37, 0, 0, 1},
                                     {4, 2000, 0, 1, 0}};

static const char *const weighting_names[] = {"uniform", "threshold", "js"};
static const char *const align_names[] = {"none", "ce", "kl"};

/* Host inputs of one case. */
typedef struct inputs {
    float *logits, *ref_logits;
    int32_t targets[MAX_ROWS];
    float fixed_dce[MAX_ROWS];
    float delta;
} inputs;

/* Device buffers of one case: inputs, and guarded outputs that every run rewrites. */
typedef struct device {
    vkq_buf targets, fixed_dce, ref_logits, frozen_dce;
    vkq_guarded grad, stats, totals, dce;
} device;

static int compare_floats(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Halfway between the two middle DCEs of the valid tokens: both sides of the threshold
 * occur, and every DCE lies half a gap (far more than rounding) away from delta. */
static float median_gap(const causal_case *c, const inputs *in)
{
    float dce[MAX_ROWS], valid[MAX_ROWS];
    uint32_t n = 0;
    vkq_ref_causal_dce(in->logits, in->targets, dce, c->rows, c->vocab);
    for (uint32_t r = 0; r < c->rows; r++)
        if (in->targets[r] >= 0 && (uint32_t)in->targets[r] < c->vocab)
            valid[n++] = dce[r];
    if (n < 2)
        return 0.0f;
    qsort(valid, n, sizeof valid[0], compare_floats);
    return 0.5f * (valid[n / 2 - 1] + valid[n / 2]);
}

/* From 3 rows on the last target is -1 and from 5 rows row 1's is vocab: both ignored. */
static void random_inputs(vkq_check_env *e, const causal_case *c, inputs *in)
{
    size_t n = 2 * (size_t)c->rows * c->vocab;
    float u[MAX_ROWS];
    vkq_check_random(e, in->logits, n, -4.0f, 4.0f);
    vkq_check_random(e, in->ref_logits, n, -4.0f, 4.0f);
    vkq_check_random(e, in->fixed_dce, c->rows, -0.5f, 0.5f);
    vkq_check_random(e, u, c->rows, 0.0f, 1.0f);
    for (uint32_t r = 0; r < c->rows; r++)
        in->targets[r] = c->all_ignored ? -1 - (int32_t)r
                                        : (int32_t)(u[r] * (float)c->vocab) % (int32_t)c->vocab;
    for (uint32_t j = 0; c->shift && j < c->vocab; j++)
        in->logits[j] += 100.0f;
    if (c->rows >= 3)
        in->targets[c->rows - 1] = -1;
    if (c->rows >= 5)
        in->targets[1] = (int32_t)c->vocab;
    in->delta = median_gap(c, in);
}

static vkq_status upload(vkq_check_env *e, const causal_case *c, const inputs *in, device *d)
{
    size_t n = 2 * (size_t)c->rows * c->vocab;
    VKQ_TRY(vkq_check_input_ints(e, in->targets, c->rows, &d->targets));
    VKQ_TRY(vkq_check_input(e, in->fixed_dce, c->rows, &d->fixed_dce));
    VKQ_TRY(vkq_check_input(e, in->ref_logits, n, &d->ref_logits));
    VKQ_TRY(vkq_check_input(e, in->fixed_dce, c->rows, &d->frozen_dce));
    VKQ_TRY(vkq_check_output(e, NULL, n, &d->grad));
    VKQ_TRY(vkq_check_output(e, NULL, 4 * (size_t)c->rows, &d->stats));
    VKQ_TRY(vkq_check_output(e, NULL, 4, &d->totals));
    return vkq_check_output(e, NULL, c->rows, &d->dce);
}

/* Fresh logits into the in-place buffer, stale values into stats and totals (each run must
 * overwrite them), then one loss. */
static vkq_status run_loss(vkq_check_env *e, const vkq_causal_loss_args *a, const float *logits,
                           const device *d, vkq_buf dce)
{
    float stale[4 * MAX_ROWS];
    for (size_t i = 0; i < 4 * MAX_ROWS; i++)
        stale[i] = 5.0f + (float)i;
    VKQ_TRY(vkq_buf_upload(e->ctx, d->grad.view, 0, logits, d->grad.n * sizeof(float)));
    VKQ_TRY(vkq_buf_upload(e->ctx, d->stats.view, 0, stale, d->stats.n * sizeof(float)));
    VKQ_TRY(vkq_buf_upload(e->ctx, d->totals.view, 0, stale, d->totals.n * sizeof(float)));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_causal_loss(e->rec, a, d->grad.view, d->targets, dce, d->ref_logits,
                            d->stats.view, d->totals.view));
    return vkq_check_submit(e);
}

/* Variants count through weighting, alignment, weighted or not, then dynamic or fixed DCE. */
enum { VARIANTS = 36 };

static int variant_of(vkq_weighting weighting, vkq_alignment align, int weighted)
{
    return (int)weighting + 3 * (int)align + 9 * weighted;
}

static vkq_causal_loss_args args_of(const causal_case *c, const inputs *in, int variant)
{
    vkq_causal_loss_args a = {.rows = c->rows,
                              .vocab = c->vocab,
                              .weighting = (vkq_weighting)(variant % 3),
                              .align = (vkq_alignment)(variant / 3 % 3),
                              .align_weighted = variant / 9 % 2,
                              .dce_fixed = variant / 18 % 2,
                              .delta = in->delta,
                              .lambda = 0.9f,
                              .eps = 0.1f,
                              .alpha = 0.1f,
                              .grad_scale = 0.25f};
    return a;
}

/* Stats, totals and gradient of one variant against the reference, as one line: the worst. */
static vkq_status check_variant(vkq_check_env *e, const causal_case *c, const inputs *in,
                                const device *d, int variant, float *want, float *got)
{
    vkq_causal_loss_args a = args_of(c, in, variant);
    float want_stats[4 * MAX_ROWS], want_totals[4];
    VKQ_TRY(run_loss(e, &a, in->logits, d, d->fixed_dce));
    vkq_ref_causal_loss(&a, in->logits, in->targets, in->fixed_dce, in->ref_logits, want_stats,
                        want_totals, want);
    struct { const char *what; const vkq_guarded *g; const float *want; } outs[] = {
        {"stats", &d->stats, want_stats}, {"totals", &d->totals, want_totals},
        {"dlogits", &d->grad, want}};
    double worst = -1.0;
    int all_guards = 1, guards;
    const char *worst_name = "";
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        VKQ_TRY(vkq_check_read(e, outs[i].g, got, &guards));
        double err = vkq_nmse(got, outs[i].want, outs[i].g->n);
        all_guards &= guards;
        if (err > worst)
            worst = err, worst_name = outs[i].what;
    }
    char name[128];
    snprintf(name, sizeof name, "rows=%u vocab=%u %s+%s%s%s (worst: %s)", c->rows, c->vocab,
             weighting_names[a.weighting], align_names[a.align],
             a.align_weighted ? " weighted" : "", a.dce_fixed ? " fixed-dce" : "", worst_name);
    vkq_check_emit(e, name, worst, 1e-10, all_guards);
    return VKQ_OK;
}

static vkq_status check_dce_cache(vkq_check_env *e, const causal_case *c, const inputs *in,
                                  const device *d, float *got)
{
    float want[MAX_ROWS];
    int guards;
    VKQ_TRY(vkq_buf_upload(e->ctx, d->grad.view, 0, in->ref_logits, d->grad.n * sizeof(float)));
    VKQ_TRY(vkq_rec_begin(e->rec));
    VKQ_TRY(vkq_causal_dce(e->rec, d->grad.view, d->targets, d->dce.view, c->rows, c->vocab));
    VKQ_TRY(vkq_check_submit(e));
    vkq_ref_causal_dce(in->ref_logits, in->targets, want, c->rows, c->vocab);
    VKQ_TRY(vkq_check_read(e, &d->dce, got, &guards));
    char name[96];
    snprintf(name, sizeof name, "rows=%u vocab=%u dce cache", c->rows, c->vocab);
    vkq_check_emit(e, name, vkq_nmse(got, want, c->rows), 1e-10, guards);
    return VKQ_OK;
}

/* Rows [first, first + rows) of a batch, laid out as a batch of their own: a share of it, as
 * one process of several holds. */
typedef struct share {
    uint32_t first, rows;
    float *logits, *ref_logits;
    vkq_buf targets, fixed_dce, ref;
    vkq_guarded grad, work, sums, stats, totals;
} share;

static void take_rows(const float *full, float *part, uint32_t rows, const share *sh,
                      uint32_t vocab)
{
    size_t half = (size_t)sh->rows * vocab;
    memcpy(part, full + (size_t)sh->first * vocab, half * sizeof *part);
    memcpy(part + half, full + (size_t)(rows + sh->first) * vocab, half * sizeof *part);
}

static vkq_status make_share(vkq_check_env *e, const causal_case *c, const inputs *in,
                             uint32_t first, uint32_t rows, share *sh)
{
    size_t n = 2 * (size_t)rows * c->vocab;
    *sh = (share){.first = first, .rows = rows, .logits = vkq_check_floats(e, n),
                  .ref_logits = vkq_check_floats(e, n)};
    if (!sh->logits || !sh->ref_logits)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    take_rows(in->logits, sh->logits, c->rows, sh, c->vocab);
    take_rows(in->ref_logits, sh->ref_logits, c->rows, sh, c->vocab);
    VKQ_TRY(vkq_check_input_ints(e, in->targets + first, rows, &sh->targets));
    VKQ_TRY(vkq_check_input(e, in->fixed_dce + first, rows, &sh->fixed_dce));
    VKQ_TRY(vkq_check_input(e, sh->ref_logits, n, &sh->ref));
    VKQ_TRY(vkq_check_output(e, NULL, n, &sh->grad));
    VKQ_TRY(vkq_check_output(e, NULL, vkq_causal_loss_work_bytes(rows) / 4, &sh->work));
    VKQ_TRY(vkq_check_output(e, NULL, VKQ_CAUSAL_SUMS, &sh->sums));
    VKQ_TRY(vkq_check_output(e, NULL, 4 * (size_t)rows, &sh->stats));
    return vkq_check_output(e, NULL, 4, &sh->totals);
}

/* Both shares' sums, then every share's finish with the sum of the two. */
static vkq_status run_shares(vkq_check_env *e, vkq_causal_loss_args a, share sh[2])
{
    float sums[2][VKQ_CAUSAL_SUMS];
    for (int i = 0; i < 2; i++) {
        a.rows = sh[i].rows;
        VKQ_TRY(vkq_buf_upload(e->ctx, sh[i].grad.view, 0, sh[i].logits,
                               sh[i].grad.n * sizeof(float)));
        VKQ_TRY(vkq_rec_begin(e->rec));
        VKQ_TRY(vkq_causal_loss_sums(e->rec, &a, sh[i].grad.view, sh[i].targets,
                                     sh[i].fixed_dce, sh[i].ref, sh[i].work.view,
                                     sh[i].sums.view));
        VKQ_TRY(vkq_check_submit(e));
        VKQ_TRY(vkq_buf_download(e->ctx, sh[i].sums.view, 0, sums[i], sizeof sums[i]));
    }
    for (int k = 0; k < VKQ_CAUSAL_SUMS; k++)
        sums[0][k] += sums[1][k];
    for (int i = 0; i < 2; i++) {
        a.rows = sh[i].rows;
        VKQ_TRY(vkq_buf_upload(e->ctx, sh[i].sums.view, 0, sums[0], sizeof sums[0]));
        VKQ_TRY(vkq_rec_begin(e->rec));
        VKQ_TRY(vkq_causal_loss_finish(e->rec, &a, sh[i].grad.view, sh[i].targets, sh[i].ref,
                                       sh[i].work.view, sh[i].sums.view, sh[i].stats.view,
                                       sh[i].totals.view));
        VKQ_TRY(vkq_check_submit(e));
    }
    return VKQ_OK;
}

/* A share's rows back into the places they hold in the whole batch. */
static void put_rows(const float *part, float *full, uint32_t rows, const share *sh,
                     uint32_t width)
{
    size_t half = (size_t)sh->rows * width;
    memcpy(full + (size_t)sh->first * width, part, half * sizeof *part);
    memcpy(full + (size_t)(rows + sh->first) * width, part + half, half * sizeof *part);
}

/* The batch split in two shares whose sums are added between the halves must give the whole
 * batch's gradient rows and losses (the reference of the whole), and each share its own rows
 * of the stats. */
static vkq_status check_split(vkq_check_env *e, const causal_case *c, const inputs *in,
                              share sh[2], int variant, float *want, float *got)
{
    vkq_causal_loss_args a = args_of(c, in, variant);
    float want_stats[4 * MAX_ROWS], want_totals[4], stats[4 * MAX_ROWS], totals[2][4];
    vkq_ref_causal_loss(&a, in->logits, in->targets, in->fixed_dce, in->ref_logits, want_stats,
                        want_totals, want);
    VKQ_TRY(run_shares(e, a, sh));
    int all_guards = 1, guards;
    for (int i = 0; i < 2; i++) {
        VKQ_TRY(vkq_check_read(e, &sh[i].grad, sh[i].logits, &guards));
        all_guards &= guards;
        put_rows(sh[i].logits, got, c->rows, &sh[i], c->vocab);
        take_rows(in->logits, sh[i].logits, c->rows, &sh[i], c->vocab); /* for the next run */
        VKQ_TRY(vkq_check_read(e, &sh[i].stats, stats + 4 * sh[i].first, &guards));
        all_guards &= guards;
        VKQ_TRY(vkq_check_read(e, &sh[i].totals, totals[i], &guards));
        all_guards &= guards;
    }
    double err = vkq_nmse(got, want, 2 * (size_t)c->rows * c->vocab);
    double errs[] = {vkq_nmse(stats, want_stats, 4 * (size_t)c->rows),
                     vkq_nmse(totals[0], want_totals, 4), vkq_nmse(totals[1], want_totals, 4)};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
        err = errs[i] > err ? errs[i] : err;
    char name[128];
    snprintf(name, sizeof name, "rows=%u vocab=%u %s+%s%s%s split %u+%u", c->rows, c->vocab,
             weighting_names[a.weighting], align_names[a.align],
             a.align_weighted ? " weighted" : "", a.dce_fixed ? " fixed-dce" : "", sh[0].rows,
             sh[1].rows);
    vkq_check_emit(e, name, err, 1e-10, all_guards);
    return VKQ_OK;
}

/* The finite-difference forward: L of the loss with DCE frozen at the unperturbed logits'. */
typedef struct fd_forward {
    vkq_causal_loss_args args;
    const device *d;
} fd_forward;

static vkq_status device_loss(vkq_check_env *e, void *user, const float *logits, float *totals)
{
    const fd_forward *f = user;
    VKQ_TRY(run_loss(e, &f->args, logits, f->d, f->d->frozen_dce));
    return vkq_buf_download(e->ctx, f->d->totals.view, 0, totals, 4 * sizeof(float));
}

/* The device gradient of one variant (dynamic DCE) against central differences of L. No
 * gradient flows through DCE or the weights, so the differences must hold them constant: the
 * forward takes the DCE of the unperturbed logits as fixed DCE, which keeps threshold (and
 * uniform) weights exactly as they were. js weights move with the logits and cannot be held
 * fixed through the API, so js gradients are checked against the reference only. */
static vkq_status check_fd(vkq_check_env *e, const causal_case *c, const inputs *in,
                           const device *d, vkq_causal_loss_args a, float *analytic)
{
    float stats[4 * MAX_ROWS], frozen[MAX_ROWS];
    int guards;
    a.grad_scale = 1.0f;
    a.dce_fixed = 0;
    VKQ_TRY(run_loss(e, &a, in->logits, d, d->fixed_dce));
    VKQ_TRY(vkq_check_read(e, &d->grad, analytic, &guards));
    VKQ_TRY(vkq_check_read(e, &d->stats, stats, &guards));
    for (uint32_t r = 0; r < c->rows; r++)
        frozen[r] = stats[4 * r];
    VKQ_TRY(vkq_buf_upload(e->ctx, d->frozen_dce, 0, frozen, c->rows * sizeof(float)));

    fd_forward f = {a, d};
    f.args.dce_fixed = 1;
    static const float pick_l[4] = {0.0f, 0.0f, 1.0f, 0.0f};
    char name[96];
    snprintf(name, sizeof name, "rows=%u vocab=%u %s+%s%s dlogits", c->rows, c->vocab,
             weighting_names[a.weighting], align_names[a.align],
             a.align_weighted ? " weighted" : "");
    /* L is fp32: a step this large keeps its rounding small next to the difference, while
     * the curvature error (~step^2 / 6, relative) stays near 1e-4. */
    vkq_fd_check fd = {name, device_loss, &f, in->logits, d->grad.n, pick_l, 4, analytic,
                       5e-2f, 24, 1e-5};
    return vkq_check_fd(e, &fd);
}

static vkq_status run_case(vkq_check_env *e, const causal_case *c)
{
    size_t n = 2 * (size_t)c->rows * c->vocab;
    /* got also receives the stats (4 per row) and the 4 totals: more than n when vocab is 1 */
    size_t got_n = n > 4 * (size_t)c->rows ? n : 4 * (size_t)c->rows;
    inputs in = {.logits = vkq_check_floats(e, n), .ref_logits = vkq_check_floats(e, n)};
    float *want = vkq_check_floats(e, n), *got = vkq_check_floats(e, got_n);
    if (!in.logits || !in.ref_logits || !want || !got)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    random_inputs(e, c, &in);
    device d;
    VKQ_TRY(upload(e, c, &in, &d));
    for (int v = 0; v < VARIANTS; v++)
        VKQ_TRY(check_variant(e, c, &in, &d, v, want, got));
    VKQ_TRY(check_dce_cache(e, c, &in, &d, got));
    if (c->rows >= 2) {
        share sh[2];
        VKQ_TRY(make_share(e, c, &in, 0, c->rows / 2, &sh[0]));
        VKQ_TRY(make_share(e, c, &in, c->rows / 2, c->rows - c->rows / 2, &sh[1]));
        for (int v = 0; v < VARIANTS; v++)
            VKQ_TRY(check_split(e, c, &in, sh, v, want, got));
    }
    if (c->fd) {
        int fd_variants[] = {variant_of(VKQ_WEIGHTS_UNIFORM, VKQ_ALIGN_NONE, 0),     /* sft */
                             variant_of(VKQ_WEIGHTS_THRESHOLD, VKQ_ALIGN_CE, 0), /* nextquill */
                             variant_of(VKQ_WEIGHTS_THRESHOLD, VKQ_ALIGN_KL, 1)};
        for (size_t i = 0; i < sizeof fd_variants / sizeof fd_variants[0]; i++)
            VKQ_TRY(check_fd(e, c, &in, &d, args_of(c, &in, fd_variants[i]), got));
    }
    vkq_check_release(e);
    return VKQ_OK;
}

vkq_status vkq_check_causal_loss(vkq_check_env *e)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        VKQ_TRY(run_case(e, &cases[i]));
    return VKQ_OK;
}
