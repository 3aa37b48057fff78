#include "kernels/launch.h"
#include "vkquill/causal_loss.h"
#include "vkquill/kernels.h"

typedef struct causal_loss_push {
    uint32_t rows, vocab, weighting, align, align_weighted, dce_fixed;
    float delta, lambda, eps, alpha, grad_scale;
} causal_loss_push;
VKQ_STATIC_ASSERT_PUSH(causal_loss_push);

enum { STATS, REDUCE, FINALISE, DCE, TOTALS };
/* The scratch layout of shaders/causal_loss.comp: a record per token. vkq_causal_loss keeps the
 * sums first in its scratch and the records from an offset that every device can bind (256
 * bytes, the largest storage-buffer offset alignment Vulkan allows). */
enum { RECORD_FLOATS = 8, SUMS_BYTES = 256 };

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
    if (!a)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "causal_loss: no arguments");
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

/* The buffers of one loss, trimmed to what the kernel touches so that barriers and the overlap
 * test see exact ranges. */
typedef struct loss_buffers {
    vkq_buf logits, targets, dce, ref_logits, work, sums, stats, totals;
} loss_buffers;

static vkq_status check_buffers(const vkq_causal_loss_args *a, loss_buffers *b)
{
    const char *op = "causal_loss";
    uint64_t rows = a->rows, n = 2 * rows * a->vocab;
    VKQ_TRY(vkq_need_floats(op, "logits", b->logits, n));
    VKQ_TRY(vkq_need_floats(op, "targets", b->targets, rows)); /* int32 */
    VKQ_TRY(vkq_need_floats(op, "work", b->work, RECORD_FLOATS * rows));
    b->logits = first_floats(b->logits, n);
    b->targets = first_floats(b->targets, rows);
    b->work = first_floats(b->work, RECORD_FLOATS * rows);
    if (a->dce_fixed) {
        VKQ_TRY(vkq_need_floats(op, "dce", b->dce, rows));
        b->dce = first_floats(b->dce, rows);
    } else
        b->dce = b->targets; /* bound, never read */
    if (a->align == VKQ_ALIGN_KL) {
        VKQ_TRY(vkq_need_floats(op, "ref_logits", b->ref_logits, n));
        b->ref_logits = first_floats(b->ref_logits, n);
    } else
        b->ref_logits = b->targets;
    return VKQ_OK;
}

/* Each buffer the loss writes (the first four) must not overlap any other buffer it is given. */
static vkq_status check_apart(const loss_buffers *b)
{
    vkq_buf all[] = {b->logits, b->work, b->sums, b->stats, b->totals, b->targets, b->dce,
                     b->ref_logits};
    static const char *const names[] = {"logits", "work", "sums", "stats", "totals", "targets",
                                        "dce", "ref_logits"};
    return need_apart("causal_loss", all, names, 8, 5);
}

static vkq_status launch(vkq_rec *rec, uint32_t mode, const vkq_causal_loss_args *a,
                         const vkq_binding slots[VKQ_STORAGE_SLOTS], uint32_t workgroups)
{
    causal_loss_push push = {a->rows, a->vocab, a->weighting, a->align, a->align_weighted != 0,
                             a->dce_fixed != 0, a->delta, a->lambda, a->eps, a->alpha,
                             a->grad_scale};
    vkq_dispatch d = {.kernel = &vkq_kernel_causal_loss,
                      .spec = {mode},
                      .spec_count = 1,
                      .push = &push,
                      .push_bytes = sizeof push};
    for (int i = 0; i < VKQ_STORAGE_SLOTS; i++)
        d.slot[i] = slots[i];
    vkq_grid_1d(workgroups, 1, d.groups);
    return vkq_rec_dispatch(rec, &d);
}

uint64_t vkq_causal_loss_work_bytes(uint32_t rows)
{
    return 4ull * RECORD_FLOATS * (rows ? rows : 1);
}

/* Bindings a pass does not use get the targets, unread. */
static vkq_status record_sums(vkq_rec *rec, const vkq_causal_loss_args *a, const loss_buffers *b)
{
    vkq_binding unused = {b->targets, VKQ_READ};
    vkq_binding stats_pass[] = {{b->logits, VKQ_READ}, {b->targets, VKQ_READ},
                                {b->dce, VKQ_READ}, {b->ref_logits, VKQ_READ},
                                {b->work, VKQ_WRITE}, unused};
    vkq_binding reduce_pass[] = {unused, unused, unused, unused, {b->work, VKQ_READ},
                                 {b->sums, VKQ_WRITE}};
    VKQ_TRY(launch(rec, STATS, a, stats_pass, a->rows));
    return launch(rec, REDUCE, a, reduce_pass, 1);
}

/* The losses from the sums; the other bindings get the sums, unread. */
static vkq_status record_totals(vkq_rec *rec, const vkq_causal_loss_args *a, vkq_buf sums,
                                vkq_buf totals)
{
    vkq_binding in = {sums, VKQ_READ};
    vkq_binding totals_pass[] = {in, in, in, in, in, {totals, VKQ_WRITE}};
    return launch(rec, TOTALS, a, totals_pass, 1);
}

