/* The Llama model on the device: flat parameter / gradient / optimiser blocks, activations of
 * one packed batch, forward and backward recorded as kernel launches (llm.c style: one
 * forward/backward pair per layer). */
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

void vkq_model_memory_plan(const vkq_llama_config *c, const vkq_model_options *o,
                           vkq_memory_plan *plan)
{
    vkq_llama_layout layout;
    vkq_llama_layout_of(c, &layout);
    uint64_t t = o->max_tokens, r = o->max_rows, d = c->dim, h = c->hidden_dim;
    uint64_t kvd = (uint64_t)c->n_kv_heads * (d / c->n_heads);
    uint64_t per_layer = t * (4 * d + 2 + 2 * kvd + c->n_heads + 3 * h) + t * d /* res */;
    memset(plan, 0, sizeof *plan);
    plan->weights = f32(layout.total);
    plan->activations = f32(c->n_layers * per_layer + t * (2 * d + 1) + 3 * t /* ints */ +
                            r * (d + c->vocab_size + 1));
    if (o->training) {
        plan->gradients = f32(layout.total);
        plan->optimizer = f32(2 * layout.total);
        plan->activations += f32(t * (4 * d + 2 * kvd + 3 * h) + r * d + 3 * t);
    }
    plan->total = plan->weights + plan->gradients + plan->optimizer + plan->activations;
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

static vkq_status alloc_layer(vkq_model *m, layer_acts *a)
{
    uint64_t t = m->opt.max_tokens, d = m->cfg.dim, h = m->cfg.hidden_dim, kvd = m->kv_dim;
    VKQ_TRY(alloc(m, t * d, &a->xn_att));
    VKQ_TRY(alloc(m, t, &a->rstd_att));
    VKQ_TRY(alloc(m, t * d, &a->q));
    VKQ_TRY(alloc(m, t * kvd, &a->k));
    VKQ_TRY(alloc(m, t * kvd, &a->v));
    VKQ_TRY(alloc(m, t * d, &a->att));
    VKQ_TRY(alloc(m, t * m->cfg.n_heads, &a->lse));
    VKQ_TRY(alloc(m, t * d, &a->res_mid));
    VKQ_TRY(alloc(m, t * d, &a->xn_ffn));
    VKQ_TRY(alloc(m, t, &a->rstd_ffn));
    VKQ_TRY(alloc(m, t * h, &a->h1));
    VKQ_TRY(alloc(m, t * h, &a->h3));
    VKQ_TRY(alloc(m, t * h, &a->hg));
    return VKQ_OK;
}

static vkq_status alloc_training(vkq_model *m)
{
    uint64_t t = m->opt.max_tokens, d = m->cfg.dim, h = m->cfg.hidden_dim, kvd = m->kv_dim;
    uint64_t p = m->layout.total;
    VKQ_TRY(alloc(m, p, &m->grads));
    VKQ_TRY(alloc(m, p, &m->adam_m));
    VKQ_TRY(alloc(m, p, &m->adam_v));
    VKQ_TRY(alloc(m, 1, &m->grad_sumsq));
    grad_work *g = &m->g;
    VKQ_TRY(alloc(m, t * d, &g->dres));
    VKQ_TRY(alloc(m, t * d, &g->dxn));
    VKQ_TRY(alloc(m, t * d, &g->dq));
    VKQ_TRY(alloc(m, t * kvd, &g->dk));
    VKQ_TRY(alloc(m, t * kvd, &g->dv));
    VKQ_TRY(alloc(m, t * d, &g->datt));
    VKQ_TRY(alloc(m, t * h, &g->dh1));
    VKQ_TRY(alloc(m, t * h, &g->dh3));
    VKQ_TRY(alloc(m, t * h, &g->dhg));
    VKQ_TRY(alloc(m, (uint64_t)m->opt.max_rows * d, &g->dhsel));
    vkq_rec *rec;
    VKQ_TRY(vkq_rec_create(m->ctx, &rec));
    vkq_status s = vkq_rec_begin(rec);
    if (s == VKQ_OK)
        s = vkq_fill(rec, m->adam_m, 0.0f, (uint32_t)p);
    if (s == VKQ_OK)
        s = vkq_fill(rec, m->adam_v, 0.0f, (uint32_t)p);
    if (s == VKQ_OK)
        s = vkq_rec_end(rec);
    if (s == VKQ_OK)
        s = vkq_rec_submit(rec);
    vkq_rec_destroy(rec);
    return s;
}

static vkq_status model_init(vkq_model *m, const float *params)
{
    const vkq_llama_config *c = &m->cfg;
    uint64_t t = m->opt.max_tokens, d = c->dim;
    VKQ_TRY(alloc(m, m->layout.total, &m->params));
    VKQ_TRY(vkq_buf_upload(m->ctx, m->params, 0, params, f32(m->layout.total)));
    VKQ_TRY(alloc(m, t, &m->tokens));
    VKQ_TRY(alloc(m, t, &m->starts));
    VKQ_TRY(alloc(m, t, &m->positions));
    VKQ_TRY(alloc(m, m->opt.max_rows, &m->rows));
    m->res = calloc(c->n_layers + 1, sizeof *m->res);
    m->layers = calloc(c->n_layers, sizeof *m->layers);
    if (!m->res || !m->layers)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t l = 0; l <= c->n_layers; l++)
        VKQ_TRY(alloc(m, t * d, &m->res[l]));
    for (uint32_t l = 0; l < c->n_layers; l++)
        VKQ_TRY(alloc_layer(m, &m->layers[l]));
    VKQ_TRY(alloc(m, t * d, &m->xn_final));
    VKQ_TRY(alloc(m, t, &m->rstd_final));
    VKQ_TRY(alloc(m, (uint64_t)m->opt.max_rows * d, &m->hsel));
    VKQ_TRY(alloc(m, (uint64_t)m->opt.max_rows * c->vocab_size, &m->logits));
    if (m->opt.training) {
        VKQ_TRY(alloc(m, t, &m->emb_positions));
        VKQ_TRY(alloc(m, t + 1, &m->emb_group_start));
        VKQ_TRY(alloc(m, t, &m->emb_group_token));
        VKQ_TRY(alloc_training(m));
    }
    return VKQ_OK;
}

