/* vkquill plan: the device memory a training run would take, by part, from the model's shape
 * alone (no weights are read), and whether it fits each Vulkan heap present or the heaps
 * asked for. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/status_internal.h"
#include "base/text.h"
#include "cli/cli.h"
#include "vkquill/hf_model.h"
#include "vkquill/llama2c.h"
#include "vkquill/train.h"

typedef struct plan_args {
    const char *model, *method, *lora_targets, *recompute, *base_dtype, *variant, *heaps;
    uint32_t batch, seq, max_prompt, max_target, lora_r;
    float lora_alpha, lora_dropout;
    int json;
} plan_args;

/* M.bin (a llama2.c checkpoint), a Hugging Face directory or its config.json. */
/* The description and the device dtype of the stored weights (what --base-dtype auto keeps). */
static vkq_status read_shape(const char *path, vkq_llama_config *c, vkq_dtype *stored)
{
    *stored = VKQ_F32;
    struct stat st;
    if (stat(path, &st) != 0)
        return vkq_fail(VKQ_ERR_IO, "plan: %s: no such file or directory", path);
    size_t len = strlen(path);
    int json = len > 5 && strcmp(path + len - 5, ".json") == 0;
    if (!S_ISDIR(st.st_mode) && !json) { /* mapped, never read */
        vkq_llama2c_file *f;
        VKQ_TRY(vkq_llama2c_open(path, &f));
        *c = *vkq_llama2c_config(f);
        vkq_llama2c_close(f);
        return VKQ_OK;
    }
    char config[VKQ_PATH_MAX + 16];
    snprintf(config, sizeof config, S_ISDIR(st.st_mode) ? "%s/config.json" : "%s", path);
    vkq_hf_config h;
    VKQ_TRY(vkq_hf_config_load(config, &h));
    *stored = vkq_st_device_dtype(h.torch_dtype);
    return vkq_hf_config_describe(config, &h, c);
}

static vkq_status to_train_config(const plan_args *a, vkq_train_config *c)
{
    vkq_train_config_defaults(c);
    c->batch = a->batch ? a->batch : c->batch;
    if (a->method)
        VKQ_TRY(vkq_train_config_set(c, "method", a->method, "--method"));
    if (a->recompute)
        VKQ_TRY(vkq_train_config_set(c, "recompute", a->recompute, "--recompute"));
    if (a->lora_targets)
        VKQ_TRY(vkq_train_config_set(c, "lora_targets", a->lora_targets, "--lora-targets"));
    if (a->base_dtype)
        VKQ_TRY(vkq_train_config_set(c, "base_dtype", a->base_dtype, "--base-dtype"));
    if (a->max_target)
        c->max_target_tokens = a->max_target;
    if (a->max_prompt)
        c->max_prompt_tokens = a->max_prompt;
    if (a->seq && a->max_prompt)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "plan: give --seq or --max-prompt-tokens, not both");
    if (a->seq && a->seq <= c->max_target_tokens + 1)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "plan: --seq %u leaves no room for a prompt "
                        "before %u target tokens and EOS", a->seq, c->max_target_tokens);
    if (a->seq)
        c->max_prompt_tokens = a->seq - c->max_target_tokens - 1;
    c->lora_r = a->lora_r;
    c->lora_alpha = isnan(a->lora_alpha) ? c->lora_alpha : a->lora_alpha;
    c->lora_dropout = a->lora_dropout;
    vkq_lora_options lora;
    return vkq_train_config_lora(c, &lora);
}

typedef struct heap_check {
    char name[300];
    uint64_t bytes;
} heap_check;

enum { MAX_CHECKS = 16 };

/* The kernels a run on d would pick. */
static vkq_scratch_target target_of(const vkq_device_info *d)
{
    return (vkq_scratch_target){d->type == VKQ_DEVICE_CPU ? VKQ_VARIANT_CPU : VKQ_VARIANT_GPU,
                                d->subgroup_size, d->max_texel_buffer_elements,
                                d->max_storage_buffer_range, vkq_device_max_binding(d)};
}

