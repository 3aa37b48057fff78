/* The model description: config checks and the tensor table. Sizes are computed with
 * saturating arithmetic: SIZE_MAX means "overflowed", so a corrupt header or config can never
 * lead to a wrapped-around allocation or read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status_internal.h"
#include "model/llama_internal.h"

enum { SIZE_FIELDS = 8 };

static const char *const size_names[SIZE_FIELDS] = {
    "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len",
    "head_dim"};

/* Far above any Llama model, far below where sizes could overflow 64-bit arithmetic. */
static const uint32_t size_limits[SIZE_FIELDS] = {
    1u << 16, 1u << 18, 1u << 10, 1u << 10, 1u << 10, 1u << 21, 1u << 20, 1u << 12};

size_t vkq_size_mul(size_t a, size_t b) { return a != 0 && b > SIZE_MAX / a ? SIZE_MAX : a * b; }
size_t vkq_size_add(size_t a, size_t b) { return b > SIZE_MAX - a ? SIZE_MAX : a + b; }

uint32_t vkq_llama_head_dim(const vkq_llama_config *c)
{
    if (c->head_dim || !c->n_heads)
        return c->head_dim;
    return c->dim / c->n_heads;
}

/* One row per tensor: {id, name, per layer, rows, cols, present, linear}. */
static void tensor_shapes(const vkq_llama_config *c, vkq_tensor t[VKQ_TENSOR_COUNT])
{
    uint32_t d = c->dim, h = c->hidden_dim, v = c->vocab_size, hd = vkq_llama_head_dim(c);
    uint32_t qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
    int b = c->qkv_bias != 0, n = c->qk_norm != 0;
    const struct {
        vkq_tensor_id id;
        const char *name;
        int per_layer;
        uint32_t rows, cols;
        int present, linear;
    } rows[] = {
        {VKQ_TOK_EMB, "tok_emb", 0, v, d, 1, 0},
        {VKQ_RMS_ATT, "rms_att", 1, 1, d, 1, 0},
        {VKQ_WQ, "wq", 1, qd, d, 1, 1},
        {VKQ_WK, "wk", 1, kvd, d, 1, 1},
        {VKQ_WV, "wv", 1, kvd, d, 1, 1},
        {VKQ_BQ, "bq", 1, 1, qd, b, 0},
        {VKQ_BK, "bk", 1, 1, kvd, b, 0},
        {VKQ_BV, "bv", 1, 1, kvd, b, 0},
        {VKQ_Q_NORM, "q_norm", 1, 1, hd, n, 0},
        {VKQ_K_NORM, "k_norm", 1, 1, hd, n, 0},
        {VKQ_WO, "wo", 1, d, qd, 1, 1},
        {VKQ_RMS_FFN, "rms_ffn", 1, 1, d, 1, 0},
        {VKQ_W1, "w1", 1, h, d, 1, 1},
        {VKQ_W2, "w2", 1, d, h, 1, 1},
        {VKQ_W3, "w3", 1, h, d, 1, 1},
        {VKQ_RMS_FINAL, "rms_final", 0, 1, d, 1, 0},
        {VKQ_WCLS, "wcls", 0, v, d, 1, 1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        t[rows[i].id] = (vkq_tensor){
            .name = rows[i].name,
            .layers = rows[i].present ? (rows[i].per_layer ? c->n_layers : 1) : 0,
            .rows = rows[i].rows,
            .cols = rows[i].cols,
            .dtype = VKQ_F32,
            .linear = rows[i].linear,
        };
}

size_t vkq_llama_tensors_saturating(const vkq_llama_config *c, vkq_llama_tensors *out)
{
    tensor_shapes(c, out->t);
    size_t at = 0;
    for (int i = 0; i < VKQ_TENSOR_COUNT; i++) {
        vkq_tensor *t = &out->t[i];
        if (i == VKQ_WCLS && c->shared_classifier) {
            t->offset = out->t[VKQ_TOK_EMB].offset;
            continue;
        }
        t->offset = at;
        at = vkq_size_add(at, vkq_size_mul(t->layers, vkq_size_mul(t->rows, t->cols)));
    }
    out->total = at;
    return at;
}

void vkq_llama_tensors_of(const vkq_llama_config *c, vkq_llama_tensors *out)
{
    vkq_llama_tensors_saturating(c, out);
}

size_t vkq_tensor_floats(const vkq_llama_tensors *ts, vkq_tensor_id id)
{
    if (id == VKQ_WCLS && ts->t[VKQ_WCLS].offset == ts->t[VKQ_TOK_EMB].offset)
        return 0;
    const vkq_tensor *t = &ts->t[id];
    return t->layers * vkq_tensor_slice(t);
}

void vkq_llama_tensors_store(vkq_llama_tensors *ts, vkq_dtype matrices)
{
    for (int id = 0; id < VKQ_TENSOR_COUNT; id++) {
        vkq_tensor *t = &ts->t[id];
        int matrix = t->linear || id == VKQ_TOK_EMB || id == VKQ_WCLS;
        t->dtype = matrix ? matrices : VKQ_F32;
    }
}

uint64_t vkq_llama_tensors_bytes(const vkq_llama_tensors *ts)
{
    uint64_t bytes = 0;
    for (int id = 0; id < VKQ_TENSOR_COUNT; id++)
        bytes += vkq_tensor_floats(ts, (vkq_tensor_id)id) * vkq_dtype_bytes(ts->t[id].dtype);
    return bytes;
}

static int scaling_problem(const vkq_rope_scaling *s, char *msg, size_t capacity)
{
    if (s->type == VKQ_ROPE_SCALING_NONE)
        return 0;
    if (s->type != VKQ_ROPE_SCALING_LLAMA3)
        return snprintf(msg, capacity, "unknown rope_scaling type %d", (int)s->type);
    if (!(s->factor > 0.0f) || !(s->low_freq_factor > 0.0f) ||
        !(s->high_freq_factor > s->low_freq_factor) || !isfinite(s->factor) ||
        !isfinite(s->high_freq_factor) || s->original_max_position == 0)
        return snprintf(msg, capacity,
                        "rope_scaling llama3 needs factor > 0, 0 < low_freq_factor < "
                        "high_freq_factor and original_max_position_embeddings > 0");
    return 0;
}

int vkq_llama_config_problem(const vkq_llama_config *c, char *msg, size_t capacity)
{
    const uint32_t v[SIZE_FIELDS] = {c->dim,        c->hidden_dim, c->n_layers,
                                     c->n_heads,    c->n_kv_heads, c->vocab_size,
                                     c->seq_len,    vkq_llama_head_dim(c)};
    for (int i = 0; i < SIZE_FIELDS - 1; i++)
        if (v[i] == 0 || v[i] > size_limits[i])
            return snprintf(msg, capacity, "%s %u is outside 1..%u", size_names[i], v[i],
                            size_limits[i]);
    if (!c->head_dim && (c->dim % c->n_heads != 0 || (c->dim / c->n_heads) % 2 != 0))
        return snprintf(msg, capacity, "n_heads %u does not divide dim %u into an even head size",
                        c->n_heads, c->dim);
    if (v[7] == 0 || v[7] % 2 != 0 || v[7] > size_limits[7])
        return snprintf(msg, capacity, "head_dim %u is not an even number in 2..%u", v[7],
                        size_limits[7]);
    if (c->n_heads % c->n_kv_heads != 0)
        return snprintf(msg, capacity, "n_kv_heads %u does not divide n_heads %u",
                        c->n_kv_heads, c->n_heads);
    if (!(c->norm_eps > 0.0f) || !isfinite(c->norm_eps))
        return snprintf(msg, capacity, "norm_eps %g is not a positive number", c->norm_eps);
    if (!(c->rope_theta > 0.0f) || !isfinite(c->rope_theta))
        return snprintf(msg, capacity, "rope_theta %g is not a positive number", c->rope_theta);
    if (c->rope_pairs != VKQ_ROPE_INTERLEAVED && c->rope_pairs != VKQ_ROPE_HALVES)
        return snprintf(msg, capacity, "unknown RoPE pairing %d", (int)c->rope_pairs);
    if (scaling_problem(&c->rope_scaling, msg, capacity))
        return 1;
    if (c->n_eos > VKQ_MAX_EOS_IDS)
        return snprintf(msg, capacity, "%u eos ids, at most %d", c->n_eos, VKQ_MAX_EOS_IDS);
    vkq_llama_tensors ts;
    if (vkq_llama_tensors_saturating(c, &ts) > SIZE_MAX / 8)
        return snprintf(msg, capacity, "the parameters do not fit in memory");
    return 0;
}

vkq_status vkq_llama_config_check(const vkq_llama_config *c)
{
    char msg[256];
    if (!c)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_llama_config_check: NULL config");
    if (vkq_llama_config_problem(c, msg, sizeof msg))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "invalid Llama config: %s", msg);
    return VKQ_OK;
}

void vkq_llama_rope_frequencies(const vkq_llama_config *c, float *inv_freq)
{
    vkq_rope_frequencies(c->rope_theta, &c->rope_scaling, vkq_llama_head_dim(c), inv_freq);
}

int vkq_llama_is_eos(const vkq_llama_config *c, int32_t token)
{
    for (uint32_t i = 0; i < c->n_eos; i++)
        if (c->eos_ids[i] == token)
            return 1;
    return 0;
}

/* Rows [heads * head_dim][cols] of one layer: each head's rows 2i + a go to a * half + i. */
static void permute_heads(float *w, uint32_t heads, uint32_t head_dim, uint32_t cols,
                          float *scratch)
{
    uint32_t half = head_dim / 2;
    size_t row = (size_t)cols * sizeof *w;
    for (uint32_t h = 0; h < heads; h++) {
        float *head = w + (size_t)h * head_dim * cols;
        for (uint32_t i = 0; i < half; i++)
            for (uint32_t a = 0; a < 2; a++)
                memcpy(scratch + (size_t)(a * half + i) * cols, head + (size_t)(2 * i + a) * cols,
                       row);
        memcpy(head, scratch, row * head_dim);
    }
}

vkq_status vkq_llama_rope_to_halves(vkq_llama_config *c, float *params)
{
    VKQ_TRY(vkq_llama_config_check(c));
    if (c->rope_pairs != VKQ_ROPE_INTERLEAVED || c->qk_norm)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "only a model with interleaved RoPE pairs and no "
                        "q/k norms moves to halves");
    vkq_llama_tensors ts;
    vkq_llama_tensors_of(c, &ts);
    uint32_t hd = vkq_llama_head_dim(c);
    float *scratch = malloc((size_t)hd * c->dim * sizeof *scratch);
    if (!scratch)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    const struct { vkq_tensor_id id; uint32_t heads; } moved[] = {
        {VKQ_WQ, c->n_heads}, {VKQ_WK, c->n_kv_heads}, {VKQ_BQ, c->n_heads},
        {VKQ_BK, c->n_kv_heads}};
    for (size_t i = 0; i < sizeof moved / sizeof moved[0]; i++) {
        const vkq_tensor *t = &ts.t[moved[i].id];
        uint32_t cols = t->rows == 1 ? 1 : t->cols; /* a bias is one value per row */
        for (uint32_t l = 0; l < t->layers; l++)
            permute_heads(params + vkq_tensor_at(t, l), moved[i].heads, hd, cols, scratch);
    }
    free(scratch);
    c->rope_pairs = VKQ_ROPE_HALVES;
    return VKQ_OK;
}
