/* config.json and generation_config.json of Hugging Face checkpoints. Defaults follow the
 * transformers configuration classes of the four supported architectures. */
#include "vkquill/hf_config.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/json_text.h"
#include "base/mapped.h"
#include "base/status_internal.h"

typedef struct fields {
    const char *path;
    const cJSON *object;
    const char *prefix; /* "" or "rope_scaling." */
} fields;

static const char *const arch_names[] = {
    [VKQ_HF_LLAMA] = "LlamaForCausalLM", [VKQ_HF_MISTRAL] = "MistralForCausalLM",
    [VKQ_HF_QWEN2] = "Qwen2ForCausalLM", [VKQ_HF_QWEN3] = "Qwen3ForCausalLM"};

const char *vkq_hf_arch_name(vkq_hf_arch arch)
{
    return (unsigned)arch <= VKQ_HF_QWEN3 ? arch_names[arch] : "?";
}

/* A field and its value, as one line: field "x" is <JSON value>: why. */
static vkq_status bad_field(const fields *f, const char *key, const cJSON *value,
                            const char *why)
{
    char *text = value ? cJSON_PrintUnformatted(value) : NULL;
    char shown[96];
    snprintf(shown, sizeof shown, "%s", text ? text : "missing");
    if (text && strlen(text) >= sizeof shown)
        memcpy(shown + sizeof shown - 4, "...", 4);
    for (char *c = shown; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = '?';
    free(text);
    return vkq_fail(VKQ_ERR_FORMAT, "%s: field \"%s%s\" is %s: %s", f->path, f->prefix, key,
                    shown, why);
}

/* NULL for an absent field and for null, which transformers treats as absent. */
static const cJSON *field(const fields *f, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(f->object, key);
    return cJSON_IsNull(v) ? NULL : v;
}

static vkq_status get_int(const fields *f, const char *key, int fallback, int smallest,
                          int *out)
{
    const cJSON *v = field(f, key);
    if (!v) {
        if (fallback < smallest)
            return bad_field(f, key, NULL, "the field is required");
        *out = fallback;
        return VKQ_OK;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
        return bad_field(f, key, v, "must be an integer");
    if (v->valuedouble < smallest || v->valuedouble > INT_MAX) {
        char why[64];
        snprintf(why, sizeof why, "must be in [%d, %d]", smallest, INT_MAX);
        return bad_field(f, key, v, why);
    }
    *out = (int)v->valuedouble;
    return VKQ_OK;
}

static vkq_status get_required(const fields *f, const char *key, int *out)
{
    return get_int(f, key, 0, 1, out);
}

static vkq_status get_positive(const fields *f, const char *key, double fallback, double *out)
{
    const cJSON *v = field(f, key);
    if (!v) {
        if (fallback <= 0)
            return bad_field(f, key, NULL, "the field is required");
        *out = fallback;
        return VKQ_OK;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || isinf(v->valuedouble))
        return bad_field(f, key, v, "must be a positive number");
    *out = v->valuedouble;
    return VKQ_OK;
}

static vkq_status get_bool(const fields *f, const char *key, int fallback, int *out)
{
    const cJSON *v = field(f, key);
    if (!v) {
        *out = fallback;
        return VKQ_OK;
    }
    if (!cJSON_IsBool(v))
        return bad_field(f, key, v, "must be true or false");
    *out = cJSON_IsTrue(v);
    return VKQ_OK;
}

static vkq_status get_arch(const fields *f, vkq_hf_arch *out)
{
    const cJSON *list = field(f, "architectures");
    const cJSON *first = cJSON_IsArray(list) ? list->child : NULL;
    if (!cJSON_IsString(first))
        return bad_field(f, "architectures", list, "must list the model class, as "
                         "[\"LlamaForCausalLM\"]");
    for (int a = VKQ_HF_LLAMA; a <= VKQ_HF_QWEN3; a++)
        if (strcmp(first->valuestring, arch_names[a]) == 0) {
            *out = (vkq_hf_arch)a;
            return VKQ_OK;
        }
    return bad_field(f, "architectures", list, "supported are LlamaForCausalLM, "
                     "MistralForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM");
}

static vkq_status get_shape(const fields *f, vkq_hf_config *c)
{
    VKQ_TRY(get_required(f, "hidden_size", &c->hidden_size));
    VKQ_TRY(get_required(f, "intermediate_size", &c->intermediate_size));
    VKQ_TRY(get_required(f, "num_hidden_layers", &c->num_hidden_layers));
    VKQ_TRY(get_required(f, "num_attention_heads", &c->num_attention_heads));
    VKQ_TRY(get_int(f, "num_key_value_heads", c->num_attention_heads, 1,
                    &c->num_key_value_heads));
    int head_dim = c->arch == VKQ_HF_QWEN3 ? 128 : c->hidden_size / c->num_attention_heads;
    VKQ_TRY(get_int(f, "head_dim", head_dim, 1, &c->head_dim));
    VKQ_TRY(get_required(f, "vocab_size", &c->vocab_size));
    VKQ_TRY(get_required(f, "max_position_embeddings", &c->max_position_embeddings));
    if (c->num_attention_heads % c->num_key_value_heads != 0)
        return bad_field(f, "num_key_value_heads", field(f, "num_key_value_heads"),
                         "must divide num_attention_heads");
    if (!field(f, "head_dim") && c->hidden_size % c->num_attention_heads != 0)
        return bad_field(f, "hidden_size", field(f, "hidden_size"),
                         "must be a multiple of num_attention_heads when head_dim is absent");
    if (c->head_dim % 2 != 0)
        return bad_field(f, field(f, "head_dim") ? "head_dim" : "hidden_size",
                         field(f, field(f, "head_dim") ? "head_dim" : "hidden_size"),
                         "the head size must be even for rotary embeddings");
    return VKQ_OK;
}

static vkq_status get_llama3_scaling(const fields *f, vkq_hf_config *c)
{
    c->rope_llama3 = 1;
    VKQ_TRY(get_positive(f, "factor", 0, &c->rope_factor));
    VKQ_TRY(get_positive(f, "low_freq_factor", 0, &c->rope_low_freq_factor));
    VKQ_TRY(get_positive(f, "high_freq_factor", 0, &c->rope_high_freq_factor));
    VKQ_TRY(get_required(f, "original_max_position_embeddings",
                         &c->rope_original_max_position_embeddings));
    if (c->rope_factor < 1)
        return bad_field(f, "factor", field(f, "factor"), "must be at least 1");
    if (c->rope_high_freq_factor <= c->rope_low_freq_factor)
        return bad_field(f, "high_freq_factor", field(f, "high_freq_factor"),
                         "must be above low_freq_factor");
    return VKQ_OK;
}

/* rope_scaling, or transformers 5's rope_parameters, which also holds rope_theta. */
static vkq_status get_rope(const fields *f, vkq_hf_config *c)
{
    const char *key = field(f, "rope_scaling") ? "rope_scaling" : "rope_parameters";
    const cJSON *scaling = field(f, key);
    double theta = 10000;
    fields inner = {f->path, scaling, strcmp(key, "rope_scaling") ? "rope_parameters."
                                                                  : "rope_scaling."};
    if (scaling && !cJSON_IsObject(scaling))
        return bad_field(f, key, scaling, "must be an object or null");
    if (scaling && field(&inner, "rope_theta"))
        VKQ_TRY(get_positive(&inner, "rope_theta", 0, &theta));
    VKQ_TRY(get_positive(f, "rope_theta", theta, &c->rope_theta));
    if (!scaling)
        return VKQ_OK;
    const char *type_key = field(&inner, "rope_type") ? "rope_type" : "type";
    const cJSON *type = field(&inner, type_key);
    if (!type || (cJSON_IsString(type) && strcmp(type->valuestring, "default") == 0))
        return VKQ_OK;
    if (cJSON_IsString(type) && strcmp(type->valuestring, "llama3") == 0)
        return get_llama3_scaling(&inner, c);
    return bad_field(&inner, type_key, type, "only llama3 rope scaling is supported");
}

static vkq_status refuse_unsupported(const fields *f)
{
    const cJSON *act = field(f, "hidden_act");
    if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu") != 0))
        return bad_field(f, "hidden_act", act, "only \"silu\" is supported");
    if (cJSON_IsTrue(field(f, "mlp_bias")))
        return bad_field(f, "mlp_bias", field(f, "mlp_bias"), "MLP biases are not supported");
    static const char *const experts[] = {"num_experts", "num_local_experts", "n_routed_experts",
                                          "num_experts_per_tok"};
    for (size_t i = 0; i < sizeof experts / sizeof experts[0]; i++) {
        const cJSON *v = field(f, experts[i]);
        if (v && !(cJSON_IsNumber(v) && v->valuedouble == 0))
            return bad_field(f, experts[i], v, "mixture-of-experts models are not supported");
    }
    return VKQ_OK;
}

static vkq_status get_dtype(const fields *f, vkq_st_dtype *out)
{
    const char *key = field(f, "torch_dtype") ? "torch_dtype" : "dtype";
    const cJSON *v = field(f, key);
    static const struct {
        const char *name;
        vkq_st_dtype dtype;
    } names[] = {{"bfloat16", VKQ_ST_BF16}, {"float16", VKQ_ST_F16}, {"float32", VKQ_ST_F32}};
    *out = VKQ_ST_F32; /* what transformers loads when the config names none */
    if (!v)
        return VKQ_OK;
    for (size_t i = 0; cJSON_IsString(v) && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(v->valuestring, names[i].name) == 0) {
            *out = names[i].dtype;
            return VKQ_OK;
        }
    return bad_field(f, key, v, "must be \"bfloat16\", \"float16\" or \"float32\"");
}

/* A token id or null; eos may also be a list. */
static vkq_status get_token(const fields *f, const char *key, int *out)
{
    *out = -1;
    return field(f, key) ? get_int(f, key, 0, 0, out) : VKQ_OK;
}

static vkq_status get_eos(const fields *f, int *ids, int *n)
{
    const cJSON *v = field(f, "eos_token_id");
    *n = 0;
    if (!v)
        return VKQ_OK;
    if (!cJSON_IsArray(v)) {
        *n = 1;
        return get_int(f, "eos_token_id", 0, 0, ids);
    }
    if (cJSON_GetArraySize(v) > VKQ_HF_MAX_EOS)
        return bad_field(f, "eos_token_id", v, "at most 8 end tokens are supported");
    for (const cJSON *id = v->child; id; id = id->next) {
        if (!cJSON_IsNumber(id) || id->valuedouble != floor(id->valuedouble) ||
            id->valuedouble < 0 || id->valuedouble > INT_MAX)
            return bad_field(f, "eos_token_id", v, "must be a token id or a list of them");
        ids[(*n)++] = (int)id->valuedouble;
    }
    return VKQ_OK;
}

static vkq_status get_tokens(const fields *f, vkq_hf_tokens *t)
{
    VKQ_TRY(get_token(f, "bos_token_id", &t->bos_token_id));
    VKQ_TRY(get_token(f, "pad_token_id", &t->pad_token_id));
    return get_eos(f, t->eos_token_ids, &t->n_eos);
}

/* Which attention window, if any, the transformers model of this config applies. */
static vkq_status get_sliding_window(const fields *f, vkq_hf_config *c)
{
    int window = 0, use = 0, max_window_layers = 0;
    c->sliding_window = 0;
    if (c->arch == VKQ_HF_LLAMA)
        return VKQ_OK;
    VKQ_TRY(get_int(f, "sliding_window", 4096, 1, &window));
    if (c->arch == VKQ_HF_MISTRAL) {
        /* MistralConfig defaults to 4096 only when the key is absent; null turns it off */
        int explicit_null = cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(f->object,
                                                                          "sliding_window"));
        c->sliding_window = explicit_null ? 0 : window;
        return VKQ_OK;
    }
    VKQ_TRY(get_bool(f, "use_sliding_window", 0, &use));
    VKQ_TRY(get_int(f, "max_window_layers", 28, 0, &max_window_layers));
    const cJSON *window_field = cJSON_GetObjectItemCaseSensitive(f->object, "sliding_window");
    if (!use || cJSON_IsNull(window_field))
        return VKQ_OK;
    const cJSON *types = field(f, "layer_types");
    int any_sliding = max_window_layers < c->num_hidden_layers;
    if (types) {
        any_sliding = 0;
        for (const cJSON *t = cJSON_IsArray(types) ? types->child : NULL; t; t = t->next)
            any_sliding |= cJSON_IsString(t) && strcmp(t->valuestring, "sliding_attention") == 0;
    }
    c->sliding_window = any_sliding ? window : 0;
    return VKQ_OK;
}

static vkq_status parse_config(const fields *f, vkq_hf_config *c)
{
    VKQ_TRY(get_arch(f, &c->arch));
    VKQ_TRY(refuse_unsupported(f));
    VKQ_TRY(get_shape(f, c));
    VKQ_TRY(get_positive(f, "rms_norm_eps", 1e-6, &c->rms_norm_eps));
    VKQ_TRY(get_rope(f, c));
    VKQ_TRY(get_bool(f, "tie_word_embeddings", 0, &c->tie_word_embeddings));
    int attention_bias = 0;
    if (c->arch == VKQ_HF_LLAMA || c->arch == VKQ_HF_QWEN3)
        VKQ_TRY(get_bool(f, "attention_bias", 0, &attention_bias));
    c->qkv_bias = c->arch == VKQ_HF_QWEN2 || attention_bias;
    c->o_bias = attention_bias;
    c->qk_norm = c->arch == VKQ_HF_QWEN3;
    VKQ_TRY(get_sliding_window(f, c));
    VKQ_TRY(get_dtype(f, &c->torch_dtype));
    return get_tokens(f, &c->tokens);
}

vkq_status vkq_hf_config_parse(const char *path, const char *text, size_t length,
                               vkq_hf_config *out)
{
    *out = (vkq_hf_config){0};
    cJSON *root;
    vkq_status s = vkq_json_object_parse(path, "the file", text, length, &root);
    if (s == VKQ_OK)
        s = parse_config(&(fields){path, root, ""}, out);
    cJSON_Delete(root);
    return s;
}

vkq_status vkq_hf_generation_parse(const char *path, const char *text, size_t length,
                                   vkq_hf_tokens *out)
{
    *out = (vkq_hf_tokens){0};
    cJSON *root;
    vkq_status s = vkq_json_object_parse(path, "the file", text, length, &root);
    if (s == VKQ_OK)
        s = get_tokens(&(fields){path, root, ""}, out);
    cJSON_Delete(root);
    return s;
}

vkq_status vkq_hf_config_load(const char *path, vkq_hf_config *out)
{
    vkq_mapped_file m;
    VKQ_TRY(vkq_map_file(path, &m));
    vkq_status s = vkq_hf_config_parse(path, (const char *)m.data, m.size, out);
    vkq_unmap_file(&m);
    return s;
}

vkq_status vkq_hf_generation_load(const char *path, vkq_hf_tokens *out)
{
    vkq_mapped_file m;
    VKQ_TRY(vkq_map_file(path, &m));
    vkq_status s = vkq_hf_generation_parse(path, (const char *)m.data, m.size, out);
    vkq_unmap_file(&m);
    return s;
}

vkq_status vkq_hf_config_check_context(const vkq_hf_config *c, const char *path, int context)
{
    if (c->sliding_window > 0 && c->sliding_window < context)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: field \"sliding_window\" is %d: smaller than "
                        "the context of %d tokens, and sliding-window attention is not "
                        "supported", path, c->sliding_window, context);
    return VKQ_OK;
}
