/* Forward and backward of the Llama model over one packed batch, as recorded launches. */
#include <stdlib.h>

#include "model/model_internal.h"

/* The first n floats of a buffer: descriptors and barriers then cover only what is used. */
static vkq_buf head(vkq_buf b, uint64_t n) { return vkq_buf_slice(b, 0, f32(n)); }
static vkq_buf param(const vkq_model *m, size_t offset, size_t n)
{
    return vkq_buf_slice(m->params, f32(offset), f32(n));
}
static vkq_buf grad(const vkq_model *m, size_t offset, size_t n)
{
    return vkq_buf_slice(m->grads, f32(offset), f32(n));
}

/* y[rows][out] (+)= x[rows][in] . w[out][in]^T */
static vkq_status linear(vkq_rec *rec, vkq_buf x, vkq_buf w, vkq_buf y, uint32_t rows,
                         uint32_t in, uint32_t out, float beta)
{
    vkq_matmul_args a = {.form = VKQ_MATMUL_NT, .m = rows, .n = out, .k = in, .alpha = 1.0f,
                         .beta = beta};
    return vkq_matmul(rec, &a, x, w, y);
}

/* dx[rows][in] (+)= dy[rows][out] . w[out][in] */
static vkq_status linear_input_grad(vkq_rec *rec, vkq_buf dy, vkq_buf w, vkq_buf dx,
                                    uint32_t rows, uint32_t in, uint32_t out, float beta)
{
    vkq_matmul_args a = {.form = VKQ_MATMUL_NN, .m = rows, .n = in, .k = out, .alpha = 1.0f,
                         .beta = beta};
    return vkq_matmul(rec, &a, dy, w, dx);
}

/* dw[out][in] += dy[rows][out]^T . x[rows][in] */
static vkq_status linear_weight_grad(vkq_rec *rec, vkq_buf dy, vkq_buf x, vkq_buf dw,
                                     uint32_t rows, uint32_t in, uint32_t out)
{
    vkq_matmul_args a = {.form = VKQ_MATMUL_TN, .m = out, .n = in, .k = rows, .alpha = 1.0f,
                         .beta = 1.0f};
    return vkq_matmul(rec, &a, dy, x, dw);
}

static vkq_status check_batch(const vkq_model *m, const vkq_batch *b)
{
    if (b->n_tokens == 0 || b->n_tokens > m->opt.max_tokens || b->n_rows > m->opt.max_rows ||
        b->n_seqs == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "a batch of %u tokens, %u sequences and %u rows does not fit a model "
                        "made for %u tokens and %u rows",
                        b->n_tokens, b->n_seqs, b->n_rows, m->opt.max_tokens, m->opt.max_rows);
    if (b->offsets[0] != 0 || (uint32_t)b->offsets[b->n_seqs] != b->n_tokens)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "batch offsets must run from 0 to the token count");
    for (uint32_t s = 0; s < b->n_seqs; s++)
        if (b->offsets[s + 1] <= b->offsets[s])
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "batch sequence %u is empty or out of order", s);
    for (uint32_t r = 0; r < b->n_rows; r++)
        if (b->rows[r] < 0 || (uint32_t)b->rows[r] >= b->n_tokens)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "batch row %u (%d) is not a token position",
                            r, b->rows[r]);
    for (uint32_t t = 0; t < b->n_tokens; t++)
        if (b->tokens[t] < 0 || (uint32_t)b->tokens[t] >= m->cfg.vocab_size)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "batch token %u (%d) is outside the "
                            "vocabulary of %u", t, b->tokens[t], m->cfg.vocab_size);
    return VKQ_OK;
}

static vkq_status upload_embedding_index(vkq_model *m, const vkq_batch *b)
{
    vkq_embedding_index ix;
    VKQ_TRY(vkq_embedding_index_build(b->tokens, b->n_tokens, m->cfg.vocab_size, &ix));
    vkq_status s = vkq_buf_upload(m->ctx, m->emb_positions, 0, ix.positions, 4ull * b->n_tokens);
    if (s == VKQ_OK)
        s = vkq_buf_upload(m->ctx, m->emb_group_start, 0, ix.group_start, 4ull * (ix.groups + 1));
    if (s == VKQ_OK)
        s = vkq_buf_upload(m->ctx, m->emb_group_token, 0, ix.group_token, 4ull * ix.groups);
    m->emb_groups = ix.groups;
    vkq_embedding_index_free(&ix);
    return s;
}

