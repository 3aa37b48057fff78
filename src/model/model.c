/* The Llama model on the device: flat parameter / gradient / optimiser blocks (in pieces, each
 * within a binding: blocks.c), activations of
 * one packed batch, forward and backward recorded as kernel launches (llm.c style: one
 * forward/backward pair per layer). */
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

void vkq_model_dims_of(const vkq_llama_config *c, model_dims *out)
{
    uint32_t hd = vkq_llama_head_dim(c);
    *out = (model_dims){.d = c->dim, .h = c->hidden_dim, .head_dim = hd,
                        .q_dim = c->n_heads * hd, .kv_dim = c->n_kv_heads * hd,
                        .vocab = c->vocab_size};
}

static vkq_status check_fits(vkq_ctx *ctx, const vkq_memory_plan *plan)
{
    const vkq_device_info *d = vkq_ctx_device(ctx);
    uint64_t heap = vkq_memory_heap_for(d);
    if (plan->reserved <= heap)
        return VKQ_OK;
    char parts[256];
    vkq_memory_plan_describe(plan, parts, sizeof parts);
    return vkq_fail(VKQ_ERR_OUT_OF_MEMORY,
                    "the model needs %s but %s's memory heap has %.1f MiB; use a smaller batch "
                    "or sequence length", parts, d->name, heap / 1048576.0);
}

static vkq_status alloc(vkq_model *m, uint64_t floats, vkq_buf *out)
{
    return vkq_buf_alloc(m->ctx, f32(floats ? floats : 1), out);
}

static vkq_status alloc_all(vkq_model *m, vkq_buf *bufs, const uint64_t *sizes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        VKQ_TRY(alloc(m, sizes[i], &bufs[i]));
    return VKQ_OK;
}

/* Records zeroing of both AdamW moments. */
static vkq_status zero_moments(vkq_model *m, vkq_rec *rec)
{
    for (uint32_t i = 0; i < m->adam_m.plan->count; i++) {
        uint32_t n = (uint32_t)vkq_flat_piece_floats(&m->adam_m, i);
        VKQ_TRY(vkq_fill(rec, m->adam_m.piece[i], 0.0f, n));
        VKQ_TRY(vkq_fill(rec, m->adam_v.piece[i], 0.0f, n));
    }
    return VKQ_OK;
}

static vkq_status alloc_training(vkq_model *m)
{
    uint64_t work[WORK_BUFS];
    const flat_plan *plan = m->trainable->plan;
    VKQ_TRY(vkq_flat_alloc(m->ctx, plan, &m->grads));
    VKQ_TRY(vkq_flat_alloc(m->ctx, plan, &m->adam_m));
    VKQ_TRY(vkq_flat_alloc(m->ctx, plan, &m->adam_v));
    VKQ_TRY(alloc(m, 1, &m->grad_sumsq));
    VKQ_TRY(alloc(m, 1, &m->piece_sumsq));
    m->lora.grads = &m->grads;
    if (m->lora.opt.r)
        VKQ_TRY(alloc(m, vkq_model_discard_floats(&m->cfg), &m->discard));
    vkq_model_work_sizes(&m->cfg, m->opt.max_tokens, m->opt.max_rows, work);
    VKQ_TRY(alloc_all(m, (vkq_buf *)&m->g, work, WORK_BUFS));
    vkq_rec *rec;
    VKQ_TRY(vkq_rec_create(m->ctx, &rec));
    vkq_status s = vkq_rec_begin(rec);
    if (s == VKQ_OK)
        s = zero_moments(m, rec);
    if (s == VKQ_OK)
        s = vkq_rec_end(rec);
    if (s == VKQ_OK)
        s = vkq_rec_submit(rec);
    vkq_rec_destroy(rec);
    return s;
}

