/* The flat blocks on the device in pieces, each within one binding (vkq_ctx_max_binding).
 * Walking the tensor table in flat order, a layer's slice joins the open piece at the next
 * aligned offset while the piece stays within a binding, else starts the next piece; a slice
 * larger than a binding (only the embedding and the classifier may be) is cut into row ranges
 * of a fixed number of rows, each starting a piece, and the tensors after it join the last.
 * An adapter block (LoRA) is placed the same way, each layer's A and each layer's B a slice. */
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

/* Vulkan caps every buffer offset alignment at 256 bytes: a slice there suits any binding and
 * any texel view, and its kernels take the same paths in a piece as in one whole block. */
enum { SLICE_ALIGN = 256 };

static int splittable(vkq_tensor_id id) { return id == VKQ_TOK_EMB || id == VKQ_WCLS; }

static uint64_t align_up(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

/* A slice's bytes: whole 32-bit words, which is how the shaders read 16-bit elements. */
static uint64_t slice_bytes(uint64_t floats, vkq_dtype dtype)
{
    return align_up(floats * vkq_dtype_bytes(dtype), 4);
}

static vkq_status grow(void **items, uint32_t need, size_t item)
{
    if (need & (need - 1)) /* capacity doubles at powers of two */
        return VKQ_OK;
    void *grown = realloc(*items, 2 * need * item);
    if (!grown)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    *items = grown;
    return VKQ_OK;
}

/* Adds the host floats [at, at + n) as a slice of dtype, in the open piece or a new one. */
static vkq_status add_slice(flat_plan *p, uint64_t at, uint64_t n, vkq_dtype dtype,
                            uint64_t most)
{
    uint64_t offset = p->count ? align_up(p->piece_bytes[p->count - 1], SLICE_ALIGN) : 0;
    uint64_t bytes = slice_bytes(n, dtype);
    if (p->count == 0 || offset + bytes > most) {
        VKQ_TRY(grow((void **)&p->piece_bytes, p->count + 1, sizeof *p->piece_bytes));
        p->piece_bytes[p->count++] = 0;
        offset = 0;
    }
    VKQ_TRY(grow((void **)&p->slice, p->slice_count + 1, sizeof *p->slice));
    p->slice[p->slice_count++] = (flat_slice){at, n, p->count - 1, offset, dtype};
    p->piece_bytes[p->count - 1] = offset + bytes;
    return VKQ_OK;
}

/* Places tensor id's layer slices, or its row ranges when a slice exceeds `most` bytes. */
static vkq_status place_tensor(flat_plan *p, vkq_tensor_id id, uint64_t most)
{
    const vkq_tensor *t = &p->tensors.t[id];
    uint64_t n = vkq_tensor_slice(t), size = vkq_dtype_bytes(t->dtype);
    p->first_slice[id] = p->slice_count;
    if (slice_bytes(n, t->dtype) <= most) {
        for (uint32_t l = 0; l < t->layers; l++)
            VKQ_TRY(add_slice(p, vkq_tensor_at(t, l), n, t->dtype, most));
        return VKQ_OK;
    }
    /* rows of an even number of 16-bit elements keep every row piece in whole words */
    uint32_t per = (uint32_t)(most / size / t->cols) & (size == 2 && t->cols % 2 ? ~1u : ~0u);
    if (!splittable(id) || per == 0)
        return vkq_fail(VKQ_ERR_UNSUPPORTED,
                        "tensor %s (layer 0, %.1f MiB) exceeds the largest binding of %.1f MiB",
                        t->name, n * size / 1048576.0, most / 1048576.0);
    p->split_rows[id] = per;
    for (uint32_t r = 0; r < t->rows; r += per) {
        uint32_t rows = t->rows - r < per ? t->rows - r : per;
        VKQ_TRY(add_slice(p, t->offset + (uint64_t)r * t->cols, (uint64_t)rows * t->cols,
                          t->dtype, most));
    }
    return VKQ_OK;
}

/* A plan made with status s: kept when s is VKQ_OK, else freed with the error kept. */
static vkq_status plan_done(flat_plan *p, vkq_status s)
{
    if (s == VKQ_OK)
        return VKQ_OK;
    vkq_saved_error e = vkq_error_save(s);
    vkq_flat_plan_free(p);
    return vkq_error_restore(&e);
}

vkq_status vkq_flat_plan_make(uint64_t max_binding, const vkq_llama_tensors *ts, flat_plan *out)
{
    memset(out, 0, sizeof *out);
    out->tensors = *ts;
    uint64_t most = max_binding;
    vkq_status s = VKQ_OK;
    for (int id = 0; id < VKQ_TENSOR_COUNT && s == VKQ_OK; id++)
        if (vkq_tensor_floats(ts, (vkq_tensor_id)id))
            s = place_tensor(out, (vkq_tensor_id)id, most);
    VKQ_TRY(plan_done(out, s));
    if (vkq_tensor_floats(ts, VKQ_WCLS) == 0) { /* the classifier is the embedding */
        out->first_slice[VKQ_WCLS] = out->first_slice[VKQ_TOK_EMB];
        out->split_rows[VKQ_WCLS] = out->split_rows[VKQ_TOK_EMB];
    }
    return VKQ_OK;
}

/* One adapter matrix of n floats per layer of t, stacked from host float `at`. */
static vkq_status place_adapter(flat_plan *p, const vkq_tensor *t, uint64_t at, uint64_t n,
                                uint64_t most)
{
    if (f32(n) > most)
        return vkq_fail(VKQ_ERR_UNSUPPORTED,
                        "the adapter of %s (%.1f MiB a layer) exceeds the largest binding of "
                        "%.1f MiB", t->name, f32(n) / 1048576.0, most / 1048576.0);
    for (uint32_t l = 0; l < t->layers; l++)
        VKQ_TRY(add_slice(p, at + l * n, n, VKQ_F32, most));
    return VKQ_OK;
}

vkq_status vkq_flat_plan_lora(uint64_t max_binding, const vkq_llama_tensors *ts,
                              const vkq_lora_options *o, const vkq_lora_layout *lay,
                              flat_plan *out)
{
    memset(out, 0, sizeof *out);
    out->tensors = *ts;
    uint64_t most = max_binding;
    vkq_status s = VKQ_OK;
    for (int id = 0; id < VKQ_TENSOR_COUNT && s == VKQ_OK; id++) {
        const vkq_tensor *t = &ts->t[id];
        if (!(o->targets >> id & 1))
            continue;
        out->first_slice[id] = out->slice_count;
        s = place_adapter(out, t, lay->a[id], (uint64_t)o->r * t->cols, most);
        if (s == VKQ_OK)
            s = place_adapter(out, t, lay->b[id], (uint64_t)t->rows * o->r, most);
    }
    return plan_done(out, s);
}

void vkq_flat_plan_free(flat_plan *p)
{
    free(p->slice);
    free(p->piece_bytes);
    memset(p, 0, sizeof *p);
}

uint64_t vkq_flat_piece_floats(const flat_block *b, uint32_t i)
{
    return b->plan->piece_bytes[i] / sizeof(float);
}

uint64_t vkq_flat_bytes(const flat_plan *p)
{
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < p->count; i++)
        bytes += p->piece_bytes[i];
    return bytes;
}

