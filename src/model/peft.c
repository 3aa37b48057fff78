/* PEFT LoRA adapter directories read into the adapter block; folding one into a base. */
#include "vkquill/peft.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_text.h"
#include "base/mapped.h"
#include "base/status_internal.h"
#include "model/safetensors_internal.h"

int vkq_peft_tensor_name(unsigned i, uint32_t l, char which, char *name, size_t size)
{
    int n = snprintf(name, size, "base_model.model.model.layers.%u.%s.lora_%c.weight", l,
                     vkq_lora_target_module(i), which);
    return n > 0 && (size_t)n < size;
}

static vkq_status read_json(const char *dir, cJSON **out)
{
    *out = NULL;
    if (!vkq_model_path_is_dir(dir))
        return vkq_fail(VKQ_ERR_IO, "%s: not an adapter directory", dir);
    char *path = vkq_st_join(dir, "adapter_config.json");
    if (!path)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", dir);
    vkq_mapped_file m = {0};
    vkq_status s = vkq_map_file(path, &m);
    if (s != VKQ_OK)
        s = vkq_fail(VKQ_ERR_IO, "%s: cannot read adapter_config.json", dir);
    else
        s = vkq_json_object_parse(path, "the adapter config", (const char *)m.data, m.size, out);
    vkq_unmap_file(&m);
    free(path);
    return s;
}

/* A module name as target_modules gives it: "q_proj" or a path ending in ".q_proj". */
static int target_of(const char *module, uint32_t *targets)
{
    for (unsigned i = 0; i < VKQ_LORA_TARGET_COUNT; i++) {
        const char *full = vkq_lora_target_module(i), *last = strrchr(full, '.') + 1;
        size_t n = strlen(module), m = strlen(last);
        if (strcmp(module, last) == 0 || strcmp(module, full) == 0 ||
            (n > m && module[n - m - 1] == '.' && strcmp(module + n - m, last) == 0)) {
            *targets |= 1u << vkq_lora_target_tensor(i);
            return 1;
        }
    }
    return 0;
}

static vkq_status parse_targets(const char *dir, const cJSON *list, uint32_t *targets)
{
    *targets = 0;
    if (cJSON_IsString(list)) {
        if (strcmp(list->valuestring, "all-linear") != 0)
            return vkq_fail(VKQ_ERR_FORMAT, "%s: target_modules '%.64s' is a pattern; only a list "
                            "of modules or \"all-linear\" is supported", dir, list->valuestring);
        return vkq_lora_parse_targets("all-linear", targets);
    }
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: target_modules must be a non-empty list of module "
                        "names", dir);
    const cJSON *item;
    cJSON_ArrayForEach(item, list) {
        if (!cJSON_IsString(item))
            return vkq_fail(VKQ_ERR_FORMAT, "%s: target_modules holds a non-string", dir);
        if (!target_of(item->valuestring, targets))
            return vkq_fail(VKQ_ERR_FORMAT, "%s: target module '%.64s' is not in the model (it "
                            "has q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)",
                            dir, item->valuestring);
    }
    return VKQ_OK;
}

static int is_true(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* Keys that would change what the adapter computes, present with other than their plain value. */
static vkq_status check_plain(const char *dir, const cJSON *o)
{
    static const char *const unsupported[] = {"use_rslora", "use_dora", "fan_in_fan_out"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        if (is_true(o, unsupported[i]))
            return vkq_fail(VKQ_ERR_FORMAT, "%s: %s true is not supported", dir, unsupported[i]);
    const cJSON *bias = cJSON_GetObjectItemCaseSensitive(o, "bias");
    if (bias && !(cJSON_IsString(bias) && strcmp(bias->valuestring, "none") == 0))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: bias must be \"none\"; adapters with trained biases "
                        "are not supported", dir);
    static const char *const absent[] = {"layers_to_transform", "modules_to_save", "rank_pattern",
                                         "alpha_pattern"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, absent[i]);
        if (v && !cJSON_IsNull(v) && !((cJSON_IsObject(v) || cJSON_IsArray(v)) && !v->child))
            return vkq_fail(VKQ_ERR_FORMAT, "%s: %s is not supported; it must be null or empty",
                            dir, absent[i]);
    }
    return VKQ_OK;
}

static vkq_status parse_config(const char *dir, const cJSON *o, vkq_lora_options *out)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "peft_type");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "LORA") != 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: peft_type must be \"LORA\"", dir);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "r");
    const cJSON *alpha = cJSON_GetObjectItemCaseSensitive(o, "lora_alpha");
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(o, "lora_dropout");
    if (!cJSON_IsNumber(r) || r->valuedouble != floor(r->valuedouble) || r->valuedouble < 1 ||
        r->valuedouble > 4096)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: r must be an integer in [1, 4096]", dir);
    if (!cJSON_IsNumber(alpha) || !(alpha->valuedouble > 0) || !isfinite(alpha->valuedouble))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: lora_alpha must be a positive number", dir);
    if (dropout && !cJSON_IsNumber(dropout))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: lora_dropout must be a number", dir);
    VKQ_TRY(check_plain(dir, o));
    *out = (vkq_lora_options){.r = (uint32_t)r->valuedouble, .alpha = (float)alpha->valuedouble,
                              .dropout = dropout ? (float)dropout->valuedouble : 0.0f};
    VKQ_TRY(parse_targets(dir, cJSON_GetObjectItemCaseSensitive(o, "target_modules"),
                          &out->targets));
    vkq_status s = vkq_lora_check(out);
    if (s != VKQ_OK) {
        char what[256];
        snprintf(what, sizeof what, "%s", vkq_last_error());
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %s", dir, what);
    }
    return VKQ_OK;
}

