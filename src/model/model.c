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

enum { LAYER_BUFS = sizeof(layer_acts) / sizeof(vkq_buf),
       WORK_BUFS = sizeof(grad_work) / sizeof(vkq_buf) };

/* Floats of each layer activation, in layer_acts order, for t tokens. */
static void layer_sizes(const vkq_llama_config *c, uint64_t t, uint64_t out[LAYER_BUFS])
{
    model_dims m;
    vkq_model_dims_of(c, &m);
    uint64_t norm = c->qk_norm ? 1 : 0;
    const uint64_t sizes[LAYER_BUFS] = {
        t * m.d,                 /* xn_att [t][D] */
        t,                       /* rstd_att [t] */
        norm * t * m.q_dim,      /* q_raw [t][QD]: before the q norm */
        norm * t * m.kv_dim,     /* k_raw [t][KVD] */
        norm * t * c->n_heads,   /* rstd_q [t][n_heads] */
        norm * t * c->n_kv_heads, /* rstd_k [t][n_kv_heads] */
        t * m.q_dim,             /* q [t][QD] */
        t * m.kv_dim,            /* k [t][KVD] */
        t * m.kv_dim,            /* v [t][KVD] */
        t * m.q_dim,             /* att [t][QD] */
        t * c->n_heads,          /* lse [t][n_heads] */
        t * m.d,                 /* res_mid [t][D] */
        t * m.d,                 /* xn_ffn [t][D] */
        t,                       /* rstd_ffn [t] */
        t * m.h,                 /* h1 [t][H] */
        t * m.h,                 /* h3 [t][H] */
        t * m.h,                 /* hg [t][H] */
    };
    memcpy(out, sizes, sizeof sizes);
}

/* Floats of each gradient workspace buffer, in grad_work order. */
static void work_sizes(const vkq_llama_config *c, uint64_t t, uint64_t r,
                       uint64_t out[WORK_BUFS])
{
    model_dims m;
    vkq_model_dims_of(c, &m);
    uint64_t norm = c->qk_norm ? 1 : 0;
    const uint64_t sizes[WORK_BUFS] = {
        t * m.d,              /* dres [t][D] */
        t * m.d,              /* dxn [t][D] */
        t * m.q_dim,          /* dq [t][QD] */
        t * m.kv_dim,         /* dk [t][KVD] */
        t * m.kv_dim,         /* dv [t][KVD] */
        norm * t * m.q_dim,   /* dq_raw [t][QD]: before the q norm */
        norm * t * m.kv_dim,  /* dk_raw [t][KVD] */
        t * m.q_dim,          /* datt [t][QD] */
        t * m.h,              /* dh1 [t][H] */
        t * m.h,              /* dh3 [t][H] */
        t * m.h,              /* dhg [t][H] */
        r * m.d,              /* dhsel [r][D] */
    };
    memcpy(out, sizes, sizeof sizes);
}

static uint64_t sum(const uint64_t *x, size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s;
}

/* Activations outside the layers: residual streams, final norm, logits, the batch's ints. */
static uint64_t other_activations(const vkq_llama_config *c, const vkq_model_options *o)
{
    uint64_t t = o->max_tokens, r = o->max_rows, d = c->dim;
    uint64_t ints = 3 * t + r + (o->training ? 3 * t + 1 : 0); /* batch, embedding index */
    return (c->n_layers + 1) * t * d + t * d + t + r * (d + c->vocab_size) + ints +
           vkq_llama_head_dim(c) / 2;
}

/* Layers whose activations are kept at once: all of them, or one with recompute. */
static uint32_t kept_layers(const vkq_llama_config *c, const vkq_model_options *o)
{
    return o->recompute ? 1 : c->n_layers;
}

/* Floats of the adapters' forward products u, [kept layers][targets][t][r]. */
static uint64_t lora_u_floats(const vkq_llama_config *c, const vkq_model_options *o)
{
    uint64_t targets = (uint64_t)__builtin_popcount(o->lora.targets);
    return (uint64_t)kept_layers(c, o) * targets * o->max_tokens * o->lora.r;
}