/* The adapters start as PEFT starts them, from the seed 0; a trainer uploads its own. */
static vkq_status init_lora(vkq_model *m)
{
    lora_run *lr = &m->lora;
    vkq_lora_layout_of(&m->cfg, &lr->opt, &lr->layout);
    lr->max_tokens = m->opt.max_tokens;
    lr->n_targets = (uint32_t)__builtin_popcount(lr->opt.targets);
    lr->enabled = 1;
    lr->one_layer = m->opt.recompute;
    float *init = malloc(f32(lr->layout.total));
    if (!init)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_lora_init(&m->cfg, &lr->opt, 0, init);
    vkq_status s = vkq_flat_plan_lora(vkq_ctx_max_binding(m->ctx), &m->tensors, &lr->opt, &lr->layout, &lr->plan);
    if (s == VKQ_OK)
        s = vkq_flat_alloc(m->ctx, &lr->plan, &lr->adapter);
    if (s == VKQ_OK)
        s = vkq_flat_upload(m->ctx, &lr->adapter, init);
    free(init);
    VKQ_TRY(s);
    m->trainable = &lr->adapter;
    m->n_trainable = lr->layout.total;
    uint64_t du, dropped;
    VKQ_TRY(alloc(m, vkq_model_lora_u_floats(&m->cfg, &m->opt), &lr->u));
    vkq_model_lora_work_floats(&m->cfg, &m->opt, &du, &dropped);
    if (du)
        VKQ_TRY(alloc(m, du, &lr->du));
    return dropped ? alloc(m, dropped, &lr->dropped) : VKQ_OK;
}

static vkq_status model_init(vkq_model *m, const vkq_tensor_source *weights)
{
    const vkq_llama_config *c = &m->cfg;
    uint64_t t = m->opt.max_tokens, d = c->dim, layer[LAYER_BUFS], outer[OUTER_BUFS];
    vkq_scratch_target target;
    vkq_scratch_target_of(m->ctx, &target);
    uint64_t kept = vkq_model_attention_kept_bytes(c, &m->opt, &target);
    VKQ_TRY(vkq_flat_plan_make(vkq_ctx_max_binding(m->ctx), &m->tensors, &m->plan));
    VKQ_TRY(vkq_flat_alloc(m->ctx, &m->plan, &m->params));
    VKQ_TRY(vkq_model_upload_weights(m->ctx, c, &m->params, weights));
    m->trainable = &m->params;
    m->n_trainable = m->tensors.total;
    if (m->lora.opt.r)
        VKQ_TRY(init_lora(m));
    VKQ_TRY(vkq_model_upload_rope(m->ctx, c, &m->inv_freq));
    m->res = calloc(c->n_layers + 1, sizeof *m->res);
    m->layers = calloc(vkq_model_kept_layers(c, &m->opt), sizeof *m->layers);
    m->attention_kept = calloc(vkq_model_kept_layers(c, &m->opt), sizeof *m->attention_kept);
    if (!m->res || !m->layers || !m->attention_kept)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_model_layer_sizes(c, t, layer);
    for (uint32_t l = 0; l < vkq_model_kept_layers(c, &m->opt); l++) {
        VKQ_TRY(alloc_all(m, (vkq_buf *)&m->layers[l], layer, LAYER_BUFS));
        if (kept)
            VKQ_TRY(vkq_buf_alloc(m->ctx, kept, &m->attention_kept[l]));
    }
    for (uint32_t l = 0; l <= c->n_layers; l++)
        VKQ_TRY(alloc(m, t * d, &m->res[l]));
    vkq_model_outer_sizes(c, &m->opt, outer);
    vkq_buf *outer_bufs[OUTER_BUFS] = {&m->tokens, &m->starts, &m->positions, &m->rows,
                                       &m->xn_final, &m->rstd_final, &m->emb_positions,
                                       &m->emb_group_start, &m->emb_group_token};
    for (size_t i = 0; i < OUTER_BUFS; i++)
        VKQ_TRY(alloc(m, outer[i], outer_bufs[i]));
    VKQ_TRY(alloc(m, (uint64_t)m->opt.max_rows * d, &m->hsel));
    VKQ_TRY(alloc(m, (uint64_t)m->opt.max_rows * c->vocab_size, &m->logits));
    VKQ_TRY(alloc(m, vkq_logits_part_floats(&m->plan, m->opt.max_rows), &m->logits_part));
    return m->opt.training ? alloc_training(m) : VKQ_OK;
}