vkq_status vkq_model_create(vkq_ctx *ctx, const vkq_llama_config *cfg, const float *params,
                            const vkq_model_options *o, vkq_model **out)
{
    *out = NULL;
    VKQ_TRY(vkq_llama_config_check(cfg));
    if (o->max_tokens == 0 || o->max_rows == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "a model needs room for at least one token "
                        "and one logit row");
    vkq_memory_plan plan;
    vkq_model_memory_plan(cfg, o, &plan);
    VKQ_TRY(check_fits(ctx, &plan));
    vkq_model *m = calloc(1, sizeof *m);
    if (!m)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    m->ctx = ctx;
    m->cfg = *cfg;
    m->opt = *o;
    vkq_llama_layout_of(cfg, &m->layout);
    m->head_dim = cfg->dim / cfg->n_heads;
    m->kv_dim = cfg->n_kv_heads * m->head_dim;
    vkq_status s = model_init(m, params);
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
    vkq_buf *bufs[] = {&m->params, &m->grads, &m->adam_m, &m->adam_v, &m->grad_sumsq,
                       &m->tokens, &m->starts, &m->positions, &m->rows, &m->emb_positions,
                       &m->emb_group_start, &m->emb_group_token, &m->xn_final, &m->rstd_final,
                       &m->hsel, &m->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        vkq_buf_free(m->ctx, bufs[i]);
    vkq_buf *g = (vkq_buf *)&m->g;
    for (size_t i = 0; i < sizeof m->g / sizeof(vkq_buf); i++)
        vkq_buf_free(m->ctx, &g[i]);
    for (uint32_t l = 0; m->res && l <= m->cfg.n_layers; l++)
        vkq_buf_free(m->ctx, &m->res[l]);
    for (uint32_t l = 0; m->layers && l < m->cfg.n_layers; l++) {
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
vkq_buf vkq_model_params(const vkq_model *m) { return m->params; }
vkq_buf vkq_model_grads(const vkq_model *m) { return m->grads; }
vkq_buf vkq_model_grad_sumsq(const vkq_model *m) { return m->grad_sumsq; }

vkq_status vkq_model_download_params(vkq_model *m, float *params)
{
    return vkq_buf_download(m->ctx, m->params, 0, params, f32(m->layout.total));
}

vkq_status vkq_model_download_moments(vkq_model *m, float *first, float *second)
{
    VKQ_TRY(need_training(m));
    VKQ_TRY(vkq_buf_download(m->ctx, m->adam_m, 0, first, f32(m->layout.total)));
    return vkq_buf_download(m->ctx, m->adam_v, 0, second, f32(m->layout.total));
}

vkq_status vkq_model_upload_moments(vkq_model *m, const float *first, const float *second)
{
    VKQ_TRY(need_training(m));
    VKQ_TRY(vkq_buf_upload(m->ctx, m->adam_m, 0, first, f32(m->layout.total)));
    return vkq_buf_upload(m->ctx, m->adam_v, 0, second, f32(m->layout.total));
}