static vkq_status record_finish(vkq_rec *rec, const vkq_causal_loss_args *a,
                                const loss_buffers *b)
{
    vkq_binding finalise_pass[] = {{b->logits, VKQ_READ_WRITE}, {b->targets, VKQ_READ},
                                   {b->sums, VKQ_READ}, {b->ref_logits, VKQ_READ},
                                   {b->work, VKQ_READ}, {b->stats, VKQ_WRITE}};
    VKQ_TRY(launch(rec, FINALISE, a, finalise_pass, a->rows));
    return record_totals(rec, a, b->sums, b->totals);
}

static vkq_status check_small(const char *name, vkq_buf *buf, uint64_t n)
{
    VKQ_TRY(vkq_need_floats("causal_loss", name, *buf, n));
    *buf = first_floats(*buf, n);
    return VKQ_OK;
}

vkq_status vkq_causal_loss_sums(vkq_rec *rec, const vkq_causal_loss_args *a, vkq_buf logits,
                                vkq_buf targets, vkq_buf dce, vkq_buf ref_logits, vkq_buf work,
                                vkq_buf sums)
{
    VKQ_TRY(check_options(a));
    VKQ_TRY(check_small("sums", &sums, VKQ_CAUSAL_SUMS));
    if (a->rows == 0)
        return vkq_fill(rec, sums, 0.0f, VKQ_CAUSAL_SUMS);
    loss_buffers b = {logits, targets, dce, ref_logits, work, sums, {0}, {0}};
    VKQ_TRY(check_buffers(a, &b));
    VKQ_TRY(check_apart(&b));
    return record_sums(rec, a, &b);
}

vkq_status vkq_causal_loss_finish(vkq_rec *rec, const vkq_causal_loss_args *a, vkq_buf logits,
                                  vkq_buf targets, vkq_buf ref_logits, vkq_buf work,
                                  vkq_buf sums, vkq_buf stats, vkq_buf totals)
{
    VKQ_TRY(check_options(a));
    VKQ_TRY(check_small("sums", &sums, VKQ_CAUSAL_SUMS));
    VKQ_TRY(check_small("totals", &totals, 4));
    if (a->rows == 0)
        return record_totals(rec, a, sums, totals);
    vkq_causal_loss_args finish = *a;
    finish.dce_fixed = 0; /* DCE was read by the first half */
    loss_buffers b = {logits, targets, {0}, ref_logits, work, sums, stats, totals};
    VKQ_TRY(check_buffers(&finish, &b));
    VKQ_TRY(check_small("stats", &b.stats, 4ull * a->rows));
    VKQ_TRY(check_apart(&b));
    return record_finish(rec, a, &b);
}

vkq_status vkq_causal_loss(vkq_rec *rec, const vkq_causal_loss_args *a, vkq_buf logits,
                           vkq_buf targets, vkq_buf dce, vkq_buf ref_logits, vkq_buf stats,
                           vkq_buf totals)
{
    VKQ_TRY(check_options(a));
    VKQ_TRY(check_small("totals", &totals, 4));
    if (a->rows == 0)
        return vkq_fill(rec, totals, 0.0f, 4);
    loss_buffers b = {logits, targets, dce, ref_logits, {0}, {0}, stats, totals};
    vkq_buf scratch;
    VKQ_TRY(vkq_rec_scratch(rec, vkq_causal_loss_scratch(a->rows), &scratch));
    b.sums = vkq_buf_slice(scratch, 0, 4 * VKQ_CAUSAL_SUMS);
    b.work = vkq_buf_slice(scratch, SUMS_BYTES, vkq_causal_loss_work_bytes(a->rows));
    vkq_status s = check_buffers(a, &b);
    if (s == VKQ_OK)
        s = check_small("stats", &b.stats, 4ull * a->rows);
    if (s == VKQ_OK)
        s = check_apart(&b);
    if (s == VKQ_OK)
        s = record_sums(rec, a, &b);
    if (s == VKQ_OK)
        s = record_finish(rec, a, &b);
    vkq_rec_scratch_release(rec, scratch);
    return s;
}

uint64_t vkq_causal_loss_scratch(uint32_t rows)
{
    return SUMS_BYTES + vkq_causal_loss_work_bytes(rows);
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
    vkq_causal_loss_args a = {.rows = rows, .vocab = vocab, .weighting = VKQ_WEIGHTS_UNIFORM,
                              .align = VKQ_ALIGN_NONE};
    vkq_binding unused = {all[2], VKQ_READ};
    vkq_binding slots[] = {{all[1], VKQ_READ}, {all[2], VKQ_READ}, unused, unused, unused,
                           {all[0], VKQ_WRITE}};
    return launch(rec, DCE, &a, slots, rows);
}
