/* The model description out to a Hugging Face directory: tensors through the safetensors
 * writer, config.json from the base directory or from the description. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/file.h"
#include "base/json_text.h"
#include "base/mapped.h"
#include "model/llama_internal.h"
#include "model/safetensors_internal.h"
#include "vkquill/hf_config.h"
#include "vkquill/hf_model.h"
#include "vkquill/hf_names.h"

/* What a base directory may hold besides the weights and config.json, copied as they are. */
static const char *const copied_files[] = {
    "generation_config.json", "tokenizer.json",   "tokenizer_config.json",
    "special_tokens_map.json", "tokenizer.model", "vocab.json",
    "merges.txt",             "added_tokens.json", "chat_template.jinja"};

typedef struct slice_out {
    const float *values;
    vkq_st_dtype dtype;
} slice_out;

typedef struct tensor_list {
    const float *params;
    vkq_st_dtype dtype;
    vkq_st_write_tensor *tensors;
    slice_out *slices;
    size_t count, capacity;
} tensor_list;

static vkq_status fill_slice(void *user, uint64_t offset, void *buffer, size_t size)
{
    const slice_out *s = user;
    size_t width = vkq_st_dtype_bits(s->dtype) / 8;
    return vkq_st_from_f32(s->dtype, s->values + offset / width, size / width, buffer);
}

static vkq_status add_tensor(void *user, const char *name, size_t offset, const vkq_tensor *t)
{
    tensor_list *l = user;
    if (l->count == l->capacity)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "more tensors than the table holds");
    l->slices[l->count] = (slice_out){l->params + offset, l->dtype};
    vkq_st_write_tensor *w = &l->tensors[l->count];
    *w = (vkq_st_write_tensor){.name = strdup(name), .dtype = l->dtype,
                               .fill = fill_slice, .user = &l->slices[l->count]};
    if (!w->name)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    w->rank = t->rows == 1 ? 1 : 2;
    w->shape[0] = t->rows == 1 ? t->cols : t->rows;
    w->shape[1] = t->cols;
    l->count++;
    return VKQ_OK;
}

static vkq_status write_tensors(const char *dir, const vkq_llama_config *c, const float *params,
                                vkq_st_dtype dtype)
{
    size_t capacity = (size_t)VKQ_TENSOR_COUNT * c->n_layers + VKQ_TENSOR_COUNT;
    tensor_list l = {params, dtype, calloc(capacity, sizeof *l.tensors),
                     calloc(capacity, sizeof *l.slices), 0, capacity};
    vkq_status s = l.tensors && l.slices ? vkq_hf_each_tensor(c, add_tensor, &l)
                                         : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    const vkq_st_metadata_entry format = {"format", "pt"};
    if (s == VKQ_OK)
        s = vkq_st_write_model(dir, l.tensors, l.count, &format, 1, VKQ_ST_DEFAULT_SHARD_BYTES);
    for (size_t i = 0; i < l.count; i++)
        free((char *)l.tensors[i].name);
    free(l.tensors);
    free(l.slices);
    return s;
}

static const char *torch_dtype_name(vkq_st_dtype dtype)
{
    return dtype == VKQ_ST_BF16 ? "bfloat16" : dtype == VKQ_ST_F16 ? "float16" : "float32";
}

/* The float's shortest decimal, so 1e-5f reads 1e-05 rather than 9.99999975e-06. */
static double shortest(float value)
{
    char text[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, value);
        if (strtof(text, NULL) == value)
            break;
    }
    return strtod(text, NULL);
}

static void add_tokens(cJSON *o, const vkq_llama_config *c)
{
    if (c->bos_id >= 0)
        cJSON_AddNumberToObject(o, "bos_token_id", c->bos_id);
    if (c->n_eos == 1)
        cJSON_AddNumberToObject(o, "eos_token_id", c->eos_ids[0]);
    else if (c->n_eos > 1)
        cJSON_AddItemToObject(o, "eos_token_id", cJSON_CreateIntArray(c->eos_ids, (int)c->n_eos));
    if (c->pad_id >= 0)
        cJSON_AddNumberToObject(o, "pad_token_id", c->pad_id);
}

static void add_rope_scaling(cJSON *o, const vkq_rope_scaling *r)
{
    if (r->type != VKQ_ROPE_SCALING_LLAMA3)
        return;
    cJSON *s = cJSON_AddObjectToObject(o, "rope_scaling");
    cJSON_AddStringToObject(s, "rope_type", "llama3");
    cJSON_AddNumberToObject(s, "factor", shortest(r->factor));
    cJSON_AddNumberToObject(s, "low_freq_factor", shortest(r->low_freq_factor));
    cJSON_AddNumberToObject(s, "high_freq_factor", shortest(r->high_freq_factor));
    cJSON_AddNumberToObject(s, "original_max_position_embeddings", r->original_max_position);
}

/* The architecture whose transformers class computes what the description does: Qwen3 for
 * q/k norms, Qwen2 for q/k/v biases, Llama otherwise. */