vkq_status vkq_peft_read_config(const char *dir, vkq_lora_options *out)
{
    cJSON *o;
    VKQ_TRY(read_json(dir, &o));
    vkq_status s = parse_config(dir, o, out);
    cJSON_Delete(o);
    return s;
}

/* One stored A or B of a target's layer: its shape, a float dtype, into out. */
static vkq_status read_tensor(const char *dir, const vkq_st_file *f, const char *name,
                              uint64_t rows, uint64_t cols, float *out)
{
    const vkq_st_tensor *t = vkq_st_find(f, name);
    if (!t)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: adapter_model.safetensors lacks %s", dir, name);
    if (!vkq_st_dtype_is_float(t->dtype))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %s is %s; F32, F16 or BF16 expected", dir, name,
                        vkq_st_dtype_name(t->dtype));
    if (t->rank != 2 || t->shape[0] != rows || t->shape[1] != cols)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %s should be [%llu, %llu]", dir, name,
                        (unsigned long long)rows, (unsigned long long)cols);
    return vkq_st_to_f32(t, 0, (size_t)t->count, out);
}

static vkq_status read_tensors(const char *dir, const vkq_st_file *f, const vkq_llama_config *c,
                               const vkq_lora_options *o, float *values)
{
    vkq_llama_tensors ts;
    vkq_lora_layout lay;
    vkq_llama_tensors_of(c, &ts);
    vkq_lora_layout_of(c, o, &lay);
    size_t expected = 0;
    char name[160];
    for (unsigned i = 0; i < VKQ_LORA_TARGET_COUNT; i++) {
        vkq_tensor_id id = vkq_lora_target_tensor(i);
        const vkq_tensor *t = &ts.t[id];
        if (!(o->targets >> id & 1))
            continue;
        for (uint32_t l = 0; l < t->layers; l++, expected += 2) {
            vkq_peft_tensor_name(i, l, 'A', name, sizeof name);
            VKQ_TRY(read_tensor(dir, f, name, o->r, t->cols,
                                values + lay.a[id] + (size_t)l * o->r * t->cols));
            vkq_peft_tensor_name(i, l, 'B', name, sizeof name);
            VKQ_TRY(read_tensor(dir, f, name, t->rows, o->r,
                                values + lay.b[id] + (size_t)l * t->rows * o->r));
        }
    }
    if (vkq_st_count(f) == expected)
        return VKQ_OK;
    for (size_t k = 0; k < vkq_st_count(f); k++) {
        const char *stored = vkq_st_at(f, k)->name;
        int known = 0;
        for (unsigned i = 0; i < VKQ_LORA_TARGET_COUNT && !known; i++)
            for (uint32_t l = 0; l < ts.t[vkq_lora_target_tensor(i)].layers && !known; l++)
                for (char w = 'A'; w <= 'B' && !known; w++)
                    known = o->targets >> vkq_lora_target_tensor(i) & 1 &&
                            vkq_peft_tensor_name(i, l, w, name, sizeof name) &&
                            strcmp(name, stored) == 0;
        if (!known) {
            char shown[VKQ_ST_SHOWN];
            return vkq_fail(VKQ_ERR_FORMAT, "%s: unexpected tensor %s (not an adapter of the "
                            "configured targets of this model)", dir, vkq_st_shown(stored, shown));
        }
    }
    return VKQ_OK;
}

vkq_status vkq_peft_read(const char *dir, const vkq_llama_config *c, vkq_peft_adapter *out)
{
    memset(out, 0, sizeof *out);
    VKQ_TRY(vkq_peft_read_config(dir, &out->lora));
    vkq_lora_layout lay;
    vkq_lora_layout_of(c, &out->lora, &lay);
    char *path = vkq_st_join(dir, "adapter_model.safetensors");
    out->values = malloc((lay.total ? lay.total : 1) * sizeof *out->values);
    if (!path || !out->values) {
        free(path);
        vkq_peft_free(out);
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: out of host memory", dir);
    }
    vkq_st_file *f = NULL;
    vkq_status s = vkq_st_open(path, &f);
    if (s == VKQ_OK)
        s = read_tensors(dir, f, c, &out->lora, out->values);
    vkq_st_close(f);
    free(path);
    if (s != VKQ_OK)
        vkq_peft_free(out);
    return s;
}

void vkq_peft_free(vkq_peft_adapter *a)
{
    free(a->values);
    a->values = NULL;
}

vkq_status vkq_peft_merged_params(vkq_model_file *base, const char *dir, float **params)
{
    const vkq_llama_config *c = vkq_model_file_config(base);
    vkq_peft_adapter a;
    VKQ_TRY(vkq_peft_read(dir, c, &a));
    vkq_tensor_source weights = vkq_model_file_weights(base);
    vkq_status s = vkq_tensor_source_read_all(c, &weights, params);
    if (s == VKQ_OK)
        vkq_lora_merge(c, &a.lora, a.values, *params);
    vkq_peft_free(&a);
    return s;
}

vkq_status vkq_peft_weights(vkq_model_file *base, const char *dir, vkq_flat_weights *flat,
                            float **merged, vkq_tensor_source *out)
{
    *merged = NULL;
    if (!dir || !dir[0]) {
        *out = vkq_model_file_weights(base);
        return VKQ_OK;
    }
    VKQ_TRY(vkq_peft_merged_params(base, dir, merged));
    *out = vkq_flat_source(flat, vkq_model_file_config(base), *merged);
    return VKQ_OK;
}
