/* Generation-time forward: rows of (sequence, position, token), keys and values kept in a cache
 * per layer ([max_seqs][seq_len][kv_dim]). A step writes every row's key and value into the
 * cache before any row attends, so one step may hold several consecutive positions of a
 * sequence (a prompt read in chunks). A recording is reused while the number of rows stays the
 * same; tokens and positions travel in buffers uploaded before each step. */
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"

struct vkq_decoder {
    vkq_ctx *ctx;
    vkq_rec *rec;
    vkq_llama_config cfg;
    vkq_llama_tensors tensors;
    model_dims dims;
    uint32_t max_seqs, max_rows, recorded_n;
    flat_plan plan;
    flat_block params;
    vkq_buf inv_freq, tokens, positions, cache_rows, bases, lengths;
    vkq_buf x, xn, rstd, q_raw, k_raw, rstd_q, rstd_k, q, k, v, att, h1, h3, hg, logits,
        logits_part;
    vkq_buf *k_cache, *v_cache;
    int32_t *host_ints;
};

static vkq_buf param(const vkq_decoder *d, vkq_tensor_id id, uint32_t l)
{
    return vkq_tensor_buf(&d->params, id, l);
}

static weight_buf weight(const vkq_decoder *d, vkq_tensor_id id, uint32_t l)
{
    return vkq_tensor_weight(&d->params, id, l);
}

static vkq_status alloc(vkq_decoder *d, uint64_t floats, vkq_buf *out)
{
    return vkq_buf_alloc(d->ctx, f32(floats ? floats : 1), out);
}

static vkq_status decoder_init(vkq_decoder *d, const vkq_tensor_source *weights)
{
    const vkq_llama_config *c = &d->cfg;
    const model_dims *m = &d->dims;
    uint64_t b = d->max_rows, norm = c->qk_norm ? 1 : 0;
    VKQ_TRY(vkq_rec_create(d->ctx, &d->rec));
    VKQ_TRY(vkq_flat_plan_make(vkq_ctx_max_binding(d->ctx), &d->tensors, &d->plan));
    VKQ_TRY(vkq_flat_alloc(d->ctx, &d->plan, &d->params));
    VKQ_TRY(vkq_model_upload_weights(d->ctx, c, &d->params, weights));
    VKQ_TRY(vkq_model_upload_rope(d->ctx, c, &d->inv_freq));
    vkq_buf *ints[] = {&d->tokens, &d->positions, &d->cache_rows, &d->bases, &d->lengths};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        VKQ_TRY(alloc(d, b, ints[i]));
    const struct { vkq_buf *buf; uint64_t floats; } acts[] = {
        {&d->x, b * m->d},    {&d->xn, b * m->d},   {&d->rstd, b},
        {&d->q_raw, norm * b * m->q_dim},          {&d->k_raw, norm * b * m->kv_dim},
        {&d->rstd_q, norm * b * c->n_heads},       {&d->rstd_k, norm * b * c->n_kv_heads},
        {&d->q, b * m->q_dim}, {&d->k, b * m->kv_dim}, {&d->v, b * m->kv_dim},
        {&d->att, b * m->q_dim}, {&d->h1, b * m->h}, {&d->h3, b * m->h}, {&d->hg, b * m->h},
        {&d->logits, b * m->vocab}, {&d->logits_part, vkq_logits_part_floats(&d->plan, d->max_rows)}};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++)
        VKQ_TRY(alloc(d, acts[i].floats, acts[i].buf));
    d->k_cache = calloc(c->n_layers, sizeof *d->k_cache);
    d->v_cache = calloc(c->n_layers, sizeof *d->v_cache);
    d->host_ints = malloc(3 * b * sizeof *d->host_ints);
    if (!d->k_cache || !d->v_cache || !d->host_ints)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    uint64_t cache = (uint64_t)d->max_seqs * c->seq_len * m->kv_dim;
    for (uint32_t l = 0; l < c->n_layers; l++) {
        VKQ_TRY(alloc(d, cache, &d->k_cache[l]));
        VKQ_TRY(alloc(d, cache, &d->v_cache[l]));
    }
    return VKQ_OK;
}

/* Up to PREFILL_ROWS rows a sequence, while a step's widest activation (most often its logits)
 * stays within ROWS_BYTES and one binding (a step of one row a sequence is always possible). */
enum { PREFILL_ROWS = 8, ROWS_BYTES = 32 << 20 };