vkq_status vkq_model_create(vkq_ctx *ctx, const vkq_llama_config *cfg,
                            const vkq_tensor_source *weights, const vkq_model_options *o,
                            vkq_model **out)
{
    *out = NULL;
    VKQ_TRY(vkq_llama_config_check(cfg));
    if (o->max_tokens == 0 || o->max_rows == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "a model needs room for at least one token "
                        "and one logit row");
    VKQ_TRY(vkq_lora_check(&o->lora));
    if (o->base_dtype > VKQ_BF16 || (o->base_dtype != VKQ_F32 && !o->lora.r))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "a %s base needs LoRA (r > 0): full fine-tuning keeps fp32 weights",
                        vkq_dtype_name(o->base_dtype));
    vkq_memory_plan plan;
    vkq_scratch_target target;
    vkq_scratch_target_of(ctx, &target);
    VKQ_TRY(vkq_model_memory_plan(cfg, o, &target, 0, &plan));
    VKQ_TRY(check_fits(ctx, &plan));
    vkq_model *m = calloc(1, sizeof *m);
    if (!m)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    m->ctx = ctx;
    m->cfg = *cfg;
    m->opt = *o;
    m->lora.opt = o->lora;
    vkq_model_tensors(cfg, o, &m->tensors);
    vkq_model_dims_of(cfg, &m->dims);
    vkq_status s = model_init(m, weights);
    if (s != VKQ_OK) {
        vkq_saved_error e = vkq_error_save(s);
        vkq_model_destroy(m);
        return vkq_error_restore(&e);
    }
    *out = m;
    return VKQ_OK;
}

void vkq_model_destroy(vkq_model *m)
{
    if (!m)
        return;
    flat_block *blocks[] = {&m->params, &m->grads, &m->adam_m, &m->adam_v, &m->lora.adapter};
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        vkq_flat_free(m->ctx, blocks[i]);
    vkq_flat_plan_free(&m->plan);
    vkq_flat_plan_free(&m->lora.plan);
    vkq_buf *bufs[] = {&m->grad_sumsq, &m->piece_sumsq, &m->inv_freq, &m->tokens, &m->starts,
                       &m->positions, &m->rows, &m->emb_positions,
                       &m->emb_group_start, &m->emb_group_token, &m->xn_final, &m->rstd_final,
                       &m->hsel, &m->logits, &m->logits_part, &m->discard, &m->lora.u,
                       &m->lora.du, &m->lora.dropped};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        vkq_buf_free(m->ctx, bufs[i]);
    vkq_buf *g = (vkq_buf *)&m->g;
    for (size_t i = 0; i < sizeof m->g / sizeof(vkq_buf); i++)
        vkq_buf_free(m->ctx, &g[i]);
    for (uint32_t l = 0; m->res && l <= m->cfg.n_layers; l++)
        vkq_buf_free(m->ctx, &m->res[l]);
    for (uint32_t l = 0; m->layers && l < vkq_model_kept_layers(&m->cfg, &m->opt); l++) {
        vkq_buf *a = (vkq_buf *)&m->layers[l];
        for (size_t i = 0; i < sizeof(layer_acts) / sizeof(vkq_buf); i++)
            vkq_buf_free(m->ctx, &a[i]);
        if (m->attention_kept)
            vkq_buf_free(m->ctx, &m->attention_kept[l]);
    }
    free(m->res);
    free(m->layers);
    free(m->attention_kept);
    free(m);
}

const vkq_llama_config *vkq_model_config(const vkq_model *m) { return &m->cfg; }
vkq_buf vkq_model_logits(const vkq_model *m) { return m->logits; }
vkq_buf vkq_model_dlogits(const vkq_model *m) { return m->logits; }
vkq_buf vkq_model_grad_sumsq(const vkq_model *m) { return m->grad_sumsq; }
uint32_t vkq_model_pieces(const vkq_model *m) { return m->plan.count; }

