/* The adapter block written as a PEFT LoRA adapter directory. */
#include "vkquill/peft.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/file.h"
#include "base/status_internal.h"
#include "model/safetensors_internal.h"

/* A float as the shortest decimal that reads back to it (0.05, not 0.0500000007). */
static double shortest(float value)
{
    char text[32];
    for (int digits = 6; digits < 10; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, value);
        if ((float)strtod(text, NULL) == value)
            break;
    }
    return strtod(text, NULL);
}

/* The fields peft's LoraConfig.save_pretrained writes, sorted by key as it sorts them. */
static cJSON *config_json(const vkq_lora_options *o, const char *base_model)
{
    cJSON *c = cJSON_CreateObject(), *targets = cJSON_CreateArray();
    for (unsigned i = 0; i < VKQ_LORA_TARGET_COUNT; i++)
        if (o->targets >> vkq_lora_target_tensor(i) & 1)
            cJSON_AddItemToArray(targets, cJSON_CreateString(
                                              strrchr(vkq_lora_target_module(i), '.') + 1));
    cJSON_AddObjectToObject(c, "alpha_pattern");
    cJSON_AddNullToObject(c, "auto_mapping");
    cJSON_AddStringToObject(c, "base_model_name_or_path", base_model);
    cJSON_AddStringToObject(c, "bias", "none");
    cJSON_AddNullToObject(c, "exclude_modules");
    cJSON_AddFalseToObject(c, "fan_in_fan_out");
    cJSON_AddTrueToObject(c, "inference_mode");
    cJSON_AddTrueToObject(c, "init_lora_weights");
    cJSON_AddNullToObject(c, "layer_replication");
    cJSON_AddNullToObject(c, "layers_pattern");
    cJSON_AddNullToObject(c, "layers_to_transform");
    cJSON_AddObjectToObject(c, "loftq_config");
    cJSON_AddNumberToObject(c, "lora_alpha", shortest(o->alpha));
    cJSON_AddFalseToObject(c, "lora_bias");
    cJSON_AddNumberToObject(c, "lora_dropout", shortest(o->dropout));
    cJSON_AddNullToObject(c, "megatron_config");
    cJSON_AddStringToObject(c, "megatron_core", "megatron.core");
    cJSON_AddNullToObject(c, "modules_to_save");
    cJSON_AddStringToObject(c, "peft_type", "LORA");
    cJSON_AddNumberToObject(c, "r", o->r);
    cJSON_AddObjectToObject(c, "rank_pattern");
    cJSON_AddNullToObject(c, "revision");
    cJSON_AddItemToObject(c, "target_modules", targets);
    cJSON_AddStringToObject(c, "task_type", "CAUSAL_LM");
    cJSON_AddFalseToObject(c, "use_dora");
    cJSON_AddFalseToObject(c, "use_rslora");
    return c;
}

static vkq_status write_text(const char *path, FILE *f, void *user)
{
    const char *text = user;
    return vkq_write_bytes(path, f, text, 1, strlen(text));
}

static vkq_status write_config(const char *dir, const vkq_lora_options *o, const char *base_model)
{
    cJSON *c = config_json(o, base_model);
    char *text = c ? cJSON_Print(c) : NULL, *path = vkq_st_join(dir, "adapter_config.json");
    vkq_status s = text && path ? vkq_write_atomic(path, write_text, text)
                                : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: out of host memory", dir);
    free(path);
    free(text);
    cJSON_Delete(c);
    return s;
}

/* Every target's A and B for every layer, in fp32, named as peft names them. */
static vkq_status write_tensors(const char *dir, const vkq_llama_config *c,
                                const vkq_lora_options *o, const float *adapter)
{
    vkq_llama_tensors ts;
    vkq_lora_layout lay;
    vkq_llama_tensors_of(c, &ts);
    vkq_lora_layout_of(c, o, &lay);
    size_t n = 0, max = 2 * (size_t)VKQ_LORA_TARGET_COUNT * c->n_layers;
    vkq_st_write_tensor *w = calloc(max, sizeof *w);
    char(*names)[160] = calloc(max, sizeof *names);
    char *path = vkq_st_join(dir, "adapter_model.safetensors");
    vkq_status s = w && names && path ? VKQ_OK
                                      : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: out of memory", dir);
    for (unsigned i = 0; i < VKQ_LORA_TARGET_COUNT && s == VKQ_OK; i++) {
        vkq_tensor_id id = vkq_lora_target_tensor(i);
        const vkq_tensor *t = &ts.t[id];
        if (!(o->targets >> id & 1))
            continue;
        for (uint32_t l = 0; l < t->layers; l++) {
            vkq_peft_tensor_name(i, l, 'A', names[n], sizeof names[n]);
            w[n] = (vkq_st_write_tensor){.name = names[n], .dtype = VKQ_ST_F32, .rank = 2,
                                         .shape = {o->r, t->cols},
                                         .data = adapter + lay.a[id] + (size_t)l * o->r * t->cols};
            n++;
            vkq_peft_tensor_name(i, l, 'B', names[n], sizeof names[n]);
            w[n] = (vkq_st_write_tensor){.name = names[n], .dtype = VKQ_ST_F32, .rank = 2,
                                         .shape = {t->rows, o->r},
                                         .data = adapter + lay.b[id] + (size_t)l * t->rows * o->r};
            n++;
        }
    }
    if (s == VKQ_OK)
        s = vkq_st_write_file(path, w, n, NULL, 0);
    free(path);
    free(names);
    free(w);
    return s;
}

typedef struct adapter_contents {
    const vkq_llama_config *c;
    const vkq_lora_options *o;
    const float *adapter;
    const char *base_model;
} adapter_contents;

static vkq_status write_dir(const char *tmp, void *user)
{
    const adapter_contents *a = user;
    VKQ_TRY(write_tensors(tmp, a->c, a->o, a->adapter));
    return write_config(tmp, a->o, a->base_model);
}

vkq_status vkq_peft_write(const char *dir, const vkq_llama_config *c, const vkq_lora_options *o,
                          const float *adapter, const char *base_model)
{
    VKQ_TRY(vkq_lora_check(o));
    if (!o->r)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: no adapters to write (r 0)", dir);
    adapter_contents a = {c, o, adapter, base_model};
    return vkq_write_dir_atomic(dir, "adapter_config.json", "an adapter directory", write_dir, &a);
}
