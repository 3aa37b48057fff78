/* A Hugging Face model directory as a GGUF file: the architecture's metadata from config.json,
 * the tensors under llama.cpp's names, streamed from the safetensors files in pieces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status_internal.h"
#include "model/gguf_internal.h"
#include "model/safetensors_internal.h"
#include "vkquill/hf_names.h"
#include "vkquill/nn.h"

/* ggml's llama_ftype of a file whose matrices are all of one type. */
enum { FILE_TYPE_F32 = 0, FILE_TYPE_F16 = 1, FILE_TYPE_BF16 = 32 };

enum { SCRATCH_FLOATS = 1 << 18 };

/* One tensor of the output: where its values come from and how its rows are ordered. */
typedef struct source {
    const vkq_st_tensor *st; /* NULL: values holds the data */
    const float *values;
    vkq_gguf_type type;
    uint64_t cols;
    uint32_t pair_head_dim; /* non-zero: rows go from halves to pairs within heads this size */
    float *scratch;         /* SCRATCH_FLOATS, shared */
} source;

typedef struct exporter {
    const char *dir;
    vkq_hf_config c;
    const char *arch;
    vkq_gguf_type type;
    vkq_st_model *model;
    vkq_gguf *gguf;
    source *sources;
    size_t n_sources, capacity;
    float *scratch;
    float *rope_divisors;
} exporter;

/* Hugging Face's q and k rows hold each head's rotation pairs as halves (i, i + half);
 * llama.cpp's "llama" architecture rotates adjacent rows (2i, 2i + 1), as Meta's checkpoints
 * did, so its converter moves row 2i + a of a head back from row a * half + i. */
static uint64_t source_row(const source *s, uint64_t row)
{
    if (!s->pair_head_dim)
        return row;
    uint64_t hd = s->pair_head_dim, head = row / hd, local = row % hd;
    return head * hd + (local % 2) * (hd / 2) + local / 2;
}

static vkq_st_dtype st_dtype(vkq_gguf_type type)
{
    return type == VKQ_GGUF_F32 ? VKQ_ST_F32 : type == VKQ_GGUF_F16 ? VKQ_ST_F16 : VKQ_ST_BF16;
}

static vkq_status fill_source(void *user, uint64_t offset, void *buffer, size_t size)
{
    const source *s = user;
    size_t es = vkq_gguf_type_size(s->type);
    if (!s->st) {
        memcpy(buffer, (const char *)s->values + offset, size);
        return VKQ_OK;
    }
    uint64_t element = offset / es;
    unsigned char *out = buffer;
    for (size_t left = size / es; left > 0;) {
        uint64_t row = element / s->cols, col = element % s->cols;
        size_t run = s->cols - col < left ? (size_t)(s->cols - col) : left;
        if (run > SCRATCH_FLOATS)
            run = SCRATCH_FLOATS;
        VKQ_TRY(vkq_st_to_f32(s->st, source_row(s, row) * s->cols + col, run, s->scratch));
        VKQ_TRY(vkq_st_from_f32(st_dtype(s->type), s->scratch, run, out));
        out += run * es;
        element += run;
        left -= run;
    }
    return VKQ_OK;
}

static vkq_status new_source(exporter *e, source **out)
{
    if (e->n_sources == e->capacity)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: more tensors than planned", e->dir);
    *out = &e->sources[e->n_sources++];
    **out = (source){.scratch = e->scratch};
    return VKQ_OK;
}

static vkq_status check_shape(const exporter *e, const vkq_st_tensor *t, uint64_t rows,
                              uint64_t cols)
{
    int vector = rows == 0;
    int fits = vector ? t->rank == 1 && t->shape[0] == cols
                      : t->rank == 2 && t->shape[0] == rows && t->shape[1] == cols;
    if (!fits) {
        char shape[96] = "";
        for (int d = 0, n = 0; d < t->rank && n < (int)sizeof shape - 24; d++)
            n += snprintf(shape + n, sizeof shape - (size_t)n, "%s%llu", d ? ", " : "",
                          (unsigned long long)t->shape[d]);
        if (vector)
            return vkq_fail(VKQ_ERR_FORMAT, "%s: tensor %s has shape [%s]; config.json gives [%llu]",
                            e->dir, t->name, shape, (unsigned long long)cols);
        return vkq_fail(VKQ_ERR_FORMAT, "%s: tensor %s has shape [%s]; config.json gives "
                        "[%llu, %llu]", e->dir, t->name, shape, (unsigned long long)rows,
                        (unsigned long long)cols);
    }
    if (!vkq_st_dtype_is_float(t->dtype))
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: tensor %s is %s (only F32, F16 and BF16 export)",
                        e->dir, t->name, vkq_st_dtype_name(t->dtype));
    return VKQ_OK;
}