/* --heap-gib 8,16,32, else the heaps of every device present. Without a device, the limits of
 * a common GPU: 4 GiB storage bindings and allocations, 2^27 texels, subgroups of 32. */
static vkq_status heaps_to_check(const plan_args *a, heap_check *out, uint32_t *n,
                                 vkq_scratch_target *target)
{
    *n = 0;
    vkq_device_info gpu = {.type = VKQ_DEVICE_DISCRETE, .subgroup_size = 32,
                           .max_texel_buffer_elements = 1u << 27,
                           .max_storage_buffer_range = UINT32_MAX,
                           .max_allocation_size = 1ull << 32};
    *target = target_of(&gpu);
    vkq_device_info devices[8];
    uint32_t count = 0;
    int have_devices = !a->heaps && vkq_enumerate_devices(devices, 8, &count) == VKQ_OK;
    uint32_t chosen;
    if (have_devices && vkq_pick_device(devices, count < 8 ? count : 8, NULL, &chosen) == VKQ_OK)
        *target = target_of(&devices[chosen]); /* the device a run would take */
    for (uint32_t d = 0; have_devices && d < count && d < 8; d++) {
        for (uint32_t h = 0; h < devices[d].heap_count && *n < MAX_CHECKS; h++, ++*n) {
            snprintf(out[*n].name, sizeof out[*n].name, "device %u (%s) heap %u", d,
                     devices[d].name, h);
            out[*n].bytes = devices[d].heap_size[h];
        }
    }
    for (const char *p = a->heaps; p && *p && *n < MAX_CHECKS; ++*n) {
        char *end;
        double gib = strtod(p, &end);
        if (end == p || gib <= 0 || (*end && *end != ','))
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                            "plan: --heap-gib expects sizes in GiB like 8,16,32, got '%s'",
                            VKQ_QUOTE(a->heaps));
        snprintf(out[*n].name, sizeof out[*n].name, "%g GiB", gib);
        out[*n].bytes = (uint64_t)(gib * 1073741824.0);
        p = *end ? end + 1 : end;
    }
    if (a->variant && strcmp(a->variant, "cpu") && strcmp(a->variant, "gpu"))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "plan: --variant expects cpu or gpu, got '%s'",
                        VKQ_QUOTE(a->variant));
    if (a->variant)
        target->variant = strcmp(a->variant, "cpu") == 0 ? VKQ_VARIANT_CPU : VKQ_VARIANT_GPU;
    return VKQ_OK;
}

static void print_text(const plan_args *a, const vkq_train_config *c, vkq_dtype base,
                       uint32_t tokens, uint32_t rows, const vkq_scratch_target *t,
                       const vkq_memory_plan *p, const heap_check *heaps, uint32_t n)
{
    printf("plan for %s: %s, batch %u, %u tokens and %u logit rows a micro-batch, ", a->model,
           c->method, c->batch, tokens, rows);
    if (c->lora_r)
        printf("LoRA r %u on %s, %s base, ", c->lora_r, c->lora_targets,
               vkq_dtype_name(base));
    else
        printf("full fine-tuning, ");
    printf("recompute %s, %s kernels\n", c->recompute, vkq_variant_name(t->variant));
    const char *names[VKQ_MEMORY_PARTS];
    uint64_t bytes[VKQ_MEMORY_PARTS];
    vkq_memory_plan_parts(p, names, bytes);
    for (size_t i = 0; i < VKQ_MEMORY_PARTS; i++)
        printf("  %-12s %10.1f MiB\n", names[i], bytes[i] / 1048576.0);
    printf("  %-12s %10.1f MiB\n  %-12s %10.1f MiB\n", "total", p->total / 1048576.0,
           "in blocks", p->reserved / 1048576.0);
    for (uint32_t i = 0; i < n; i++)
        printf("  %s, %.1f GiB: %s\n", heaps[i].name, heaps[i].bytes / 1073741824.0,
               p->reserved <= heaps[i].bytes ? "fits" : "does not fit");
}