/* Copies between the host layout (fp32) and one piece's image (padding zero) in host memory,
 * each slice converted to or from its dtype (fp32 rounds to 16 bits to nearest even). */
static void gather_piece(const flat_plan *p, uint32_t piece, const float *host, char *image)
{
    memset(image, 0, p->piece_bytes[piece]);
    for (uint32_t i = 0; i < p->slice_count; i++) {
        const flat_slice *s = &p->slice[i];
        if (s->piece == piece)
            vkq_dtype_from_f32(s->dtype, host + s->at, s->floats, image + s->offset);
    }
}

static void scatter_piece(const flat_plan *p, uint32_t piece, const char *image, float *host)
{
    for (uint32_t i = 0; i < p->slice_count; i++) {
        const flat_slice *s = &p->slice[i];
        if (s->piece == piece)
            vkq_dtype_to_f32(s->dtype, image + s->offset, s->floats, host + s->at);
    }
}

static uint64_t largest_piece(const flat_plan *p)
{
    uint64_t most = 4;
    for (uint32_t i = 0; i < p->count; i++)
        most = p->piece_bytes[i] > most ? p->piece_bytes[i] : most;
    return most;
}

/* Every piece from host (its image: the host layout's slices, or zeros), or to host. */
static vkq_status transfer(vkq_ctx *ctx, const flat_block *b, const float *from, float *to)
{
    const flat_plan *p = b->plan;
    char *image = malloc(largest_piece(p));
    if (!image)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_status s = VKQ_OK;
    for (uint32_t i = 0; i < p->count && s == VKQ_OK; i++) {
        uint64_t bytes = p->piece_bytes[i];
        if (to) {
            s = vkq_buf_download(ctx, b->piece[i], 0, image, bytes);
            if (s == VKQ_OK)
                scatter_piece(p, i, image, to);
            continue;
        }
        if (from)
            gather_piece(p, i, from, image);
        else
            memset(image, 0, bytes);
        s = vkq_buf_upload(ctx, b->piece[i], 0, image, bytes);
    }
    free(image);
    return s;
}

