/* The flat blocks on the device in pieces, each within one binding (vkq_ctx_max_binding).
 * Walking the tensor table in flat order, a layer's slice joins the open piece while the piece
 * stays within a binding, else starts the next one; a slice larger than a binding (only the
 * embedding and the classifier may be) is cut into row ranges of a fixed number of rows, each
 * starting a piece, and the tensors after it join its last range. */
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

static int splittable(vkq_tensor_id id) { return id == VKQ_TOK_EMB || id == VKQ_WCLS; }

static vkq_status cut(flat_plan *p, uint64_t at, uint32_t *capacity)
{
    if (at == p->first[p->count])
        return VKQ_OK;
    if (p->count + 2 > *capacity) {
        uint32_t grown_capacity = 2 * *capacity;
        uint64_t *grown = realloc(p->first, grown_capacity * sizeof *grown);
        if (!grown)
            return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
        p->first = grown;
        *capacity = grown_capacity;
    }
    p->first[++p->count] = at;
    return VKQ_OK;
}

/* Places layer l's slice of tensor id, with at most `most` floats a piece. */
static vkq_status place_slice(flat_plan *p, vkq_tensor_id id, uint32_t l, uint64_t most,
                              uint32_t *capacity)
{
    const vkq_tensor *t = &p->tensors.t[id];
    uint64_t at = vkq_tensor_at(t, l), n = vkq_tensor_slice(t);
    if (n <= most) {
        if (at + n - p->first[p->count] > most)
            VKQ_TRY(cut(p, at, capacity));
        return VKQ_OK;
    }
    if (!splittable(id) || t->cols > most)
        return vkq_fail(VKQ_ERR_UNSUPPORTED,
                        "tensor %s (layer %u, %.1f MiB) exceeds the largest binding of %.1f MiB",
                        t->name, l, f32(n) / 1048576.0, f32(most) / 1048576.0);
    p->split_rows[id] = (uint32_t)(most / t->cols);
    for (uint64_t r = 0; r < t->rows; r += p->split_rows[id])
        VKQ_TRY(cut(p, at + r * t->cols, capacity));
    return VKQ_OK;
}

vkq_status vkq_flat_plan_make(vkq_ctx *ctx, const vkq_llama_tensors *ts, flat_plan *out)
{
    memset(out, 0, sizeof *out);
    out->tensors = *ts;
    uint32_t capacity = 8;
    out->first = calloc(capacity, sizeof *out->first);
    if (!out->first)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    uint64_t most = vkq_ctx_max_binding(ctx) / sizeof(float);
    for (int id = 0; id < VKQ_TENSOR_COUNT; id++) {
        if (vkq_tensor_floats(ts, (vkq_tensor_id)id) == 0)
            continue;
        for (uint32_t l = 0; l < ts->t[id].layers; l++) {
            vkq_status s = place_slice(out, (vkq_tensor_id)id, l, most, &capacity);
            if (s != VKQ_OK) {
                vkq_saved_error e = vkq_error_save(s);
                vkq_flat_plan_free(out);
                return vkq_error_restore(&e);
            }
        }
    }
    out->first[++out->count] = ts->total;
    if (vkq_tensor_floats(ts, VKQ_WCLS) == 0) /* the classifier is the embedding */
        out->split_rows[VKQ_WCLS] = out->split_rows[VKQ_TOK_EMB];
    return VKQ_OK;
}

void vkq_flat_plan_free(flat_plan *p)
{
    free(p->first);
    memset(p, 0, sizeof *p);
}

vkq_status vkq_flat_alloc(vkq_ctx *ctx, const flat_plan *plan, flat_block *out)
{
    out->plan = plan;
    out->piece = calloc(plan->count, sizeof *out->piece);
    if (!out->piece)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t i = 0; i < plan->count; i++)
        VKQ_TRY(vkq_buf_alloc(ctx, f32(plan->first[i + 1] - plan->first[i]), &out->piece[i]));
    return VKQ_OK;
}

void vkq_flat_free(vkq_ctx *ctx, flat_block *b)
{
    for (uint32_t i = 0; b->piece && i < b->plan->count; i++)
        vkq_buf_free(ctx, &b->piece[i]);
    free(b->piece);
    memset(b, 0, sizeof *b);
}

vkq_status vkq_flat_upload(vkq_ctx *ctx, const flat_block *b, const float *src)
{
    const flat_plan *p = b->plan;
    for (uint32_t i = 0; i < p->count; i++)
        VKQ_TRY(vkq_buf_upload(ctx, b->piece[i], 0, src + p->first[i],
                               f32(p->first[i + 1] - p->first[i])));
    return VKQ_OK;
}

vkq_status vkq_flat_download(vkq_ctx *ctx, const flat_block *b, float *dst)
{
    const flat_plan *p = b->plan;
    for (uint32_t i = 0; i < p->count; i++)
        VKQ_TRY(vkq_buf_download(ctx, b->piece[i], 0, dst + p->first[i],
                                 f32(p->first[i + 1] - p->first[i])));
    return VKQ_OK;
}

uint64_t vkq_flat_piece_floats(const flat_block *b, uint32_t i)
{
    return b->plan->first[i + 1] - b->plan->first[i];
}

/* The piece holding float `at` of the flat layout. */
static uint32_t piece_of(const flat_plan *p, uint64_t at)
{
    uint32_t lo = 0, hi = p->count;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (p->first[mid] <= at)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static vkq_buf floats_at(const flat_block *b, uint64_t at, uint64_t n)
{
    uint32_t i = piece_of(b->plan, at);
    return vkq_buf_slice(b->piece[i], f32(at - b->plan->first[i]), f32(n));
}

vkq_buf vkq_tensor_buf(const flat_block *b, vkq_tensor_id id, uint32_t l)
{
    const vkq_tensor *t = &b->plan->tensors.t[id];
    return floats_at(b, vkq_tensor_at(t, l), vkq_tensor_slice(t));
}

uint32_t vkq_row_piece_count(const flat_block *b, vkq_tensor_id id)
{
    uint32_t per = b->plan->split_rows[id], rows = b->plan->tensors.t[id].rows;
    return per ? (rows + per - 1) / per : 1;
}

row_piece vkq_row_piece_at(const flat_block *b, vkq_tensor_id id, uint32_t i)
{
    const vkq_tensor *t = &b->plan->tensors.t[id];
    uint32_t per = b->plan->split_rows[id] ? b->plan->split_rows[id] : t->rows;
    uint32_t first = i * per, rows = t->rows - first < per ? t->rows - first : per;
    row_piece r = {floats_at(b, t->offset + (uint64_t)first * t->cols, (uint64_t)rows * t->cols),
                   first, rows};
    return r;
}

uint64_t vkq_logits_part_floats(const flat_plan *p, uint32_t rows)
{
    return (uint64_t)rows * p->split_rows[VKQ_WCLS];
}
