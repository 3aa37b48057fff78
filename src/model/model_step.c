/* Forward and backward of the Llama model over one packed batch, as recorded launches. */
#include <stdlib.h>

#include "model/model_internal.h"

/* The first n floats of a buffer: descriptors and barriers then cover only what is used. */
static vkq_buf head(vkq_buf b, uint64_t n) { return vkq_buf_slice(b, 0, f32(n)); }

static vkq_buf param(const vkq_model *m, vkq_tensor_id id, uint32_t l)
{
    return vkq_tensor_buf(&m->params, id, l);
}

static weight_buf weight(const vkq_model *m, vkq_tensor_id id, uint32_t l)
{
    return vkq_tensor_weight(&m->params, id, l);
}

static vkq_buf grad(const vkq_model *m, vkq_tensor_id id, uint32_t l)
{
    return vkq_tensor_buf(&m->grads, id, l);
}

/* Where a norm's weight gradient goes: its gradient, or nowhere kept when the base is frozen
 * (the kernel computes the input gradient and the weight gradient together). */
static vkq_buf norm_grad(const vkq_model *m, vkq_tensor_id id, uint32_t l)
{
    if (m->lora.opt.r)
        return vkq_buf_slice(m->discard, 0, f32(vkq_tensor_slice(&m->tensors.t[id])));
    return grad(m, id, l);
}

static const layer_acts *acts(const vkq_model *m, uint32_t l)
{
    return &m->layers[m->opt.recompute ? 0 : l];
}

/* Where layer l's attention forward leaves its packed q, k and v for the backward (empty when
 * nothing is kept). */
static vkq_buf attention_kept(const vkq_model *m, uint32_t l)
{
    return m->attention_kept[m->opt.recompute ? 0 : l];
}

vkq_status vkq_model_linear(vkq_rec *rec, vkq_buf x, weight_buf w, vkq_buf y, uint32_t rows,
                            uint32_t in, uint32_t out, float beta)
{
    vkq_matmul_args a = {.form = VKQ_MATMUL_NT, .m = rows, .n = out, .k = in, .alpha = 1.0f,
                         .beta = beta, .type_b = w.dtype};
    return vkq_matmul(rec, &a, x, w.buf, y);
}

vkq_status vkq_model_pack_input(vkq_rec *rec, vkq_buf x, uint32_t rows, uint32_t in,
                                uint32_t out, vkq_packed *xp)
{
    vkq_matmul_args a = {.form = VKQ_MATMUL_NT, .m = rows, .n = out, .k = in};
    return vkq_matmul_pack(rec, &a, VKQ_MATMUL_A, x, xp);
}

vkq_status vkq_model_linear_packed(vkq_rec *rec, const vkq_packed *x, weight_buf w, vkq_buf y,
                                   uint32_t rows, uint32_t in, uint32_t out, float beta)
{
    vkq_matmul_args a = {.form = VKQ_MATMUL_NT, .m = rows, .n = out, .k = in, .alpha = 1.0f,
                         .beta = beta, .type_b = w.dtype};
    return vkq_matmul_packed(rec, &a, x, w.buf, y);
}

/* A linear layer (with its adapter) whose input no other product reads. */
static vkq_status linear_forward(vkq_rec *rec, const lora_run *lora, vkq_tensor_id id,
                                 uint32_t l, vkq_buf x, weight_buf w, vkq_buf y, uint32_t rows,
                                 uint32_t in, uint32_t out, float beta)
{
    vkq_packed xp;
    VKQ_TRY(vkq_model_pack_input(rec, x, rows, in, out, &xp));
    VKQ_TRY(vkq_lora_linear_forward(rec, lora, id, l, &xp, w, y, rows, in, out, beta));
    vkq_matmul_unpack(rec, &xp);
    return VKQ_OK;
}