vkq_status vkq_flat_alloc(vkq_ctx *ctx, const flat_plan *plan, flat_block *out)
{
    out->plan = plan;
    out->piece = calloc(plan->count, sizeof *out->piece);
    if (!out->piece)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t i = 0; i < plan->count; i++)
        VKQ_TRY(vkq_buf_alloc(ctx, plan->piece_bytes[i], &out->piece[i]));
    return transfer(ctx, out, NULL, NULL);
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
    return transfer(ctx, b, src, NULL);
}

vkq_status vkq_flat_download(vkq_ctx *ctx, const flat_block *b, float *dst)
{
    return transfer(ctx, b, NULL, dst);
}

vkq_status vkq_flat_slice_upload(vkq_ctx *ctx, const flat_block *b, uint32_t i, uint64_t first,
                                 const float *src, uint64_t n)
{
    const flat_slice *s = &b->plan->slice[i];
    uint64_t size = vkq_dtype_bytes(s->dtype), at = s->offset + first * size;
    if (s->dtype == VKQ_F32)
        return vkq_buf_upload(ctx, b->piece[s->piece], at, src, f32(n));
    void *converted = malloc(n * size);
    if (!converted)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_dtype_from_f32(s->dtype, src, n, converted);
    vkq_status st = vkq_buf_upload(ctx, b->piece[s->piece], at, converted, n * size);
    free(converted);
    return st;
}

vkq_buf vkq_flat_slice(const flat_block *b, uint32_t i)
{
    const flat_slice *s = &b->plan->slice[i];
    return vkq_buf_slice(b->piece[s->piece], s->offset, slice_bytes(s->floats, s->dtype));
}

vkq_buf vkq_tensor_buf(const flat_block *b, vkq_tensor_id id, uint32_t l)
{
    return vkq_flat_slice(b, b->plan->first_slice[id] + l);
}

weight_buf vkq_tensor_weight(const flat_block *b, vkq_tensor_id id, uint32_t l)
{
    weight_buf w = {vkq_tensor_buf(b, id, l), b->plan->tensors.t[id].dtype};
    return w;
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
    weight_buf w = {vkq_flat_slice(b, b->plan->first_slice[id] + i), t->dtype};
    row_piece r = {w, first, rows};
    return r;
}

uint64_t vkq_logits_part_floats(const flat_plan *p, uint32_t rows)
{
    return (uint64_t)rows * p->split_rows[VKQ_WCLS];
}