/* A Hugging Face tensor [rows, cols] (rows 0: a vector of cols) as GGUF tensor `name`:
 * matrices in the chosen type, vectors in F32 as llama.cpp's converter keeps them. */
static vkq_status add_tensor(exporter *e, const char *hf_name, const char *name, uint64_t rows,
                             uint64_t cols, uint32_t pair_head_dim)
{
    const vkq_st_tensor *t;
    VKQ_TRY(vkq_st_model_get(e->model, hf_name, &t));
    VKQ_TRY(check_shape(e, t, rows, cols));
    source *s = NULL;
    VKQ_TRY(new_source(e, &s));
    s->st = t;
    s->type = rows ? e->type : VKQ_GGUF_F32;
    s->cols = cols;
    s->pair_head_dim = pair_head_dim;
    uint64_t dims[2] = {cols, rows};
    return vkq_gguf_add_tensor(e->gguf, name, rows ? 2 : 1, dims, s->type, fill_source, s);
}

static int is_llama_arch(const exporter *e)
{
    return e->c.arch == VKQ_HF_LLAMA || e->c.arch == VKQ_HF_MISTRAL;
}

/* The tensors of one layer: {GGUF name, vkquill tensor, rows (0: a vector), cols, q/k}. */
typedef struct layer_tensor {
    const char *name;
    vkq_tensor_id id;
    int present;
    uint64_t rows, cols;
    int rotated; /* q or k: moved to pairs for the "llama" architecture */
} layer_tensor;

static vkq_status add_layer(exporter *e, uint32_t l)
{
    const vkq_hf_config *c = &e->c;
    uint64_t d = (uint64_t)c->hidden_size, h = (uint64_t)c->intermediate_size,
             hd = (uint64_t)c->head_dim, qd = hd * (uint64_t)c->num_attention_heads,
             kvd = hd * (uint64_t)c->num_key_value_heads;
    const layer_tensor table[] = {
        {"attn_norm.weight", VKQ_RMS_ATT, 1, 0, d, 0},
        {"attn_q.weight", VKQ_WQ, 1, qd, d, 1},
        {"attn_k.weight", VKQ_WK, 1, kvd, d, 1},
        {"attn_v.weight", VKQ_WV, 1, kvd, d, 0},
        {"attn_q.bias", VKQ_BQ, c->qkv_bias, 0, qd, 1},
        {"attn_k.bias", VKQ_BK, c->qkv_bias, 0, kvd, 1},
        {"attn_v.bias", VKQ_BV, c->qkv_bias, 0, kvd, 0},
        {"attn_q_norm.weight", VKQ_Q_NORM, c->qk_norm, 0, hd, 0},
        {"attn_k_norm.weight", VKQ_K_NORM, c->qk_norm, 0, hd, 0},
        {"attn_output.weight", VKQ_WO, 1, d, qd, 0},
        {"ffn_norm.weight", VKQ_RMS_FFN, 1, 0, d, 0},
        {"ffn_gate.weight", VKQ_W1, 1, h, d, 0},
        {"ffn_up.weight", VKQ_W3, 1, h, d, 0},
        {"ffn_down.weight", VKQ_W2, 1, d, h, 0},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
        const layer_tensor *t = &table[i];
        if (!t->present)
            continue;
        char hf_name[128], name[64];
        vkq_hf_tensor_name(t->id, l, hf_name, sizeof hf_name);
        snprintf(name, sizeof name, "blk.%u.%s", l, t->name);
        uint32_t pairs = t->rotated && is_llama_arch(e) ? (uint32_t)c->head_dim : 0;
        VKQ_TRY(add_tensor(e, hf_name, name, t->rows, t->cols, pairs));
    }
    return VKQ_OK;
}