static uint32_t rows_for(const vkq_ctx *ctx, const model_dims *m, uint32_t max_seqs)
{
    uint64_t widest = m->vocab, bytes = vkq_ctx_max_binding(ctx);
    const uint64_t widths[] = {m->d, m->h, m->q_dim, m->kv_dim};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++)
        widest = widths[i] > widest ? widths[i] : widest;
    bytes = bytes < ROWS_BYTES ? bytes : ROWS_BYTES;
    uint64_t rows = (uint64_t)max_seqs * PREFILL_ROWS, fit = bytes / (4 * widest);
    rows = rows < fit ? rows : fit;
    return rows > max_seqs ? (uint32_t)rows : max_seqs;
}

vkq_status vkq_decoder_create(vkq_ctx *ctx, const vkq_llama_config *cfg,
                              const vkq_tensor_source *weights, uint32_t max_seqs,
                              vkq_decoder **out)
{
    *out = NULL;
    VKQ_TRY(vkq_llama_config_check(cfg));
    if (max_seqs == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "a decoder needs at least one sequence");
    vkq_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    d->ctx = ctx;
    d->cfg = *cfg;
    d->max_seqs = max_seqs;
    vkq_model_dims_of(cfg, &d->dims);
    d->max_rows = rows_for(ctx, &d->dims, max_seqs);
    vkq_llama_tensors_of(cfg, &d->tensors);
    vkq_status s = decoder_init(d, weights);
    if (s != VKQ_OK) {
        vkq_saved_error e = vkq_error_save(s);
        vkq_decoder_destroy(d);
        return vkq_error_restore(&e);
    }
    *out = d;
    return VKQ_OK;
}

void vkq_decoder_destroy(vkq_decoder *d)
{
    if (!d)
        return;
    vkq_rec_destroy(d->rec);
    vkq_flat_free(d->ctx, &d->params);
    vkq_flat_plan_free(&d->plan);
    vkq_buf *bufs[] = {&d->inv_freq, &d->tokens, &d->positions, &d->cache_rows,
                       &d->bases, &d->lengths, &d->x, &d->xn, &d->rstd, &d->q_raw, &d->k_raw,
                       &d->rstd_q, &d->rstd_k, &d->q, &d->k, &d->v, &d->att, &d->h1, &d->h3,
                       &d->hg, &d->logits, &d->logits_part};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        vkq_buf_free(d->ctx, bufs[i]);
    for (uint32_t l = 0; d->k_cache && d->v_cache && l < d->cfg.n_layers; l++) {
        vkq_buf_free(d->ctx, &d->k_cache[l]);
        vkq_buf_free(d->ctx, &d->v_cache[l]);
    }
    free(d->k_cache);
    free(d->v_cache);
    free(d->host_ints);
    free(d);
}

const vkq_llama_config *vkq_decoder_config(const vkq_decoder *d) { return &d->cfg; }

uint32_t vkq_decoder_max_rows(const vkq_decoder *d) { return d->max_rows; }

static vkq_status record_layer(vkq_decoder *d, uint32_t l, uint32_t n)
{
    const vkq_llama_config *c = &d->cfg;
    const model_dims *m = &d->dims;
    vkq_rec *rec = d->rec;
    uint32_t dim = m->d, h = m->h, kvd = m->kv_dim;
    VKQ_TRY(vkq_rmsnorm_forward(rec, d->x, param(d, VKQ_RMS_ATT, l), d->xn, d->rstd, n, dim,
                                c->norm_eps));
    qkv_bufs qkv = {d->xn, d->q_raw, d->k_raw, d->rstd_q, d->rstd_k, d->q, d->k, d->v};
    vkq_rope_args rope = {.positions = d->positions, .inv_freq = d->inv_freq, .n = n,
                          .heads = 1, .head_dim = m->head_dim, .pairs = c->rope_pairs};
    VKQ_TRY(vkq_model_qkv_forward(rec, c, m, &d->params, NULL, l, &qkv, &rope));
    uint32_t cache_rows = d->max_seqs * c->seq_len;
    VKQ_TRY(vkq_copy_rows(rec, d->k, d->cache_rows, d->k_cache[l], n, kvd, cache_rows));
    VKQ_TRY(vkq_copy_rows(rec, d->v, d->cache_rows, d->v_cache[l], n, kvd, cache_rows));
    VKQ_TRY(vkq_attention_decode(rec, d->q, d->k_cache[l], d->v_cache[l], d->bases, d->lengths,
                                 d->att, n, cache_rows, c->n_heads, c->n_kv_heads,
                                 m->head_dim));
    VKQ_TRY(vkq_model_linear(rec, d->att, weight(d, VKQ_WO, l), d->x, n, m->q_dim, dim, 1.0f));
    VKQ_TRY(vkq_rmsnorm_forward(rec, d->x, param(d, VKQ_RMS_FFN, l), d->xn, d->rstd, n, dim,
                                c->norm_eps));
    VKQ_TRY(vkq_model_linear(rec, d->xn, weight(d, VKQ_W1, l), d->h1, n, dim, h, 0.0f));
    VKQ_TRY(vkq_model_linear(rec, d->xn, weight(d, VKQ_W3, l), d->h3, n, dim, h, 0.0f));
    VKQ_TRY(vkq_swiglu_forward(rec, d->h1, d->h3, d->hg, n * h));
    return vkq_model_linear(rec, d->hg, weight(d, VKQ_W2, l), d->x, n, h, dim, 1.0f);
}