vkq_status vkq_model_upload_params(vkq_model *m, const float *params)
{
    return vkq_flat_upload(m->ctx, &m->params, params);
}

vkq_status vkq_model_download_params(vkq_model *m, float *params)
{
    return vkq_flat_download(m->ctx, &m->params, params);
}

vkq_status vkq_model_download_grads(const vkq_model *m, float *grads)
{
    VKQ_TRY(need_training(m));
    return vkq_flat_download(m->ctx, &m->grads, grads);
}

uint32_t vkq_model_grad_pieces(const vkq_model *m) { return m->grads.plan->count; }

vkq_buf vkq_model_grad_piece(const vkq_model *m, uint32_t i)
{
    return vkq_buf_slice(m->grads.piece[i], 0, 4 * vkq_flat_piece_floats(&m->grads, i));
}

vkq_status vkq_model_download_moments(vkq_model *m, float *first, float *second)
{
    VKQ_TRY(need_training(m));
    VKQ_TRY(vkq_flat_download(m->ctx, &m->adam_m, first));
    return vkq_flat_download(m->ctx, &m->adam_v, second);
}

vkq_status vkq_model_upload_moments(vkq_model *m, const float *first, const float *second)
{
    VKQ_TRY(need_training(m));
    VKQ_TRY(vkq_flat_upload(m->ctx, &m->adam_m, first));
    return vkq_flat_upload(m->ctx, &m->adam_v, second);
}

uint64_t vkq_model_trainable_floats(const vkq_model *m) { return m->n_trainable; }

vkq_status vkq_model_download_trainable(vkq_model *m, float *values)
{
    return vkq_flat_download(m->ctx, m->trainable, values);
}

vkq_status vkq_model_upload_trainable(vkq_model *m, const float *values)
{
    return vkq_flat_upload(m->ctx, m->trainable, values);
}

void vkq_model_set_adapter(vkq_model *m, int enabled) { m->lora.enabled = enabled; }

void vkq_model_set_dropout(vkq_model *m, int on, uint32_t key)
{
    m->lora.dropout_on = on;
    m->lora.key = key;
}

typedef struct upload_target {
    vkq_ctx *ctx;
    const flat_block *block;
} upload_target;

/* A piece of the host layout, [offset, offset + n), into the device slices it overlaps. */
static vkq_status upload_piece(void *user, vkq_tensor_id id, size_t offset, const float *piece,
                               size_t n)
{
    (void)id;
    const upload_target *u = user;
    const flat_plan *p = u->block->plan;
    for (uint32_t i = 0; i < p->slice_count; i++) {
        const flat_slice *sl = &p->slice[i];
        uint64_t first = sl->at > offset ? sl->at : offset;
        uint64_t end = sl->at + sl->floats < offset + n ? sl->at + sl->floats : offset + n;
        if (first < end)
            VKQ_TRY(vkq_flat_slice_upload(u->ctx, u->block, i, first - sl->at,
                                          piece + (first - offset), end - first));
    }
    return VKQ_OK;
}

vkq_status vkq_model_upload_weights(vkq_ctx *ctx, const vkq_llama_config *c,
                                    const flat_block *block, const vkq_tensor_source *weights)
{
    enum { PIECE_FLOATS = 1 << 20 };
    upload_target u = {ctx, block};
    return vkq_tensor_source_each_piece(c, weights, PIECE_FLOATS, upload_piece, &u);
}

vkq_status vkq_model_upload_rope(vkq_ctx *ctx, const vkq_llama_config *c, vkq_buf *out)
{
    uint32_t half = vkq_llama_head_dim(c) / 2;
    float *inv_freq = malloc(half * sizeof *inv_freq);
    if (!inv_freq)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_llama_rope_frequencies(c, inv_freq);
    vkq_status s = vkq_buf_alloc(ctx, f32(half), out);
    if (s == VKQ_OK)
        s = vkq_buf_upload(ctx, *out, 0, inv_freq, f32(half));
    free(inv_freq);
    return s;
}