/* llama3 RoPE scaling: llama.cpp divides each frequency by the rope_freqs tensor. */
static vkq_status add_rope_freqs(exporter *e)
{
    const vkq_hf_config *c = &e->c;
    uint32_t half = (uint32_t)c->head_dim / 2;
    e->rope_divisors = malloc(half * sizeof *e->rope_divisors);
    if (!e->rope_divisors)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_rope_scaling scaling = {VKQ_ROPE_SCALING_LLAMA3, (float)c->rope_factor,
                                (float)c->rope_low_freq_factor, (float)c->rope_high_freq_factor,
                                (uint32_t)c->rope_original_max_position_embeddings};
    vkq_rope_llama3_divisors((float)c->rope_theta, &scaling, (uint32_t)c->head_dim,
                             e->rope_divisors);
    source *s = NULL;
    VKQ_TRY(new_source(e, &s));
    s->values = e->rope_divisors;
    s->type = VKQ_GGUF_F32;
    uint64_t dims[1] = {half};
    return vkq_gguf_add_tensor(e->gguf, "rope_freqs.weight", 1, dims, VKQ_GGUF_F32, fill_source,
                               s);
}

static vkq_status add_tensors(exporter *e)
{
    const vkq_hf_config *c = &e->c;
    uint64_t d = (uint64_t)c->hidden_size, v = (uint64_t)c->vocab_size;
    if (c->rope_llama3)
        VKQ_TRY(add_rope_freqs(e));
    char hf_name[128];
    vkq_hf_tensor_name(VKQ_TOK_EMB, 0, hf_name, sizeof hf_name);
    VKQ_TRY(add_tensor(e, hf_name, "token_embd.weight", v, d, 0));
    for (uint32_t l = 0; l < (uint32_t)c->num_hidden_layers; l++)
        VKQ_TRY(add_layer(e, l));
    vkq_hf_tensor_name(VKQ_RMS_FINAL, 0, hf_name, sizeof hf_name);
    VKQ_TRY(add_tensor(e, hf_name, "output_norm.weight", 0, d, 0));
    if (c->tie_word_embeddings)
        return VKQ_OK;
    vkq_hf_tensor_name(VKQ_WCLS, 0, hf_name, sizeof hf_name);
    return add_tensor(e, hf_name, "output.weight", v, d, 0);
}

/* Every tensor of the directory must have gone into the file, but for the rotary
 * frequencies some checkpoints keep and a tied classifier's copy. */
static vkq_status check_all_used(const exporter *e)
{
    for (size_t i = 0; i < vkq_st_model_count(e->model); i++) {
        const vkq_st_tensor *t = vkq_st_model_at(e->model, i);
        int used = 0;
        for (size_t j = 0; j < e->n_sources && !used; j++)
            used = e->sources[j].st == t;
        static const char inv_freq[] = "rotary_emb.inv_freq";
        size_t n = strlen(t->name), k = sizeof inv_freq - 1;
        int ignored = (n >= k && strcmp(t->name + n - k, inv_freq) == 0) ||
                      (e->c.tie_word_embeddings && strcmp(t->name, "lm_head.weight") == 0);
        if (!used && !ignored) {
            char shown[VKQ_ST_SHOWN];
            return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: tensor %s is not part of a %s model; "
                            "merge adapters into the weights before exporting", e->dir,
                            vkq_st_shown(t->name, shown), vkq_hf_arch_name(e->c.arch));
        }
    }
    return VKQ_OK;
}

/* general.name: the directory's last component. */
static vkq_status add_name(exporter *e)
{
    size_t end = strlen(e->dir);
    while (end > 1 && e->dir[end - 1] == '/')
        end--;
    size_t begin = end;
    while (begin > 0 && e->dir[begin - 1] != '/')
        begin--;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(end - begin), e->dir + begin);
    return vkq_gguf_add_string(e->gguf, "general.name", name);
}

static vkq_status add_arch_u32(exporter *e, const char *key, int value)
{
    char full[96];
    snprintf(full, sizeof full, "%s.%s", e->arch, key);
    return vkq_gguf_add_u32(e->gguf, full, (uint32_t)value);
}

static vkq_status add_arch_f32(exporter *e, const char *key, double value)
{
    char full[96];
    snprintf(full, sizeof full, "%s.%s", e->arch, key);
    return vkq_gguf_add_f32(e->gguf, full, (float)value);
}