static vkq_status record_step(vkq_decoder *d, uint32_t n)
{
    const vkq_llama_config *c = &d->cfg;
    VKQ_TRY(vkq_rec_begin(d->rec));
    VKQ_TRY(vkq_model_embed(d->rec, &d->params, d->tokens, d->x, n, c->dim, c->vocab_size));
    for (uint32_t l = 0; l < c->n_layers; l++)
        VKQ_TRY(record_layer(d, l, n));
    VKQ_TRY(vkq_rmsnorm_forward(d->rec, d->x, param(d, VKQ_RMS_FINAL, 0), d->xn, d->rstd, n,
                                c->dim, c->norm_eps));
    VKQ_TRY(vkq_model_classify(d->rec, &d->params, d->xn, d->logits, d->logits_part, n, c->dim,
                               c->vocab_size));
    VKQ_TRY(vkq_rec_end(d->rec));
    d->recorded_n = n;
    return VKQ_OK;
}

static vkq_status check_step(const vkq_decoder *d, const int32_t *slots, const int32_t *tokens,
                             const int32_t *positions, uint32_t n)
{
    if (n == 0 || n > d->max_rows)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "a decoder step takes 1 to %u rows, not %u",
                        d->max_rows, n);
    for (uint32_t i = 0; i < n; i++) {
        if (slots[i] < 0 || (uint32_t)slots[i] >= d->max_seqs)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "cache slot %d is outside 0..%u", slots[i],
                            d->max_seqs - 1);
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= d->cfg.vocab_size)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "token %d is outside the vocabulary of %u",
                            tokens[i], d->cfg.vocab_size);
        if (positions[i] < 0 || (uint32_t)positions[i] >= d->cfg.seq_len)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "position %d is past the model's context "
                            "of %u tokens", positions[i], d->cfg.seq_len);
    }
    return VKQ_OK;
}

vkq_status vkq_decoder_step(vkq_decoder *d, const int32_t *slots, const int32_t *tokens,
                            const int32_t *positions, uint32_t n, float *logits)
{
    VKQ_TRY(check_step(d, slots, tokens, positions, n));
    int32_t *rows = d->host_ints, *bases = rows + d->max_rows, *lengths = bases + d->max_rows;
    for (uint32_t i = 0; i < n; i++) {
        bases[i] = slots[i] * (int32_t)d->cfg.seq_len;
        rows[i] = bases[i] + positions[i];
        lengths[i] = positions[i] + 1;
    }
    VKQ_TRY(vkq_buf_upload(d->ctx, d->tokens, 0, tokens, 4ull * n));
    VKQ_TRY(vkq_buf_upload(d->ctx, d->positions, 0, positions, 4ull * n));
    VKQ_TRY(vkq_buf_upload(d->ctx, d->cache_rows, 0, rows, 4ull * n));
    VKQ_TRY(vkq_buf_upload(d->ctx, d->bases, 0, bases, 4ull * n));
    VKQ_TRY(vkq_buf_upload(d->ctx, d->lengths, 0, lengths, 4ull * n));
    if (d->recorded_n != n)
        VKQ_TRY(record_step(d, n));
    VKQ_TRY(vkq_rec_submit(d->rec));
    return vkq_buf_download(d->ctx, d->logits, 0, logits, f32((uint64_t)n * d->cfg.vocab_size));
}