static void print_json(const vkq_train_config *c, vkq_dtype base, uint32_t tokens, uint32_t rows,
                       const vkq_memory_plan *p, const heap_check *heaps, uint32_t n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "method", c->method);
    cJSON_AddNumberToObject(o, "batch", c->batch);
    cJSON_AddNumberToObject(o, "tokens", tokens);
    cJSON_AddNumberToObject(o, "rows", rows);
    cJSON_AddNumberToObject(o, "lora_r", c->lora_r);
    cJSON_AddStringToObject(o, "base_dtype", vkq_dtype_name(base));
    cJSON_AddStringToObject(o, "recompute", c->recompute);
    const char *names[VKQ_MEMORY_PARTS];
    uint64_t bytes[VKQ_MEMORY_PARTS];
    vkq_memory_plan_parts(p, names, bytes);
    for (size_t i = 0; i < VKQ_MEMORY_PARTS; i++) {
        char key[32];
        snprintf(key, sizeof key, "%s_bytes", names[i]);
        cJSON_AddNumberToObject(o, key, (double)bytes[i]);
    }
    cJSON_AddNumberToObject(o, "total_bytes", (double)p->total);
    cJSON_AddNumberToObject(o, "reserved_bytes", (double)p->reserved);
    cJSON *fits = cJSON_AddObjectToObject(o, "fits");
    for (uint32_t i = 0; i < n; i++)
        cJSON_AddBoolToObject(fits, heaps[i].name, p->reserved <= heaps[i].bytes);
    cli_emit_json(o);
}

static vkq_status run_plan(const plan_args *a)
{
    if (!a->model)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "plan: --model is required");
    vkq_train_config c;
    VKQ_TRY(to_train_config(a, &c));
    heap_check heaps[MAX_CHECKS];
    uint32_t n;
    vkq_scratch_target target;
    VKQ_TRY(heaps_to_check(a, heaps, &n, &target));
    vkq_llama_config m;
    vkq_dtype stored;
    VKQ_TRY(read_shape(a->model, &m, &stored));
    uint32_t tokens, rows;
    vkq_train_batch_limits(&c, &m, &tokens, &rows);
    vkq_memory_plan p;
    VKQ_TRY(vkq_train_memory_plan(&c, &m, stored, tokens, rows, &target, &p));
    if (a->json)
        print_json(&c, vkq_train_config_base_dtype(&c, stored), tokens, rows, &p, heaps, n);
    else
        print_text(a, &c, vkq_train_config_base_dtype(&c, stored), tokens, rows, &target, &p,
                   heaps, n);
    return VKQ_OK;
}

int cmd_plan(int argc, char **argv)
{
    plan_args a = {.lora_alpha = NAN};
    cli_option opts[] = {
        {"--model", CLI_STRING, &a.model},          {"--method", CLI_STRING, &a.method},
        {"--batch", CLI_U32, &a.batch},             {"--seq", CLI_U32, &a.seq},
        {"--max-prompt-tokens", CLI_U32, &a.max_prompt},
        {"--max-target-tokens", CLI_U32, &a.max_target},
        {"--lora-r", CLI_U32, &a.lora_r},           {"--lora-alpha", CLI_FLOAT, &a.lora_alpha},
        {"--lora-dropout", CLI_FLOAT, &a.lora_dropout},
        {"--lora-targets", CLI_STRING, &a.lora_targets},
        {"--recompute", CLI_STRING, &a.recompute},  {"--variant", CLI_STRING, &a.variant},
        {"--base-dtype", CLI_STRING, &a.base_dtype},
        {"--heap-gib", CLI_STRING, &a.heaps},       {"--json", CLI_FLAG, &a.json}};
    vkq_status s = cli_parse("plan", argc, argv, 2, opts, sizeof opts / sizeof opts[0]);
    if (s == VKQ_OK)
        s = run_plan(&a);
    return s == VKQ_OK ? 0 : cli_fail(s);
}