static vkq_status add_metadata(exporter *e)
{
    const vkq_hf_config *c = &e->c;
    int file_type = e->type == VKQ_GGUF_F32   ? FILE_TYPE_F32
                    : e->type == VKQ_GGUF_F16 ? FILE_TYPE_F16
                                              : FILE_TYPE_BF16;
    VKQ_TRY(vkq_gguf_add_string(e->gguf, "general.architecture", e->arch));
    VKQ_TRY(add_name(e));
    VKQ_TRY(vkq_gguf_add_u32(e->gguf, "general.alignment", VKQ_GGUF_ALIGNMENT));
    VKQ_TRY(vkq_gguf_add_u32(e->gguf, "general.file_type", (uint32_t)file_type));
    VKQ_TRY(add_arch_u32(e, "vocab_size", c->vocab_size));
    VKQ_TRY(add_arch_u32(e, "context_length", c->max_position_embeddings));
    VKQ_TRY(add_arch_u32(e, "embedding_length", c->hidden_size));
    VKQ_TRY(add_arch_u32(e, "block_count", c->num_hidden_layers));
    VKQ_TRY(add_arch_u32(e, "feed_forward_length", c->intermediate_size));
    VKQ_TRY(add_arch_u32(e, "attention.head_count", c->num_attention_heads));
    VKQ_TRY(add_arch_u32(e, "attention.head_count_kv", c->num_key_value_heads));
    VKQ_TRY(add_arch_u32(e, "attention.key_length", c->head_dim));
    VKQ_TRY(add_arch_u32(e, "attention.value_length", c->head_dim));
    VKQ_TRY(add_arch_f32(e, "attention.layer_norm_rms_epsilon", c->rms_norm_eps));
    VKQ_TRY(add_arch_f32(e, "rope.freq_base", c->rope_theta));
    return add_arch_u32(e, "rope.dimension_count", c->head_dim);
}

static vkq_status check_config(const exporter *e)
{
    if (e->c.o_bias)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: attention_bias on o_proj is not supported",
                        e->dir);
    if (e->c.head_dim % 2 != 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: head_dim %d is odd; RoPE needs pairs", e->dir,
                        e->c.head_dim);
    return VKQ_OK;
}

static vkq_status read_config(exporter *e)
{
    char *path = vkq_st_join(e->dir, "config.json");
    if (!path)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_status s = vkq_hf_config_load(path, &e->c);
    free(path);
    VKQ_TRY(s);
    static const char *const arch_names[] = {
        [VKQ_HF_LLAMA] = "llama", [VKQ_HF_MISTRAL] = "llama", [VKQ_HF_QWEN2] = "qwen2",
        [VKQ_HF_QWEN3] = "qwen3"};
    e->arch = arch_names[e->c.arch];
    return check_config(e);
}

static vkq_gguf_type type_of_weights(vkq_st_dtype dtype)
{
    return dtype == VKQ_ST_BF16 ? VKQ_GGUF_BF16 : dtype == VKQ_ST_F16 ? VKQ_GGUF_F16 : VKQ_GGUF_F32;
}

static vkq_status plan(exporter *e, const vkq_gguf_export_options *options)
{
    VKQ_TRY(read_config(e));
    e->type = options->type_given ? options->type : type_of_weights(e->c.torch_dtype);
    VKQ_TRY(vkq_st_model_open(e->dir, &e->model));
    VKQ_TRY(vkq_gguf_new(&e->gguf));
    e->capacity = 4 + 14 * (size_t)e->c.num_hidden_layers;
    e->sources = calloc(e->capacity, sizeof *e->sources);
    e->scratch = malloc(SCRATCH_FLOATS * sizeof *e->scratch);
    if (!e->sources || !e->scratch)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    VKQ_TRY(add_metadata(e));
    VKQ_TRY(vkq_gguf_add_vocab(e->gguf, e->dir, &e->c));
    VKQ_TRY(add_tensors(e));
    return check_all_used(e);
}

vkq_status vkq_gguf_export(const char *model_dir, const char *out_path,
                           const vkq_gguf_export_options *options)
{
    exporter e = {.dir = model_dir};
    vkq_status s = plan(&e, options);
    if (s == VKQ_OK)
        s = vkq_gguf_write(e.gguf, out_path);
    vkq_saved_error saved = vkq_error_save(s);
    vkq_gguf_free(e.gguf);
    vkq_st_model_close(e.model);
    free(e.sources);
    free(e.scratch);
    free(e.rope_divisors);
    return s == VKQ_OK ? VKQ_OK : vkq_error_restore(&saved);
}
