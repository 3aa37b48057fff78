/* One table of options serves defaults, the JSON configuration file, the flags and the
 * resolved configuration a run directory keeps. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/text.h"
#include "train/train_internal.h"
#include "vkquill/model_file.h"
#include "vkquill/peft.h"

typedef enum opt_type { OPT_TEXT, OPT_WORD, OPT_U32, OPT_F32, OPT_BOOL } opt_type;

typedef struct option {
    const char *key;
    opt_type type;
    size_t offset;
    const char *choices; /* OPT_WORD: the accepted words, space separated */
    size_t size;         /* OPT_TEXT: the field's bytes */
    int empty_ok;        /* OPT_WORD: "" is allowed too (the method's own choice) */
} option;

#define TEXT(f) {#f, OPT_TEXT, offsetof(vkq_train_config, f), NULL, \
                 sizeof(((vkq_train_config *)0)->f), 0}
#define WORD(f, choices) {#f, OPT_WORD, offsetof(vkq_train_config, f), choices, 0, 0}
#define WORD_OR_EMPTY(f, choices) {#f, OPT_WORD, offsetof(vkq_train_config, f), choices, 0, 1}
#define U32(f) {#f, OPT_U32, offsetof(vkq_train_config, f), NULL, 0, 0}
#define F32(f) {#f, OPT_F32, offsetof(vkq_train_config, f), NULL, 0, 0}
#define BOOL(f) {#f, OPT_BOOL, offsetof(vkq_train_config, f), NULL, 0, 0}

static const option options[] = {
    TEXT(model), TEXT(tokenizer), TEXT(data), TEXT(val), TEXT(out), TEXT(ref_model),
    {"template", OPT_TEXT, offsetof(vkq_train_config, template_path), NULL, VKQ_PATH_MAX, 0},
    WORD(method, "sft mce dce nextquill"), WORD(dce, "dynamic fixed"),
    WORD_OR_EMPTY(weights, "threshold js uniform"), WORD_OR_EMPTY(align, "ce kl"),
    WORD(schedule, "linear cosine constant"),
    WORD(chat_template, "auto none chatml llama3 inst"),
    BOOL(align_weighted), BOOL(skip_bad), BOOL(resume),
    F32(alpha), F32(delta), F32(lambda), F32(eps),
    F32(lr), F32(weight_decay), F32(beta1), F32(beta2), F32(adam_eps), F32(warmup), F32(clip),
    U32(steps), U32(batch), U32(accum), U32(seed),
    U32(history_k), U32(max_prompt_tokens), U32(max_target_tokens),
    U32(log_every), U32(save_every), U32(probe_every),
    U32(lora_r), F32(lora_alpha), F32(lora_dropout), TEXT(lora_targets),
    TEXT(adapter),
    WORD(recompute, "none layers"), WORD(base_dtype, "auto f32 bf16 f16"),
};
enum { OPTION_COUNT = sizeof options / sizeof options[0] };

void vkq_train_config_defaults(vkq_train_config *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->method, "nextquill");
    strcpy(c->dce, "dynamic");
    strcpy(c->schedule, "linear");
    strcpy(c->chat_template, "auto");
    c->alpha = 0.1f;
    c->delta = 0.05f;
    c->lambda = 0.9f;
    c->eps = 0.1f;
    c->lr = 5e-4f;
    c->weight_decay = 0.025f;
    c->beta1 = 0.9f;
    c->beta2 = 0.95f;
    c->adam_eps = 1e-8f;
    c->warmup = 0.01f;
    c->clip = 1.0f;
    c->steps = 100;
    c->batch = 4;
    c->accum = 1;
    c->seed = 1;
    c->history_k = 8;
    c->max_prompt_tokens = 384;
    c->max_target_tokens = 64;
    c->log_every = 1;
    c->lora_alpha = 16.0f;
    strcpy(c->lora_targets, "q,v");
    strcpy(c->recompute, "none");
    strcpy(c->base_dtype, "auto");
}

vkq_status vkq_train_config_check_base(const vkq_train_config *c)
{
    int sixteen = strcmp(c->base_dtype, "bf16") == 0 || strcmp(c->base_dtype, "f16") == 0;
    if (sixteen && !c->lora_r && !c->adapter[0])
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "--base-dtype %s needs LoRA (--lora-r "
                        "> 0): full fine-tuning keeps fp32 master weights", c->base_dtype);
    return VKQ_OK;
}

vkq_dtype vkq_train_config_base_dtype(const vkq_train_config *c, vkq_dtype checkpoint)
{
    if ((!c->lora_r && !c->adapter[0]) || strcmp(c->base_dtype, "f32") == 0)
        return VKQ_F32;
    if (strcmp(c->base_dtype, "auto") == 0)
        return checkpoint;
    return strcmp(c->base_dtype, "bf16") == 0 ? VKQ_BF16 : VKQ_F16;
}

