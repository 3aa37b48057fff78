/* Hugging Face model directories into the model description: config.json and
 * generation_config.json through hf_config, the tensors through the safetensors reader. */
#include "vkquill/hf_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/status_internal.h"
#include "model/llama_internal.h"
#include "model/safetensors_internal.h"
#include "vkquill/hf_config.h"
#include "vkquill/hf_names.h"

struct vkq_hf_model {
    char *dir;
    vkq_llama_config cfg;
    vkq_llama_tensors tensors;
    vkq_st_dtype dtype;
    vkq_st_model *st;
    const vkq_st_tensor **slices[VKQ_TENSOR_COUNT]; /* [layers] */
    size_t n_slices;
};

static void copy_tokens(const vkq_hf_tokens *t, vkq_llama_config *c)
{
    c->bos_id = t->bos_token_id;
    c->pad_id = t->pad_token_id;
    c->n_eos = (uint32_t)t->n_eos;
    for (int i = 0; i < t->n_eos; i++)
        c->eos_ids[i] = t->eos_token_ids[i];
}

vkq_status vkq_hf_config_describe(const char *path, const vkq_hf_config *h, vkq_llama_config *c)
{
    if (h->o_bias)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: field \"attention_bias\" is true: biases on "
                        "o_proj are not supported", path);
    *c = (vkq_llama_config){
        .dim = (uint32_t)h->hidden_size,
        .hidden_dim = (uint32_t)h->intermediate_size,
        .n_layers = (uint32_t)h->num_hidden_layers,
        .n_heads = (uint32_t)h->num_attention_heads,
        .n_kv_heads = (uint32_t)h->num_key_value_heads,
        .head_dim = (uint32_t)h->head_dim,
        .vocab_size = (uint32_t)h->vocab_size,
        .seq_len = (uint32_t)h->max_position_embeddings,
        .shared_classifier = h->tie_word_embeddings,
        .norm_eps = (float)h->rms_norm_eps,
        .rope_theta = (float)h->rope_theta,
        .rope_pairs = VKQ_ROPE_HALVES,
        .qkv_bias = h->qkv_bias,
        .qk_norm = h->qk_norm,
    };
    if (h->rope_llama3)
        c->rope_scaling = (vkq_rope_scaling){
            VKQ_ROPE_SCALING_LLAMA3, (float)h->rope_factor, (float)h->rope_low_freq_factor,
            (float)h->rope_high_freq_factor, (uint32_t)h->rope_original_max_position_embeddings};
    if (h->sliding_window > 0 && (uint32_t)h->sliding_window < c->seq_len)
        c->seq_len = (uint32_t)h->sliding_window;
    copy_tokens(&h->tokens, c);
    char msg[256];
    if (vkq_llama_config_problem(c, msg, sizeof msg))
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: vkquill cannot run this model: %s", path, msg);
    return VKQ_OK;
}

/* generation_config.json's end tokens (and a bos the config lacks) when the file exists. */
static vkq_status read_generation(const char *dir, vkq_llama_config *c)
{
    char *path = vkq_st_join(dir, "generation_config.json");
    if (!path)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", dir);
    vkq_hf_tokens t;
    vkq_status s = access(path, F_OK) == 0 ? vkq_hf_generation_load(path, &t) : VKQ_OK;
    if (s == VKQ_OK && access(path, F_OK) == 0) {
        if (t.n_eos > 0) {
            c->n_eos = (uint32_t)t.n_eos;
            for (int i = 0; i < t.n_eos; i++)
                c->eos_ids[i] = t.eos_token_ids[i];
        }
        if (c->bos_id < 0)
            c->bos_id = t.bos_token_id;
    }
    free(path);
    return s;
}

static vkq_status read_config(vkq_hf_model *m)
{
    char *path = vkq_st_join(m->dir, "config.json");
    if (!path)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", m->dir);
    vkq_hf_config h;
    vkq_status s = vkq_hf_config_load(path, &h);
    if (s == VKQ_OK)
        s = vkq_hf_config_describe(path, &h, &m->cfg);
    free(path);
    VKQ_TRY(s);
    return read_generation(m->dir, &m->cfg);
}

static void shape_text(const uint64_t *shape, int rank, char *out, size_t size)
{
    int at = snprintf(out, size, "[");
    for (int i = 0; i < rank && at > 0 && (size_t)at < size; i++)
        at += snprintf(out + at, size - (size_t)at, i ? ", %llu" : "%llu",
                       (unsigned long long)shape[i]);
    if (at > 0 && (size_t)at < size)
        snprintf(out + at, size - (size_t)at, "]");
}