vkq_status vkq_model_set_batch(vkq_model *m, const vkq_batch *b)
{
    VKQ_TRY(check_batch(m, b));
    int32_t *starts = malloc(2 * sizeof *starts * b->n_tokens);
    if (!starts)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    int32_t *positions = starts + b->n_tokens;
    for (uint32_t s = 0; s < b->n_seqs; s++)
        for (int32_t t = b->offsets[s]; t < b->offsets[s + 1]; t++) {
            starts[t] = b->offsets[s];
            positions[t] = t - b->offsets[s];
        }
    vkq_status st = vkq_buf_upload(m->ctx, m->starts, 0, starts, 4ull * b->n_tokens);
    if (st == VKQ_OK)
        st = vkq_buf_upload(m->ctx, m->positions, 0, positions, 4ull * b->n_tokens);
    free(starts);
    VKQ_TRY(st);
    VKQ_TRY(vkq_buf_upload(m->ctx, m->tokens, 0, b->tokens, 4ull * b->n_tokens));
    if (b->n_rows)
        VKQ_TRY(vkq_buf_upload(m->ctx, m->rows, 0, b->rows, 4ull * b->n_rows));
    if (m->opt.training)
        VKQ_TRY(upload_embedding_index(m, b));
    m->n_tokens = b->n_tokens;
    m->n_rows = b->n_rows;
    return VKQ_OK;
}

static vkq_status layer_forward(vkq_model *m, vkq_rec *rec, uint32_t l)
{
    const vkq_llama_config *c = &m->cfg;
    const vkq_llama_layout *p = &m->layout;
    const layer_acts *a = &m->layers[l];
    uint32_t t = m->n_tokens, d = c->dim, h = c->hidden_dim, kvd = m->kv_dim;
    vkq_buf res = head(m->res[l], (uint64_t)t * d), res_mid = head(a->res_mid, (uint64_t)t * d);
    VKQ_TRY(vkq_rmsnorm_forward(rec, res, param(m, p->rms_att + (size_t)l * d, d), a->xn_att,
                                a->rstd_att, t, d, c->norm_eps));
    VKQ_TRY(linear(rec, a->xn_att, param(m, p->wq + (size_t)l * d * d, (size_t)d * d), a->q, t,
                   d, d, 0.0f));
    VKQ_TRY(linear(rec, a->xn_att, param(m, p->wk + (size_t)l * kvd * d, (size_t)kvd * d), a->k,
                   t, d, kvd, 0.0f));
    VKQ_TRY(linear(rec, a->xn_att, param(m, p->wv + (size_t)l * kvd * d, (size_t)kvd * d), a->v,
                   t, d, kvd, 0.0f));
    VKQ_TRY(vkq_rope_forward(rec, a->q, m->positions, t, c->n_heads, m->head_dim, c->rope_theta));
    VKQ_TRY(vkq_rope_forward(rec, a->k, m->positions, t, c->n_kv_heads, m->head_dim, c->rope_theta));
    VKQ_TRY(vkq_attention_forward(rec, a->q, a->k, a->v, m->starts, a->att, a->lse, t,
                                  c->n_heads, c->n_kv_heads, m->head_dim));
    VKQ_TRY(vkq_copy(rec, res, res_mid, t * d));
    VKQ_TRY(linear(rec, a->att, param(m, p->wo + (size_t)l * d * d, (size_t)d * d), res_mid, t, d,
                   d, 1.0f));
    VKQ_TRY(vkq_rmsnorm_forward(rec, res_mid, param(m, p->rms_ffn + (size_t)l * d, d), a->xn_ffn,
                                a->rstd_ffn, t, d, c->norm_eps));
    VKQ_TRY(linear(rec, a->xn_ffn, param(m, p->w1 + (size_t)l * h * d, (size_t)h * d), a->h1, t,
                   d, h, 0.0f));
    VKQ_TRY(linear(rec, a->xn_ffn, param(m, p->w3 + (size_t)l * h * d, (size_t)h * d), a->h3, t,
                   d, h, 0.0f));
    VKQ_TRY(vkq_swiglu_forward(rec, a->h1, a->h3, a->hg, t * h));
    vkq_buf out = head(m->res[l + 1], (uint64_t)t * d);
    VKQ_TRY(vkq_copy(rec, res_mid, out, t * d));
    return linear(rec, a->hg, param(m, p->w2 + (size_t)l * d * h, (size_t)d * h), out, t, h, d,
                  1.0f);
}