/* The adapter's r, alpha and targets, the run's dropout; the run's own when it names any. */
static vkq_status lora_of_adapter(const vkq_train_config *c, vkq_lora_options *out)
{
    vkq_lora_options a;
    VKQ_TRY(vkq_peft_read_config(c->adapter, &a));
    if (out->r && (out->r != a.r || out->alpha != a.alpha || out->targets != a.targets))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "train: --lora-r %u, --lora-alpha %g and "
                        "--lora-targets %s differ from the adapter %s (r %u, lora_alpha %g); "
                        "leave them out to take the adapter's", out->r, out->alpha,
                        c->lora_targets, c->adapter, a.r, a.alpha);
    a.dropout = c->lora_dropout;
    *out = a;
    return vkq_lora_check(out);
}

vkq_status vkq_train_config_lora(const vkq_train_config *c, vkq_lora_options *out)
{
    *out = (vkq_lora_options){.r = c->lora_r, .alpha = c->lora_alpha,
                              .dropout = c->lora_dropout};
    if (c->lora_r)
        VKQ_TRY(vkq_lora_parse_targets(c->lora_targets, &out->targets));
    if (c->adapter[0])
        return lora_of_adapter(c, out);
    return c->lora_r ? vkq_lora_check(out) : VKQ_OK;
}

static const option *find(const char *key)
{
    for (int i = 0; i < OPTION_COUNT; i++)
        if (strcmp(options[i].key, key) == 0)
            return &options[i];
    return NULL;
}

int vkq_train_config_has(const char *key, int *is_flag)
{
    const option *o = find(key);
    if (o && is_flag)
        *is_flag = o->type == OPT_BOOL;
    return o != NULL;
}

static int word_allowed(const char *choices, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = choices; *p;) {
        size_t len = strcspn(p, " ");
        if (len == n && strncmp(p, word, n) == 0)
            return 1;
        p += len + (p[len] == ' ');
    }
    return 0;
}

static vkq_status set_value(vkq_train_config *c, const option *o, const char *value,
                            const char *where)
{
    char *field = (char *)c + o->offset, *end;
    errno = 0;
    switch (o->type) {
    case OPT_TEXT:
        if (strlen(value) >= o->size)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: %s is too long (%zu bytes, at most %zu)",
                            where, o->key, strlen(value), o->size - 1);
        strcpy(field, value);
        return VKQ_OK;
    case OPT_WORD:
        if (!word_allowed(o->choices, value) && !(o->empty_ok && !value[0]))
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: %s must be one of %s%s, not '%s'",
                            where, o->key, o->choices,
                            o->empty_ok ? " or \"\" (the method's own)" : "",
                            VKQ_QUOTE(value));
        strcpy(field, value);
        return VKQ_OK;
    case OPT_U32: {
        unsigned long long v = strtoull(value, &end, 10);
        if (errno || *end || end == value || value[0] == '-' || v > UINT32_MAX)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                            "%s: %s expects an integer from 0 to %u, got '%s'", where, o->key,
                            UINT32_MAX, VKQ_QUOTE(value));
        *(uint32_t *)field = (uint32_t)v;
        return VKQ_OK;
    }
    case OPT_F32: {
        float v = strtof(value, &end);
        if (errno || *end || end == value || !isfinite(v))
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: %s expects a number, got '%s'", where,
                            o->key, VKQ_QUOTE(value));
        *(float *)field = v;
        return VKQ_OK;
    }
    case OPT_BOOL:
        if (strcmp(value, "true") && strcmp(value, "false") && strcmp(value, "1") &&
            strcmp(value, "0"))
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: %s expects true or false, got '%s'",
                            where, o->key, VKQ_QUOTE(value));
        *(int *)field = strcmp(value, "true") == 0 || strcmp(value, "1") == 0;
        return VKQ_OK;
    }
    return VKQ_OK;
}

vkq_status vkq_train_config_set(vkq_train_config *c, const char *key, const char *value,
                                const char *where)
{
    const option *o = find(key);
    if (!o)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: unknown option '%s'", where,
                        VKQ_QUOTE(key));
    return set_value(c, o, value, where);
}

/* A JSON value as the text a flag would carry: a string as it is, anything else written into
 * buf. */