/* One slice as the description expects it: [cols] for a vector, else [rows, cols]. */
static vkq_status check_slice(const vkq_st_tensor *st, const vkq_tensor *t)
{
    char shown[VKQ_ST_SHOWN], got[96], want[96];
    if (!vkq_st_dtype_is_float(st->dtype))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: tensor \"%s\": dtype %s, expected F32, F16 or BF16",
                        st->file, vkq_st_shown(st->name, shown), vkq_st_dtype_name(st->dtype));
    uint64_t shape[2] = {t->rows, t->cols};
    int rank = t->rows == 1 ? 1 : 2;
    const uint64_t *expected = rank == 1 ? shape + 1 : shape;
    int same = st->rank == rank;
    for (int i = 0; same && i < rank; i++)
        same = st->shape[i] == expected[i];
    if (same)
        return VKQ_OK;
    shape_text(st->shape, st->rank, got, sizeof got);
    shape_text(expected, rank, want, sizeof want);
    return vkq_fail(VKQ_ERR_FORMAT, "%s: tensor \"%s\": shape %s, config.json implies %s",
                    st->file, vkq_st_shown(st->name, shown), got, want);
}

static vkq_status take_slice(void *user, const char *name, size_t offset, const vkq_tensor *t)
{
    vkq_hf_model *m = user;
    const vkq_st_tensor *st;
    VKQ_TRY(vkq_st_model_get(m->st, name, &st));
    VKQ_TRY(check_slice(st, t));
    int id = 0;
    while (strcmp(m->tensors.t[id].name, t->name) != 0) /* t is a copy of a table entry */
        id++;
    uint32_t layer = (uint32_t)((offset - t->offset) / vkq_tensor_slice(t));
    m->slices[id][layer] = st;
    m->n_slices++;
    return VKQ_OK;
}

static int expected_tensor(const vkq_hf_model *m, const vkq_st_tensor *st)
{
    for (int i = 0; i < VKQ_TENSOR_COUNT; i++)
        for (uint32_t l = 0; m->slices[i] && l < m->tensors.t[i].layers; l++)
            if (m->slices[i][l] == st)
                return 1;
    return 0;
}

static vkq_status refuse_unexpected(const vkq_hf_model *m)
{
    for (size_t i = 0; i < vkq_st_model_count(m->st); i++) {
        const vkq_st_tensor *st = vkq_st_model_at(m->st, i);
        char shown[VKQ_ST_SHOWN];
        if (!expected_tensor(m, st))
            return vkq_fail(VKQ_ERR_FORMAT, "%s: tensor \"%s\": unexpected, config.json "
                            "describes no such tensor%s", st->file, vkq_st_shown(st->name, shown),
                            strcmp(st->name, "lm_head.weight") == 0 && m->cfg.shared_classifier
                                ? " (tie_word_embeddings is true)" : "");
    }
    return VKQ_OK;
}

static vkq_status read_tensors(vkq_hf_model *m)
{
    VKQ_TRY(vkq_st_model_open(m->dir, &m->st));
    vkq_llama_tensors_of(&m->cfg, &m->tensors);
    for (int i = 0; i < VKQ_TENSOR_COUNT; i++) {
        uint32_t layers = m->tensors.t[i].layers;
        m->slices[i] = calloc(layers ? layers : 1, sizeof *m->slices[i]);
        if (!m->slices[i])
            return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    VKQ_TRY(vkq_hf_each_tensor(&m->cfg, take_slice, m));
    if (m->n_slices != vkq_st_model_count(m->st))
        VKQ_TRY(refuse_unexpected(m));
    m->dtype = m->slices[VKQ_TOK_EMB][0]->dtype;
    return VKQ_OK;
}

vkq_status vkq_hf_model_open(const char *dir, vkq_hf_model **out)
{
    *out = NULL;
    vkq_hf_model *m = calloc(1, sizeof *m);
    if (!m || !(m->dir = strdup(dir))) {
        free(m);
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    vkq_status s = read_config(m);
    if (s == VKQ_OK)
        s = read_tensors(m);
    if (s != VKQ_OK) {
        vkq_saved_error e = vkq_error_save(s);
        vkq_hf_model_close(m);
        return vkq_error_restore(&e);
    }
    *out = m;
    return VKQ_OK;
}

void vkq_hf_model_close(vkq_hf_model *m)
{
    if (!m)
        return;
    vkq_st_model_close(m->st);
    for (int i = 0; i < VKQ_TENSOR_COUNT; i++)
        free(m->slices[i]);
    free(m->dir);
    free(m);
}

const vkq_llama_config *vkq_hf_model_config(const vkq_hf_model *m) { return &m->cfg; }
vkq_st_dtype vkq_hf_model_dtype(const vkq_hf_model *m) { return m->dtype; }

/* A tensor's floats cross its layers' slices, one file tensor each. */
static vkq_status read_tensor(void *user, vkq_tensor_id id, size_t first, size_t n, float *out)
{
    const vkq_hf_model *m = user;
    size_t slice = vkq_tensor_slice(&m->tensors.t[id]);
    while (n > 0) {
        size_t layer = first / slice, within = first % slice;
        size_t k = slice - within < n ? slice - within : n;
        VKQ_TRY(vkq_st_to_f32(m->slices[id][layer], within, k, out));
        first += k, out += k, n -= k;
    }
    return VKQ_OK;
}

vkq_tensor_source vkq_hf_model_weights(vkq_hf_model *m)
{
    return (vkq_tensor_source){read_tensor, m};
}