vkq_status vkq_model_forward(vkq_model *m, vkq_rec *rec)
{
    const vkq_llama_config *c = &m->cfg;
    uint32_t t = m->n_tokens, d = c->dim;
    if (t == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_model_forward before vkq_model_set_batch");
    VKQ_TRY(vkq_embedding_forward(rec, param(m, m->layout.tok_emb, (size_t)c->vocab_size * d),
                                  m->tokens, m->res[0], t, d, c->vocab_size));
    for (uint32_t l = 0; l < c->n_layers; l++)
        VKQ_TRY(layer_forward(m, rec, l));
    VKQ_TRY(vkq_rmsnorm_forward(rec, head(m->res[c->n_layers], (uint64_t)t * d),
                                param(m, m->layout.rms_final, d), m->xn_final, m->rstd_final, t,
                                d, c->norm_eps));
    if (m->n_rows == 0)
        return VKQ_OK;
    VKQ_TRY(vkq_gather_rows(rec, m->xn_final, m->rows, m->hsel, m->n_rows, d, t));
    return linear(rec, m->hsel, param(m, m->layout.wcls, (size_t)c->vocab_size * d),
                  head(m->logits, (uint64_t)m->n_rows * c->vocab_size), m->n_rows, d,
                  c->vocab_size, 0.0f);
}

vkq_status vkq_model_zero_grads(vkq_model *m, vkq_rec *rec)
{
    VKQ_TRY(need_training(m));
    return vkq_fill(rec, m->grads, 0.0f, (uint32_t)m->layout.total);
}

/* dres holds dL/d(res[l+1]) on entry and dL/d(res[l]) on return. */
static vkq_status layer_backward(vkq_model *m, vkq_rec *rec, uint32_t l)
{
    const vkq_llama_config *c = &m->cfg;
    const vkq_llama_layout *p = &m->layout;
    const layer_acts *a = &m->layers[l];
    const grad_work *g = &m->g;
    uint32_t t = m->n_tokens, d = c->dim, h = c->hidden_dim, kvd = m->kv_dim;
    size_t w2 = p->w2 + (size_t)l * d * h, w1 = p->w1 + (size_t)l * h * d,
           w3 = p->w3 + (size_t)l * h * d, wo = p->wo + (size_t)l * d * d,
           wq = p->wq + (size_t)l * d * d, wk = p->wk + (size_t)l * kvd * d,
           wv = p->wv + (size_t)l * kvd * d;
    size_t hd = (size_t)h * d, dd = (size_t)d * d, kd = (size_t)kvd * d;

    /* feed-forward: res[l+1] = res_mid + w2(silu(w1 xn) * w3 xn) */
    VKQ_TRY(linear_input_grad(rec, g->dres, param(m, w2, hd), g->dhg, t, h, d, 0.0f));
    VKQ_TRY(linear_weight_grad(rec, g->dres, a->hg, grad(m, w2, hd), t, h, d));
    VKQ_TRY(vkq_fill(rec, g->dh1, 0.0f, t * h));
    VKQ_TRY(vkq_fill(rec, g->dh3, 0.0f, t * h));
    VKQ_TRY(vkq_swiglu_backward(rec, g->dhg, a->h1, a->h3, g->dh1, g->dh3, t * h));
    VKQ_TRY(linear_input_grad(rec, g->dh1, param(m, w1, hd), g->dxn, t, d, h, 0.0f));
    VKQ_TRY(linear_input_grad(rec, g->dh3, param(m, w3, hd), g->dxn, t, d, h, 1.0f));
    VKQ_TRY(linear_weight_grad(rec, g->dh1, a->xn_ffn, grad(m, w1, hd), t, d, h));
    VKQ_TRY(linear_weight_grad(rec, g->dh3, a->xn_ffn, grad(m, w3, hd), t, d, h));
    VKQ_TRY(vkq_rmsnorm_backward(rec, g->dxn, a->res_mid, param(m, p->rms_ffn + (size_t)l * d, d),
                                 a->rstd_ffn, g->dres, grad(m, p->rms_ffn + (size_t)l * d, d), t,
                                 d));

    /* attention: res_mid = res[l] + wo(attention(rope(wq xn), rope(wk xn), wv xn)) */
    VKQ_TRY(linear_input_grad(rec, g->dres, param(m, wo, dd), g->datt, t, d, d, 0.0f));
    VKQ_TRY(linear_weight_grad(rec, g->dres, a->att, grad(m, wo, dd), t, d, d));
    VKQ_TRY(vkq_fill(rec, g->dq, 0.0f, t * d));
    VKQ_TRY(vkq_fill(rec, g->dk, 0.0f, t * kvd));
    VKQ_TRY(vkq_fill(rec, g->dv, 0.0f, t * kvd));
    VKQ_TRY(vkq_attention_backward(rec, g->datt, a->q, a->k, a->v, m->starts, a->att, a->lse,
                                   g->dq, g->dk, g->dv, t, c->n_heads, c->n_kv_heads,
                                   m->head_dim));
    VKQ_TRY(vkq_rope_backward(rec, g->dq, m->positions, t, c->n_heads, m->head_dim, c->rope_theta));
    VKQ_TRY(vkq_rope_backward(rec, g->dk, m->positions, t, c->n_kv_heads, m->head_dim,
                              c->rope_theta));
    VKQ_TRY(linear_input_grad(rec, g->dq, param(m, wq, dd), g->dxn, t, d, d, 0.0f));
    VKQ_TRY(linear_input_grad(rec, g->dk, param(m, wk, kd), g->dxn, t, d, kvd, 1.0f));
    VKQ_TRY(linear_input_grad(rec, g->dv, param(m, wv, kd), g->dxn, t, d, kvd, 1.0f));
    VKQ_TRY(linear_weight_grad(rec, g->dq, a->xn_att, grad(m, wq, dd), t, d, d));
    VKQ_TRY(linear_weight_grad(rec, g->dk, a->xn_att, grad(m, wk, kd), t, d, kvd));
    VKQ_TRY(linear_weight_grad(rec, g->dv, a->xn_att, grad(m, wv, kd), t, d, kvd));
    return vkq_rmsnorm_backward(rec, g->dxn, head(m->res[l], (uint64_t)t * d),
                                param(m, p->rms_att + (size_t)l * d, d), a->rstd_att, g->dres,
                                grad(m, p->rms_att + (size_t)l * d, d), t, d);
}

vkq_status vkq_model_backward(vkq_model *m, vkq_rec *rec)
{
    const vkq_llama_config *c = &m->cfg;
    const grad_work *g = &m->g;
    uint32_t t = m->n_tokens, d = c->dim, r = m->n_rows, v = c->vocab_size;
    VKQ_TRY(need_training(m));
    vkq_buf dlogits = head(m->logits, (uint64_t)r * v);
    size_t wcls = m->layout.wcls, emb = (size_t)v * d;
    VKQ_TRY(vkq_fill(rec, g->dres, 0.0f, t * d));
    VKQ_TRY(vkq_fill(rec, g->dxn, 0.0f, t * d));
    if (r) {
        VKQ_TRY(linear_input_grad(rec, dlogits, param(m, wcls, emb), g->dhsel, r, d, v, 0.0f));
        VKQ_TRY(linear_weight_grad(rec, dlogits, m->hsel, grad(m, wcls, emb), r, d, v));
        VKQ_TRY(vkq_scatter_add_rows(rec, g->dhsel, m->rows, g->dxn, r, d, t));
    }
    VKQ_TRY(vkq_rmsnorm_backward(rec, g->dxn, head(m->res[c->n_layers], (uint64_t)t * d),
                                 param(m, m->layout.rms_final, d), m->rstd_final, g->dres,
                                 grad(m, m->layout.rms_final, d), t, d));
    for (uint32_t l = c->n_layers; l-- > 0;)
        VKQ_TRY(layer_backward(m, rec, l));
    return vkq_embedding_backward(rec, g->dres, m->emb_positions, m->emb_group_start,
                                  m->emb_group_token, m->emb_groups,
                                  grad(m, m->layout.tok_emb, emb), t, d);
}

vkq_status vkq_model_adamw(vkq_model *m, vkq_rec *rec, vkq_buf hyper)
{
    uint32_t n = (uint32_t)m->layout.total;
    VKQ_TRY(vkq_sumsq(rec, m->grads, n, m->grad_sumsq));
    return vkq_adamw(rec, m->params, m->grads, m->adam_m, m->adam_v, hyper, m->grad_sumsq, n);
}

vkq_status vkq_model_loss(vkq_model *m, vkq_rec *rec, vkq_buf targets, vkq_buf weights,
                          vkq_buf losses)
{
    vkq_buf logits = head(m->logits, (uint64_t)m->n_rows * m->cfg.vocab_size);
    return vkq_cross_entropy(rec, logits, targets, weights, losses, logits, m->n_rows,
                             m->cfg.vocab_size);
}
