#include "kernels/launch.h"
#include "vkquill/causal_loss.h"
#include "vkquill/kernels.h"

typedef struct causal_loss_push {
    uint32_t rows, vocab, weighting, align, align_weighted, dce_fixed;
    float delta, lambda, eps, alpha, grad_scale;
} causal_loss_push;
VKQ_STATIC_ASSERT_PUSH(causal_loss_push);

enum { STATS, REDUCE, FINALISE, DCE };
/* The scratch layout of shaders/causal_loss.comp: a record per token, then a header. */
enum { RECORD_FLOATS = 8, HEADER_FLOATS = 2 };

static vkq_buf first_floats(vkq_buf buf, uint64_t n) { return vkq_buf_slice(buf, 0, 4 * n); }

static int overlap(vkq_buf a, vkq_buf b)
{
    return a.block && a.block == b.block && a.offset < b.offset + b.size &&
           b.offset < a.offset + a.size;
}

/* Each buffer the kernel writes must not overlap any other buffer it is given. */
static vkq_status need_apart(const char *op, const vkq_buf *bufs, const char *const *names,
                             int count, int written)
{
    for (int i = 0; i < written; i++)
        for (int j = 0; j < count; j++)
            if (j != i && overlap(bufs[i], bufs[j]))
                return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: %s overlaps %s", op, names[i],
                                names[j]);
    return VKQ_OK;
}

static vkq_status check_options(const vkq_causal_loss_args *a)
{
    if ((unsigned)a->weighting > VKQ_WEIGHTS_JS)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "causal_loss: unknown weighting %d",
                        (int)a->weighting);
    if ((unsigned)a->align > VKQ_ALIGN_KL)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "causal_loss: unknown alignment %d",
                        (int)a->align);
    if (a->vocab == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "causal_loss: vocab must be at least 1");
    return VKQ_OK;
}

/* Checks the shapes and trims every buffer to what the kernel touches, so that barriers and
 * the overlap test see exact ranges. */
static vkq_status check_buffers(const vkq_causal_loss_args *a, vkq_buf *logits, vkq_buf *targets,
                                vkq_buf *dce, vkq_buf *ref_logits, vkq_buf *stats)
{
    const char *op = "causal_loss";
    uint64_t rows = a->rows, n = 2 * rows * a->vocab;
    VKQ_TRY(vkq_need_floats(op, "logits", *logits, n));
    VKQ_TRY(vkq_need_floats(op, "targets", *targets, rows)); /* int32 */
    VKQ_TRY(vkq_need_floats(op, "stats", *stats, 4 * rows));
    *logits = first_floats(*logits, n);
    *targets = first_floats(*targets, rows);
    *stats = first_floats(*stats, 4 * rows);
    if (a->dce_fixed) {
        VKQ_TRY(vkq_need_floats(op, "dce", *dce, rows));
        *dce = first_floats(*dce, rows);
    }
    if (a->align == VKQ_ALIGN_KL) {
        VKQ_TRY(vkq_need_floats(op, "ref_logits", *ref_logits, n));
        *ref_logits = first_floats(*ref_logits, n);
    }
    return VKQ_OK;
}

static vkq_status launch(vkq_rec *rec, uint32_t mode, const causal_loss_push *push,
                         const vkq_binding slots[VKQ_STORAGE_SLOTS], uint32_t workgroups)
{
    vkq_dispatch d = {.kernel = &vkq_kernel_causal_loss,
                      .spec = {mode},
                      .spec_count = 1,
                      .push = push,
                      .push_bytes = sizeof *push};
    for (int i = 0; i < VKQ_STORAGE_SLOTS; i++)
        d.slot[i] = slots[i];
    vkq_grid_1d(workgroups, 1, d.groups);
    return vkq_rec_dispatch(rec, &d);
}