/* dx[rows][in] (+)= dy[rows][out] . w[out][in], reading w in its own dtype */
static vkq_status linear_input_grad(vkq_rec *rec, vkq_buf dy, weight_buf w, vkq_buf dx,
                                    uint32_t rows, uint32_t in, uint32_t out, float beta)
{
    vkq_matmul_args a = {.form = VKQ_MATMUL_NN, .m = rows, .n = in, .k = out, .alpha = 1.0f,
                         .beta = beta, .type_b = w.dtype};
    return vkq_matmul(rec, &a, dy, w.buf, dx);
}

/* dw[out][in] += dy[rows][out]^T . x[rows][in] */
static vkq_status linear_weight_grad(vkq_rec *rec, vkq_buf dy, const vkq_packed *x, vkq_buf dw,
                                     uint32_t rows, uint32_t in, uint32_t out)
{
    vkq_matmul_args a = {.form = VKQ_MATMUL_TN, .m = out, .n = in, .k = rows, .alpha = 1.0f,
                         .beta = 1.0f};
    return vkq_matmul_packed(rec, &a, x, dy, dw);
}

/* The products of a backward that read a layer input x as their B operand: the gradients of
 * the weights that read it, or under LoRA those of their adapters' A (unless dropout changes
 * x first). */
static uint32_t input_readers(const vkq_model *m, const vkq_tensor_id *ids, uint32_t n)
{
    if (!m->lora.opt.r)
        return n;
    uint32_t readers = 0;
    for (uint32_t i = 0; i < n; i++)
        readers += lora_adapts(&m->lora, ids[i]) && m->lora.opt.dropout == 0.0f;
    return readers;
}

/* x [rows][in] as the B operand of the backward products that read it, packed once when more
 * than one does (out: the first weight's rows); otherwise each packs it itself. */
static vkq_status pack_grad_input(vkq_model *m, vkq_rec *rec, vkq_buf x, uint32_t rows,
                                  uint32_t in, uint32_t out, uint32_t readers, vkq_packed *xb)
{
    *xb = (vkq_packed){.source = x, .side = VKQ_MATMUL_B};
    if (readers < 2)
        return VKQ_OK;
    vkq_matmul_args a = {.form = VKQ_MATMUL_TN, .m = m->lora.opt.r ? m->lora.opt.r : out,
                         .n = in, .k = rows};
    return vkq_matmul_pack(rec, &a, VKQ_MATMUL_B, x, xb);
}

/* A linear layer's backward: dx (+)= dy w through the weight (frozen or not), then the weight's
 * gradient, or under LoRA the adapter's gradients and its share of dx. */