/* Floats of the adapters' workspace: du when training, the dropped input with dropout. */
static uint64_t lora_work_floats(const vkq_llama_config *c, const vkq_model_options *o,
                                 uint64_t *du, uint64_t *dropped)
{
    model_dims m;
    vkq_model_dims_of(c, &m);
    uint64_t widest = m.d > m.h ? m.d : m.h;
    widest = widest > m.q_dim ? widest : m.q_dim;
    *du = o->training ? (uint64_t)o->max_tokens * o->lora.r : 0;
    *dropped = o->lora.dropout > 0.0f ? o->max_tokens * widest : 0;
    return *du + *dropped;
}

/* Floats of the frozen norms' discarded weight gradients under LoRA. */
static uint64_t discard_floats(const vkq_llama_config *c)
{
    uint32_t hd = vkq_llama_head_dim(c);
    return c->dim > hd ? c->dim : hd;
}

void vkq_model_memory_plan(const vkq_llama_config *c, const vkq_model_options *o,
                           vkq_memory_plan *plan)
{
    vkq_llama_tensors ts;
    vkq_lora_layout lay;
    vkq_llama_tensors_of(c, &ts);
    vkq_lora_layout_of(c, &o->lora, &lay);
    uint64_t layer[LAYER_BUFS], work[WORK_BUFS];
    layer_sizes(c, o->max_tokens, layer);
    work_sizes(c, o->max_tokens, o->max_rows, work);
    memset(plan, 0, sizeof *plan);
    plan->weights = f32(ts.total);
    plan->activations = f32(kept_layers(c, o) * sum(layer, LAYER_BUFS) + other_activations(c, o));
    if (o->lora.r) {
        uint64_t du, dropped;
        plan->adapter = f32(lay.total);
        plan->activations += f32(lora_u_floats(c, o) + lora_work_floats(c, o, &du, &dropped));
    }
    if (o->training) {
        uint64_t trainable = o->lora.r ? lay.total : ts.total;
        plan->gradients = f32(trainable + (o->lora.r ? discard_floats(c) : 0) + 1);
        plan->optimizer = f32(2 * trainable);
        plan->activations += f32(sum(work, WORK_BUFS));
    }
    plan->total = plan->weights + plan->adapter + plan->gradients + plan->optimizer +
                  plan->activations;
}

static vkq_status check_fits(vkq_ctx *ctx, const vkq_memory_plan *plan)
{
    const vkq_device_info *d = vkq_ctx_device(ctx);
    uint64_t largest = 0;
    for (uint32_t i = 0; i < d->heap_count; i++)
        if (d->heap_size[i] > largest && (d->heap_device_local[i] || d->heap_count == 1))
            largest = d->heap_size[i];
    if (plan->total <= largest)
        return VKQ_OK;
    return vkq_fail(VKQ_ERR_OUT_OF_MEMORY,
                    "the model needs %.1f MiB of device memory (weights %.1f, gradients %.1f, "
                    "optimiser %.1f, activations %.1f) but %s's largest heap has %.1f MiB; use a "
                    "smaller batch or sequence length",
                    plan->total / 1048576.0, plan->weights / 1048576.0,
                    plan->gradients / 1048576.0, plan->optimizer / 1048576.0,
                    plan->activations / 1048576.0, d->name, largest / 1048576.0);
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
        VKQ_TRY(alloc(m, discard_floats(&m->cfg), &m->discard));
    work_sizes(&m->cfg, m->opt.max_tokens, m->opt.max_rows, work);
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
    vkq_status s = vkq_flat_plan_lora(m->ctx, &m->tensors, &lr->opt, &lr->layout, &lr->plan);
    if (s == VKQ_OK)
        s = vkq_flat_alloc(m->ctx, &lr->plan, &lr->adapter);
    if (s == VKQ_OK)
        s = vkq_flat_upload(m->ctx, &lr->adapter, init);
    free(init);
    VKQ_TRY(s);
    m->trainable = &lr->adapter;
    m->n_trainable = lr->layout.total;
    uint64_t du, dropped;
    lora_work_floats(&m->cfg, &m->opt, &du, &dropped);
    if (du)
        VKQ_TRY(alloc(m, du, &lr->du));
    if (dropped)
        VKQ_TRY(alloc(m, dropped, &lr->dropped));
    return alloc(m, lora_u_floats(&m->cfg, &m->opt), &lr->u);
}