static vkq_status json_text(const cJSON *item, const option *o, const char *path, char *buf,
                            size_t size, const char **text)
{
    double v = item->valuedouble;
    const char *want = NULL;
    *text = buf;
    if (o->type == OPT_TEXT || o->type == OPT_WORD) {
        want = cJSON_IsString(item) ? NULL : "a string";
        *text = item->valuestring;
    } else if (o->type == OPT_BOOL) {
        want = cJSON_IsBool(item) ? NULL : "true or false";
        snprintf(buf, size, "%s", cJSON_IsTrue(item) ? "true" : "false");
    } else if (o->type == OPT_U32) {
        int whole = cJSON_IsNumber(item) && v >= 0 && v <= UINT32_MAX && v == floor(v);
        want = whole ? NULL : "a number (a whole one, 0 to 4294967295)";
        snprintf(buf, size, "%.0f", v);
    } else {
        want = cJSON_IsNumber(item) ? NULL : "a number";
        snprintf(buf, size, "%.9g", v);
    }
    if (want)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: \"%s\" must be %s", path, o->key, want);
    return VKQ_OK;
}

static vkq_status load_options(vkq_train_config *c, const char *path, const cJSON *root)
{
    if (!cJSON_IsObject(root))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: the configuration must be a JSON object", path);
    for (const cJSON *item = root->child; item; item = item->next) {
        const option *o = find(item->string);
        if (!o)
            return vkq_fail(VKQ_ERR_FORMAT, "%s: unknown option \"%s\"", path,
                            VKQ_QUOTE(item->string));
        char buf[64];
        const char *text;
        VKQ_TRY(json_text(item, o, path, buf, sizeof buf, &text));
        VKQ_TRY(set_value(c, o, text, path));
    }
    return VKQ_OK;
}

vkq_status vkq_train_config_load(vkq_train_config *c, const char *path)
{
    char *text = NULL;
    size_t length = 0;
    cJSON *root = NULL;
    VKQ_TRY(vkq_read_text_file(path, &text, &length));
    vkq_status s = vkq_parse_json(path, 1, text, length, &root);
    free(text);
    if (s == VKQ_OK)
        s = load_options(c, path, root);
    cJSON_Delete(root);
    return s;
}

vkq_status vkq_train_config_check(const vkq_train_config *c)
{
    const char *missing = !c->model[0] ? "model"
                          : !vkq_model_tokenizer_path(c->model, c->tokenizer) ? "tokenizer"
                          : !c->data[0] ? "data" : !c->out[0] ? "out" : NULL;
    if (missing)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "train: --%s is required (or \"%s\" in the "
                        "configuration file)", missing, missing);
    if (c->steps == 0 || c->batch == 0 || c->accum == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "train: steps, batch and accum must be positive");
    vkq_causal_loss_args loss;
    train_loss_args(c, &loss);
    vkq_lora_options lora;
    VKQ_TRY(vkq_train_config_lora(c, &lora));
    /* under LoRA the frozen base, adapters off, is the fixed DCE's reference */
    int base_is_reference = lora.r && loss.align != VKQ_ALIGN_KL;
    if ((loss.dce_fixed || loss.align == VKQ_ALIGN_KL) && !c->ref_model[0] && !base_is_reference)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "train: --%s with --method %s needs a "
                        "reference model (--ref-model)",
                        loss.dce_fixed ? "dce fixed" : "align kl", c->method);
    VKQ_TRY(vkq_train_config_check_base(c));
    if (!(c->lr > 0) || c->warmup < 0 || c->warmup >= 1 || c->clip < 0 || c->alpha < 0 ||
        !(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "train: lr must be > 0, warmup in [0, 1), clip and alpha >= 0, betas in "
                        "[0, 1)");
    return VKQ_OK;
}

static cJSON *option_json(const vkq_train_config *c, const option *o)
{
    const char *field = (const char *)c + o->offset;
    switch (o->type) {
    case OPT_TEXT:
    case OPT_WORD: return cJSON_CreateString(field);
    case OPT_U32: return cJSON_CreateNumber(*(const uint32_t *)field);
    case OPT_F32: return cJSON_CreateNumber(*(const float *)field);
    case OPT_BOOL: return cJSON_CreateBool(*(const int *)field);
    }
    return NULL;
}

static vkq_status write_text(const char *path, FILE *f, void *user)
{
    const char *text = user;
    VKQ_TRY(vkq_write_bytes(path, f, text, 1, strlen(text)));
    return vkq_write_bytes(path, f, "\n", 1, 1);
}

vkq_status vkq_train_config_save(const vkq_train_config *c, const char *path)
{
    cJSON *root = cJSON_CreateObject();
    for (int i = 0; i < OPTION_COUNT; i++)
        cJSON_AddItemToObject(root, options[i].key, option_json(c, &options[i]));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_status s = vkq_write_atomic(path, write_text, text);
    free(text);
    return s;
}