static vkq_status linear_backward(vkq_model *m, vkq_rec *rec, vkq_tensor_id id, uint32_t l,
                                  const vkq_packed *x, vkq_buf dy, vkq_buf dx, uint32_t rows,
                                  uint32_t in, uint32_t out, float beta)
{
    VKQ_TRY(linear_input_grad(rec, dy, weight(m, id, l), dx, rows, in, out, beta));
    if (!m->lora.opt.r)
        return linear_weight_grad(rec, dy, x, grad(m, id, l), rows, in, out);
    return vkq_lora_linear_backward(rec, &m->lora, id, l, x, dy, dx, rows, in, out);
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

/* One projection of the attention inputs: y = x w^T (+ b), then (with a norm weight) the
 * per-head norm from raw into y, then RoPE when rope is not NULL. */
static vkq_status project(vkq_rec *rec, const vkq_llama_config *c, const model_dims *m,
                          const lora_run *lora, vkq_tensor_id id, uint32_t l,
                          const vkq_packed *xn, weight_buf w, vkq_buf bias, vkq_buf norm_w, vkq_buf raw, vkq_buf rstd,
                          vkq_buf y, uint32_t heads, uint32_t n, const vkq_rope_args *rope)
{
    uint32_t width = heads * m->head_dim;
    vkq_buf out = norm_w.block ? raw : y;
    VKQ_TRY(vkq_lora_linear_forward(rec, lora, id, l, xn, w, out, n, m->d, width, 0.0f));
    if (bias.block)
        VKQ_TRY(vkq_bias_forward(rec, out, bias, n, width));
    if (norm_w.block)
        VKQ_TRY(vkq_rmsnorm_forward(rec, raw, norm_w, y, rstd, n * heads, m->head_dim,
                                    c->norm_eps));
    if (!rope)
        return VKQ_OK;
    vkq_rope_args r = *rope;
    r.heads = heads;
    return vkq_rope_forward(rec, y, &r);
}

vkq_status vkq_model_qkv_forward(vkq_rec *rec, const vkq_llama_config *c, const model_dims *m,
                                 const flat_block *params, const lora_run *lora,
                                 uint32_t l, const qkv_bufs *b,
                                 const vkq_rope_args *rope)
{
    vkq_buf none = {0};
    int bias = c->qkv_bias, norm = c->qk_norm;
    uint32_t n = rope->n;
    vkq_packed xn;
    VKQ_TRY(vkq_model_pack_input(rec, b->xn, n, m->d, m->q_dim, &xn));
#define W(id) vkq_tensor_buf(params, id, l)
#define M(id) vkq_tensor_weight(params, id, l)
    VKQ_TRY(project(rec, c, m, lora, VKQ_WQ, l, &xn, M(VKQ_WQ), bias ? W(VKQ_BQ) : none,
                    norm ? W(VKQ_Q_NORM) : none, b->q_raw, b->rstd_q, b->q, c->n_heads, n, rope));
    VKQ_TRY(project(rec, c, m, lora, VKQ_WK, l, &xn, M(VKQ_WK), bias ? W(VKQ_BK) : none,
                    norm ? W(VKQ_K_NORM) : none, b->k_raw, b->rstd_k, b->k, c->n_kv_heads, n,
                    rope));
    VKQ_TRY(project(rec, c, m, lora, VKQ_WV, l, &xn, M(VKQ_WV), bias ? W(VKQ_BV) : none, none,
                    none, none, b->v, c->n_kv_heads, n, NULL));
    vkq_matmul_unpack(rec, &xn);
    return VKQ_OK;
#undef M
#undef W
}

static vkq_rope_args rope_args(const vkq_model *m)
{
    return (vkq_rope_args){.positions = m->positions, .inv_freq = m->inv_freq,
                           .n = m->n_tokens, .heads = 1, .head_dim = m->dims.head_dim,
                           .pairs = m->cfg.rope_pairs};
}

vkq_status vkq_model_embed(vkq_rec *rec, const flat_block *params, vkq_buf tokens, vkq_buf out,
                           uint32_t n, uint32_t d, uint32_t vocab)
{
    for (uint32_t i = 0; i < vkq_row_piece_count(params, VKQ_TOK_EMB); i++) {
        row_piece p = vkq_row_piece_at(params, VKQ_TOK_EMB, i);
        vkq_table_rows table = {p.w.buf, p.first, p.rows, p.w.dtype};
        VKQ_TRY(vkq_embedding_forward_rows(rec, &table, tokens, out, n, d, vocab));
    }
    return VKQ_OK;
}

/* A classifier split by vocabulary rows computes each piece's logits into `part`, then into
 * their columns of the whole rows. */
vkq_status vkq_model_classify(vkq_rec *rec, const flat_block *params, vkq_buf x, vkq_buf logits,
                              vkq_buf part, uint32_t rows, uint32_t d, uint32_t vocab)
{
    uint32_t pieces = vkq_row_piece_count(params, VKQ_WCLS);
    if (pieces == 1)
        return vkq_model_linear(rec, x, vkq_tensor_weight(params, VKQ_WCLS, 0), logits, rows, d,
                                vocab, 0.0f);
    for (uint32_t i = 0; i < pieces; i++) {
        row_piece p = vkq_row_piece_at(params, VKQ_WCLS, i);
        VKQ_TRY(vkq_model_linear(rec, x, p.w, part, rows, d, p.rows, 0.0f));
        VKQ_TRY(vkq_copy_columns(rec, part, p.rows, 0, logits, vocab, p.first, rows, p.rows));
    }
    return VKQ_OK;
}

/* dhsel = dlogits . wcls and (unless the base is frozen) dwcls += dlogits^T . hsel, piece by
 * piece of the classifier. */
static vkq_status classifier_backward(vkq_model *m, vkq_rec *rec, vkq_buf dlogits)
{
    uint32_t r = m->n_rows, d = m->dims.d, v = m->dims.vocab;
    int frozen = m->lora.opt.r != 0;
    uint32_t pieces = vkq_row_piece_count(&m->params, VKQ_WCLS);
    vkq_packed hsel = {.source = m->hsel, .side = VKQ_MATMUL_B};
    if (pieces == 1) {
        VKQ_TRY(linear_input_grad(rec, dlogits, weight(m, VKQ_WCLS, 0), m->g.dhsel, r, d, v,
                                  0.0f));
        return frozen ? VKQ_OK : linear_weight_grad(rec, dlogits, &hsel, grad(m, VKQ_WCLS, 0),
                                                    r, d, v);
    }
    for (uint32_t i = 0; i < pieces; i++) {
        row_piece w = vkq_row_piece_at(&m->params, VKQ_WCLS, i);
        VKQ_TRY(vkq_copy_columns(rec, dlogits, v, w.first, m->logits_part, w.rows, 0, r, w.rows));
        VKQ_TRY(linear_input_grad(rec, m->logits_part, w.w, m->g.dhsel, r, d, w.rows,
                                  i ? 1.0f : 0.0f));
        if (!frozen)
            VKQ_TRY(linear_weight_grad(rec, m->logits_part, &hsel,
                                       vkq_row_piece_at(&m->grads, VKQ_WCLS, i).w.buf, r, d,
                                       w.rows));
    }
    return VKQ_OK;
}

/* keep_output 0: a recomputation for the backward, which needs everything but the output
 * (the down projection still runs when it has an adapter, whose backward needs its x A^T). */
static vkq_status layer_forward(vkq_model *m, vkq_rec *rec, uint32_t l, int keep_output)
{
    const vkq_llama_config *c = &m->cfg;
    const model_dims *md = &m->dims;
    const lora_run *lora = &m->lora;
    const layer_acts *a = acts(m, l);
    uint32_t t = m->n_tokens, d = md->d, h = md->h;
    vkq_buf res = head(m->res[l], (uint64_t)t * d), res_mid = head(a->res_mid, (uint64_t)t * d);
    VKQ_TRY(vkq_rmsnorm_forward(rec, res, param(m, VKQ_RMS_ATT, l), a->xn_att, a->rstd_att, t, d,
                                c->norm_eps));
    qkv_bufs qkv = {a->xn_att, a->q_raw, a->k_raw, a->rstd_q, a->rstd_k, a->q, a->k, a->v};
    vkq_rope_args rope = rope_args(m);
    VKQ_TRY(vkq_model_qkv_forward(rec, c, md, &m->params, lora, l, &qkv, &rope));
    VKQ_TRY(vkq_attention_forward(rec, a->q, a->k, a->v, m->starts, a->att, a->lse,
                                  attention_kept(m, l), t, c->n_heads, c->n_kv_heads,
                                  md->head_dim));
    VKQ_TRY(vkq_copy(rec, res, res_mid, t * d));
    VKQ_TRY(linear_forward(rec, lora, VKQ_WO, l, a->att, weight(m, VKQ_WO, l), res_mid, t,
                           md->q_dim, d, 1.0f));
    VKQ_TRY(vkq_rmsnorm_forward(rec, res_mid, param(m, VKQ_RMS_FFN, l), a->xn_ffn, a->rstd_ffn,
                                t, d, c->norm_eps));
    vkq_packed xn_ffn;
    VKQ_TRY(vkq_model_pack_input(rec, a->xn_ffn, t, d, h, &xn_ffn));
    VKQ_TRY(vkq_lora_linear_forward(rec, lora, VKQ_W1, l, &xn_ffn, weight(m, VKQ_W1, l), a->h1,
                                    t, d, h, 0.0f));
    VKQ_TRY(vkq_lora_linear_forward(rec, lora, VKQ_W3, l, &xn_ffn, weight(m, VKQ_W3, l), a->h3,
                                    t, d, h, 0.0f));
    vkq_matmul_unpack(rec, &xn_ffn);
    VKQ_TRY(vkq_swiglu_forward(rec, a->h1, a->h3, a->hg, t * h));
    if (!keep_output && !lora_adapts(lora, VKQ_W2))
        return VKQ_OK;
    vkq_buf out = head(m->res[l + 1], (uint64_t)t * d);
    VKQ_TRY(vkq_copy(rec, res_mid, out, t * d));
    return linear_forward(rec, lora, VKQ_W2, l, a->hg, weight(m, VKQ_W2, l), out, t, h, d, 1.0f);
}

vkq_status vkq_model_forward(vkq_model *m, vkq_rec *rec)
{
    const vkq_llama_config *c = &m->cfg;
    uint32_t t = m->n_tokens, d = c->dim;
    if (t == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_model_forward before vkq_model_set_batch");
    VKQ_TRY(vkq_model_embed(rec, &m->params, m->tokens, m->res[0], t, d, c->vocab_size));
    for (uint32_t l = 0; l < c->n_layers; l++)
        VKQ_TRY(layer_forward(m, rec, l, 1));
    VKQ_TRY(vkq_rmsnorm_forward(rec, head(m->res[c->n_layers], (uint64_t)t * d),
                                param(m, VKQ_RMS_FINAL, 0), m->xn_final, m->rstd_final, t, d,
                                c->norm_eps));
    if (m->n_rows == 0)
        return VKQ_OK;
    VKQ_TRY(vkq_gather_rows(rec, m->xn_final, m->rows, m->hsel, m->n_rows, d, t));
    return vkq_model_classify(rec, &m->params, m->hsel,
                              head(m->logits, (uint64_t)m->n_rows * c->vocab_size),
                              m->logits_part, m->n_rows, d, c->vocab_size);
}

vkq_status vkq_model_zero_grads(vkq_model *m, vkq_rec *rec)
{
    VKQ_TRY(need_training(m));
    for (uint32_t i = 0; i < m->grads.plan->count; i++)
        VKQ_TRY(vkq_fill(rec, m->grads.piece[i], 0.0f,
                         (uint32_t)vkq_flat_piece_floats(&m->grads, i)));
    return VKQ_OK;
}

/* The backward of project(): dy holds dL/d(y) after RoPE; the input gradient adds into dxn and
 * the parameter gradients into theirs. dy_raw is the workspace for dL/d(raw) with qk_norm. */
typedef struct project_grads {
    vkq_tensor_id w, bias, norm;
    vkq_buf raw, rstd, dy, dy_raw;
    uint32_t heads;
    int rope;
} project_grads;

static vkq_status project_backward(vkq_model *m, vkq_rec *rec, uint32_t l, const vkq_packed *xn,
                                   const project_grads *p)
{
    const vkq_llama_config *c = &m->cfg;
    const model_dims *md = &m->dims;
    uint32_t t = m->n_tokens, width = p->heads * md->head_dim;
    vkq_buf dy = p->dy;
    if (p->rope) {
        vkq_rope_args rope = rope_args(m);
        rope.heads = p->heads;
        VKQ_TRY(vkq_rope_backward(rec, dy, &rope));
    }
    if (c->qk_norm && p->rope) {
        VKQ_TRY(vkq_fill(rec, p->dy_raw, 0.0f, t * width));
        VKQ_TRY(vkq_rmsnorm_backward(rec, dy, p->raw, param(m, p->norm, l), p->rstd, p->dy_raw,
                                     norm_grad(m, p->norm, l), t * p->heads, md->head_dim));
        dy = p->dy_raw;
    }
    if (c->qkv_bias && !m->lora.opt.r)
        VKQ_TRY(vkq_bias_backward(rec, dy, grad(m, p->bias, l), t, width));
    return linear_backward(m, rec, p->w, l, xn, dy, m->g.dxn, t, md->d, width, 1.0f);
}

/* dres holds dL/d(res[l+1]) on entry and dL/d(res[l]) on return. */
static vkq_status layer_backward(vkq_model *m, vkq_rec *rec, uint32_t l)
{
    const vkq_llama_config *c = &m->cfg;
    const model_dims *md = &m->dims;
    const layer_acts *a = acts(m, l);
    const grad_work *g = &m->g;
    uint32_t t = m->n_tokens, d = md->d, h = md->h, qd = md->q_dim, kvd = md->kv_dim;
    if (m->opt.recompute)
        VKQ_TRY(layer_forward(m, rec, l, 0));

    /* feed-forward: res[l+1] = res_mid + w2(silu(w1 xn) * w3 xn) */
    vkq_packed hg = {.source = a->hg, .side = VKQ_MATMUL_B}, att = hg, xn_ffn, xn_att;
    att.source = a->att;
    VKQ_TRY(linear_backward(m, rec, VKQ_W2, l, &hg, g->dres, g->dhg, t, h, d, 0.0f));
    VKQ_TRY(vkq_fill(rec, g->dh1, 0.0f, t * h));
    VKQ_TRY(vkq_fill(rec, g->dh3, 0.0f, t * h));
    VKQ_TRY(vkq_swiglu_backward(rec, g->dhg, a->h1, a->h3, g->dh1, g->dh3, t * h));
    static const vkq_tensor_id ffn[] = {VKQ_W1, VKQ_W3}, qkv_ids[] = {VKQ_WQ, VKQ_WK, VKQ_WV};
    VKQ_TRY(pack_grad_input(m, rec, a->xn_ffn, t, d, h, input_readers(m, ffn, 2), &xn_ffn));
    VKQ_TRY(linear_backward(m, rec, VKQ_W1, l, &xn_ffn, g->dh1, g->dxn, t, d, h, 0.0f));
    VKQ_TRY(linear_backward(m, rec, VKQ_W3, l, &xn_ffn, g->dh3, g->dxn, t, d, h, 1.0f));
    vkq_matmul_unpack(rec, &xn_ffn);
    VKQ_TRY(vkq_rmsnorm_backward(rec, g->dxn, a->res_mid, param(m, VKQ_RMS_FFN, l), a->rstd_ffn,
                                 g->dres, norm_grad(m, VKQ_RMS_FFN, l), t, d));

    /* attention: res_mid = res[l] + wo(attention(q, k, v)), q k v from project() */
    VKQ_TRY(linear_backward(m, rec, VKQ_WO, l, &att, g->dres, g->datt, t, qd, d, 0.0f));
    VKQ_TRY(vkq_fill(rec, g->dq, 0.0f, t * qd));
    VKQ_TRY(vkq_fill(rec, g->dk, 0.0f, t * kvd));
    VKQ_TRY(vkq_fill(rec, g->dv, 0.0f, t * kvd));
    VKQ_TRY(vkq_attention_backward(rec, g->datt, a->q, a->k, a->v, m->starts, a->att, a->lse,
                                   attention_kept(m, l), g->dq, g->dk, g->dv, t, c->n_heads,
                                   c->n_kv_heads, md->head_dim));
    VKQ_TRY(vkq_fill(rec, g->dxn, 0.0f, t * d));
    const project_grads qkv[] = {
        {VKQ_WQ, VKQ_BQ, VKQ_Q_NORM, a->q_raw, a->rstd_q, g->dq, g->dq_raw, c->n_heads, 1},
        {VKQ_WK, VKQ_BK, VKQ_K_NORM, a->k_raw, a->rstd_k, g->dk, g->dk_raw, c->n_kv_heads, 1},
        {VKQ_WV, VKQ_BV, VKQ_TENSOR_COUNT, a->v, a->v, g->dv, g->dv, c->n_kv_heads, 0},
    };
    VKQ_TRY(pack_grad_input(m, rec, a->xn_att, t, d, qd, input_readers(m, qkv_ids, 3), &xn_att));
    for (size_t i = 0; i < sizeof qkv / sizeof qkv[0]; i++)
        VKQ_TRY(project_backward(m, rec, l, &xn_att, &qkv[i]));
    vkq_matmul_unpack(rec, &xn_att);
    return vkq_rmsnorm_backward(rec, g->dxn, head(m->res[l], (uint64_t)t * d),
                                param(m, VKQ_RMS_ATT, l), a->rstd_att, g->dres,
                                norm_grad(m, VKQ_RMS_ATT, l), t, d);
}

vkq_status vkq_model_backward(vkq_model *m, vkq_rec *rec)
{
    const vkq_llama_config *c = &m->cfg;
    const grad_work *g = &m->g;
    uint32_t t = m->n_tokens, d = c->dim, r = m->n_rows, v = c->vocab_size;
    VKQ_TRY(need_training(m));
    vkq_buf dlogits = head(m->logits, (uint64_t)r * v);
    VKQ_TRY(vkq_fill(rec, g->dres, 0.0f, t * d));
    VKQ_TRY(vkq_fill(rec, g->dxn, 0.0f, t * d));
    if (r) {
        VKQ_TRY(classifier_backward(m, rec, dlogits));
        VKQ_TRY(vkq_scatter_add_rows(rec, g->dhsel, m->rows, g->dxn, r, d, t));
    }
    VKQ_TRY(vkq_rmsnorm_backward(rec, g->dxn, head(m->res[c->n_layers], (uint64_t)t * d),
                                 param(m, VKQ_RMS_FINAL, 0), m->rstd_final, g->dres,
                                 norm_grad(m, VKQ_RMS_FINAL, 0), t, d));
    for (uint32_t l = c->n_layers; l-- > 0;)
        VKQ_TRY(layer_backward(m, rec, l));
    if (m->lora.opt.r)
        return VKQ_OK;
    for (uint32_t i = 0; i < vkq_row_piece_count(&m->grads, VKQ_TOK_EMB); i++) {
        row_piece p = vkq_row_piece_at(&m->grads, VKQ_TOK_EMB, i);
        vkq_table_rows dtable = {p.w.buf, p.first, p.rows, p.w.dtype};
        VKQ_TRY(vkq_embedding_backward_rows(rec, g->dres, m->emb_positions, m->emb_group_start,
                                            m->emb_group_token, m->emb_groups, &dtable, t, d));
    }
    return VKQ_OK;
}

/* The sum of squares of every trainable gradient: of the first piece, plus each other piece's
 * in turn (a storage binding cannot start at any float, so the pieces' sums are not one
 * vector). */
static vkq_status grad_sumsq(vkq_model *m, vkq_rec *rec)
{
    VKQ_TRY(vkq_sumsq(rec, m->grads.piece[0], (uint32_t)vkq_flat_piece_floats(&m->grads, 0),
                      m->grad_sumsq));
    for (uint32_t i = 1; i < m->grads.plan->count; i++) {
        VKQ_TRY(vkq_sumsq(rec, m->grads.piece[i], (uint32_t)vkq_flat_piece_floats(&m->grads, i),
                          m->piece_sumsq));
        VKQ_TRY(vkq_add(rec, m->grad_sumsq, m->piece_sumsq, m->grad_sumsq, 1));
    }
    return VKQ_OK;
}

vkq_status vkq_model_adamw(vkq_model *m, vkq_rec *rec, vkq_buf hyper)
{
    VKQ_TRY(need_training(m));
    VKQ_TRY(grad_sumsq(m, rec));
    for (uint32_t i = 0; i < m->grads.plan->count; i++)
        VKQ_TRY(vkq_adamw(rec, m->trainable->piece[i], m->grads.piece[i], m->adam_m.piece[i],
                          m->adam_v.piece[i], hyper, m->grad_sumsq,
                          (uint32_t)vkq_flat_piece_floats(&m->grads, i)));
    return VKQ_OK;
}

vkq_status vkq_model_loss(vkq_model *m, vkq_rec *rec, vkq_buf targets, vkq_buf weights,
                          vkq_buf losses)
{
    vkq_buf logits = head(m->logits, (uint64_t)m->n_rows * m->cfg.vocab_size);
    return vkq_cross_entropy(rec, logits, targets, weights, losses, logits, m->n_rows,
                             m->cfg.vocab_size);
}