vkq_status vkq_causal_loss(vkq_rec *rec, const vkq_causal_loss_args *a, vkq_buf logits,
                           vkq_buf targets, vkq_buf dce, vkq_buf ref_logits, vkq_buf stats,
                           vkq_buf totals)
{
    if (!a)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "causal_loss: no arguments");
    VKQ_TRY(check_options(a));
    VKQ_TRY(vkq_need_floats("causal_loss", "totals", totals, 4));
    totals = first_floats(totals, 4);
    if (a->rows == 0)
        return vkq_fill(rec, totals, 0.0f, 4);
    VKQ_TRY(check_buffers(a, &logits, &targets, &dce, &ref_logits, &stats));
    vkq_buf all[] = {logits, stats, totals, targets, a->dce_fixed ? dce : targets,
                     a->align == VKQ_ALIGN_KL ? ref_logits : targets};
    static const char *const names[] = {"logits", "stats", "totals", "targets", "dce",
                                        "ref_logits"};
    VKQ_TRY(need_apart("causal_loss", all, names, 6, 3));

    vkq_buf scratch;
    VKQ_TRY(vkq_rec_scratch(rec, vkq_causal_loss_scratch(a->rows), &scratch));
    causal_loss_push push = {a->rows, a->vocab, a->weighting, a->align, a->align_weighted != 0,
                             a->dce_fixed != 0, a->delta, a->lambda, a->eps, a->alpha,
                             a->grad_scale};
    /* Bindings a pass does not use get the targets, unread. */
    vkq_binding dce_slot = {a->dce_fixed ? dce : targets, VKQ_READ};
    vkq_binding ref_slot = {a->align == VKQ_ALIGN_KL ? ref_logits : targets, VKQ_READ};
    vkq_binding unused = {targets, VKQ_READ};
    vkq_binding stats_pass[] = {{logits, VKQ_READ}, {targets, VKQ_READ}, dce_slot, ref_slot,
                                {scratch, VKQ_WRITE}, unused};
    vkq_binding reduce_pass[] = {unused, unused, unused, unused, {scratch, VKQ_READ_WRITE},
                                 {totals, VKQ_WRITE}};
    vkq_binding finalise_pass[] = {{logits, VKQ_READ_WRITE}, {targets, VKQ_READ}, unused,
                                   ref_slot, {scratch, VKQ_READ}, {stats, VKQ_WRITE}};
    VKQ_TRY(launch(rec, STATS, &push, stats_pass, a->rows));
    VKQ_TRY(launch(rec, REDUCE, &push, reduce_pass, 1));
    vkq_status s = launch(rec, FINALISE, &push, finalise_pass, a->rows);
    vkq_rec_scratch_release(rec, scratch);
    return s;
}

uint64_t vkq_causal_loss_scratch(uint32_t rows)
{
    return 4ull * (RECORD_FLOATS * (uint64_t)rows + HEADER_FLOATS);
}

vkq_status vkq_causal_dce(vkq_rec *rec, vkq_buf ref_logits, vkq_buf targets, vkq_buf dce_out,
                          uint32_t rows, uint32_t vocab)
{
    const char *op = "causal_dce";
    uint64_t n = 2ull * rows * vocab;
    if (vocab == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: vocab must be at least 1", op);
    if (rows == 0)
        return VKQ_OK;
    VKQ_TRY(vkq_need_floats(op, "ref_logits", ref_logits, n));
    VKQ_TRY(vkq_need_floats(op, "targets", targets, rows)); /* int32 */
    VKQ_TRY(vkq_need_floats(op, "dce_out", dce_out, rows));
    vkq_buf all[] = {first_floats(dce_out, rows), first_floats(ref_logits, n),
                     first_floats(targets, rows)};
    static const char *const names[] = {"dce_out", "ref_logits", "targets"};
    VKQ_TRY(need_apart(op, all, names, 3, 1));
    causal_loss_push push = {.rows = rows, .vocab = vocab, .weighting = VKQ_WEIGHTS_UNIFORM,
                             .align = VKQ_ALIGN_NONE};
    vkq_binding unused = {all[2], VKQ_READ};
    vkq_binding slots[] = {{all[1], VKQ_READ}, {all[2], VKQ_READ}, unused, unused, unused,
                           {all[0], VKQ_WRITE}};
    return launch(rec, DCE, &push, slots, rows);
}