static vkq_status model_init(vkq_model *m, const vkq_tensor_source *weights)
{
    const vkq_llama_config *c = &m->cfg;
    uint64_t t = m->opt.max_tokens, d = c->dim, layer[LAYER_BUFS];
    VKQ_TRY(vkq_flat_plan_make(m->ctx, &m->tensors, &m->plan));
    VKQ_TRY(vkq_flat_alloc(m->ctx, &m->plan, &m->params));
    VKQ_TRY(vkq_model_upload_weights(m->ctx, c, &m->params, weights));
    m->trainable = &m->params;
    m->n_trainable = m->tensors.total;
    if (m->lora.opt.r)
        VKQ_TRY(init_lora(m));
    VKQ_TRY(vkq_model_upload_rope(m->ctx, c, &m->inv_freq));
    VKQ_TRY(alloc(m, t, &m->tokens));
    VKQ_TRY(alloc(m, t, &m->starts));
    VKQ_TRY(alloc(m, t, &m->positions));
    VKQ_TRY(alloc(m, m->opt.max_rows, &m->rows));
    m->res = calloc(c->n_layers + 1, sizeof *m->res);
    m->layers = calloc(kept_layers(c, &m->opt), sizeof *m->layers);
    if (!m->res || !m->layers)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t l = 0; l <= c->n_layers; l++)
        VKQ_TRY(alloc(m, t * d, &m->res[l]));
    layer_sizes(c, t, layer);
    for (uint32_t l = 0; l < kept_layers(c, &m->opt); l++)
        VKQ_TRY(alloc_all(m, (vkq_buf *)&m->layers[l], layer, LAYER_BUFS));
    VKQ_TRY(alloc(m, t * d, &m->xn_final));
    VKQ_TRY(alloc(m, t, &m->rstd_final));
    VKQ_TRY(alloc(m, (uint64_t)m->opt.max_rows * d, &m->hsel));
    VKQ_TRY(alloc(m, (uint64_t)m->opt.max_rows * c->vocab_size, &m->logits));
    VKQ_TRY(alloc(m, vkq_logits_part_floats(&m->plan, m->opt.max_rows), &m->logits_part));
    if (m->opt.training) {
        VKQ_TRY(alloc(m, t, &m->emb_positions));
        VKQ_TRY(alloc(m, t + 1, &m->emb_group_start));
        VKQ_TRY(alloc(m, t, &m->emb_group_token));
        VKQ_TRY(alloc_training(m));
    }
    return VKQ_OK;
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
    vkq_memory_plan plan;
    vkq_model_memory_plan(cfg, o, &plan);
    VKQ_TRY(check_fits(ctx, &plan));
    vkq_model *m = calloc(1, sizeof *m);
    if (!m)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    m->ctx = ctx;
    m->cfg = *cfg;
    m->opt = *o;
    m->lora.opt = o->lora;
    vkq_llama_tensors_of(cfg, &m->tensors);
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
    for (uint32_t l = 0; m->layers && l < kept_layers(&m->cfg, &m->opt); l++) {
        vkq_buf *a = (vkq_buf *)&m->layers[l];
        for (size_t i = 0; i < sizeof(layer_acts) / sizeof(vkq_buf); i++)
            vkq_buf_free(m->ctx, &a[i]);
    }
    free(m->res);
    free(m->layers);
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
            VKQ_TRY(vkq_buf_upload(u->ctx, u->block->piece[sl->piece],
                                   f32(sl->offset + (first - sl->at)), piece + (first - offset),
                                   f32(end - first)));
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