static vkq_status config_of(const vkq_llama_config *c, vkq_st_dtype dtype, cJSON **out)
{
    vkq_hf_arch arch = c->qk_norm ? VKQ_HF_QWEN3 : c->qkv_bias ? VKQ_HF_QWEN2 : VKQ_HF_LLAMA;
    static const char *const types[] = {[VKQ_HF_LLAMA] = "llama", [VKQ_HF_QWEN2] = "qwen2",
                                        [VKQ_HF_QWEN3] = "qwen3"};
    if (c->rope_pairs != VKQ_ROPE_HALVES)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "a Hugging Face model turns RoPE halves; move the "
                        "interleaved q/k rows first (vkq_llama_rope_to_halves)");
    if (arch == VKQ_HF_QWEN2 && vkq_llama_head_dim(c) * c->n_heads != c->dim)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "a Qwen2 model (q/k/v biases) has head_dim = "
                        "hidden_size / num_attention_heads");
    cJSON *o = cJSON_CreateObject();
    cJSON *archs = cJSON_AddArrayToObject(o, "architectures");
    cJSON_AddItemToArray(archs, cJSON_CreateString(vkq_hf_arch_name(arch)));
    cJSON_AddStringToObject(o, "model_type", types[arch]);
    const struct { const char *key; uint32_t value; } sizes[] = {
        {"hidden_size", c->dim}, {"intermediate_size", c->hidden_dim},
        {"num_hidden_layers", c->n_layers}, {"num_attention_heads", c->n_heads},
        {"num_key_value_heads", c->n_kv_heads}, {"head_dim", vkq_llama_head_dim(c)},
        {"vocab_size", c->vocab_size}, {"max_position_embeddings", c->seq_len}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        cJSON_AddNumberToObject(o, sizes[i].key, sizes[i].value);
    cJSON_AddStringToObject(o, "hidden_act", "silu");
    cJSON_AddNumberToObject(o, "rms_norm_eps", shortest(c->norm_eps));
    cJSON_AddNumberToObject(o, "rope_theta", shortest(c->rope_theta));
    add_rope_scaling(o, &c->rope_scaling);
    cJSON_AddBoolToObject(o, "tie_word_embeddings", c->shared_classifier);
    if (arch != VKQ_HF_QWEN2)
        cJSON_AddBoolToObject(o, "attention_bias", 0);
    if (arch == VKQ_HF_LLAMA)
        cJSON_AddBoolToObject(o, "mlp_bias", 0);
    add_tokens(o, c);
    cJSON_AddStringToObject(o, "torch_dtype", torch_dtype_name(dtype));
    *out = o;
    return VKQ_OK;
}

/* The base's config.json with the dtype the weights are now written in. */
static vkq_status config_from_base(const char *base, vkq_st_dtype dtype, cJSON **out)
{
    char *path = vkq_st_join(base, "config.json");
    if (!path)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", base);
    vkq_mapped_file m;
    vkq_status s = vkq_map_file(path, &m);
    if (s == VKQ_OK)
        s = vkq_json_object_parse(path, "the file", (const char *)m.data, m.size, out);
    vkq_unmap_file(&m);
    free(path);
    VKQ_TRY(s);
    const char *name = torch_dtype_name(dtype);
    if (cJSON_GetObjectItemCaseSensitive(*out, "dtype")) /* transformers 5's key */
        cJSON_ReplaceItemInObjectCaseSensitive(*out, "dtype", cJSON_CreateString(name));
    cJSON_DeleteItemFromObjectCaseSensitive(*out, "torch_dtype");
    cJSON_AddStringToObject(*out, "torch_dtype", name);
    return VKQ_OK;
}

static vkq_status write_text(const char *path, FILE *f, void *user)
{
    const char *text = user;
    VKQ_TRY(vkq_write_bytes(path, f, text, 1, strlen(text)));
    return vkq_write_bytes(path, f, "\n", 1, 1);
}

static vkq_status write_json(const char *dir, const char *name, cJSON *o)
{
    char *path = vkq_st_join(dir, name), *text = o ? cJSON_Print(o) : NULL;
    vkq_status s = path && text ? vkq_write_atomic(path, write_text, text)
                                : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot write %s", dir, name);
    free(path);
    free(text);
    cJSON_Delete(o);
    return s;
}

static vkq_status copy_base_files(const char *base, const char *dir)
{
    vkq_status s = VKQ_OK;
    for (size_t i = 0; i < sizeof copied_files / sizeof copied_files[0] && s == VKQ_OK; i++) {
        char *from = vkq_st_join(base, copied_files[i]), *to = vkq_st_join(dir, copied_files[i]);
        if (!from || !to)
            s = vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", dir);
        else if (access(from, F_OK) == 0)
            s = vkq_copy_file(from, to);
        free(from);
        free(to);
    }
    return s;
}

static vkq_status write_contents(const char *tmp, const vkq_llama_config *c, const float *params,
                                 vkq_st_dtype dtype, const char *base)
{
    cJSON *config = NULL;
    VKQ_TRY(base ? config_from_base(base, dtype, &config) : config_of(c, dtype, &config));
    VKQ_TRY(write_json(tmp, "config.json", config));
    if (base)
        VKQ_TRY(copy_base_files(base, tmp));
    else {
        cJSON *generation = cJSON_CreateObject();
        add_tokens(generation, c);
        VKQ_TRY(write_json(tmp, "generation_config.json", generation));
    }
    return write_tensors(tmp, c, params, dtype);
}

typedef struct hf_contents {
    const vkq_llama_config *c;
    const float *params;
    vkq_st_dtype dtype;
    const char *base;
} hf_contents;

static vkq_status write_dir(const char *tmp, void *user)
{
    const hf_contents *h = user;
    return write_contents(tmp, h->c, h->params, h->dtype, h->base);
}

vkq_status vkq_hf_model_write(const char *dir, const vkq_llama_config *c, const float *params,
                              vkq_st_dtype dtype, const char *base)
{
    char msg[256];
    if (vkq_llama_config_problem(c, msg, sizeof msg))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: cannot write an invalid config: %s", dir,
                        msg);
    if (!vkq_st_dtype_is_float(dtype))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: weights are written as F32, F16 or BF16, "
                        "not %s", dir, vkq_st_dtype_name(dtype));
    hf_contents h = {c, params, dtype, base};
    return vkq_write_dir_atomic(dir, "config.json", "a model directory", write_dir, &h);
}
