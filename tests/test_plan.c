/* The memory plan against the measured peak: a training run of a tiny model for several
 * configurations (full and LoRA, recompute, sft and nextquill, batch sizes, both kernel
 * variants, fp32 and 16-bit frozen bases) must peak within 10 % of what the plan said before it
 * allocated anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "support.h"
#include "vkquill/llama2c.h"
#include "vkquill/tokenizer.h"
#include "vkquill/train.h"

static char dir[TEST_DIR_SIZE];

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s", test_path(dir, name));
}

static int setup(void **state)
{
    (void)state;
    if (test_make_temp_dir(dir, "plan") != 0)
        return -1;
    char path[256];
    path_in(path, sizeof path, "tok.bin");
    if (vkq_tokenizer_write_byte_level(path) != VKQ_OK)
        return -1;
    vkq_llama_config c = {.dim = 32, .hidden_dim = 48, .n_layers = 3, .n_heads = 4,
                          .n_kv_heads = 2, .vocab_size = VKQ_BYTE_TOKENIZER_VOCAB,
                          .seq_len = 512, .shared_classifier = 0, .norm_eps = 1e-5f,
                          .rope_theta = 10000.0f};
    path_in(path, sizeof path, "model.bin");
    vkq_status s = test_write_random_llama2c(path, &c, 7);
    path_in(path, sizeof path, "data.jsonl");
    FILE *f = fopen(path, "w");
    for (int i = 0; f && i < 8; i++)
        fprintf(f, "{\"user\":\"u%d\",\"input\":\"item %d of the list\",\"target\":\"a reply "
                "that runs for a while, number %d\",\"history\":[{\"input\":\"earlier\","
                "\"output\":\"an earlier reply of some length\"}]}\n", i % 3, i, i);
    if (f)
        fclose(f);
    return s == VKQ_OK && f ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return test_remove_tree(dir);
}

static void keep_plan(const vkq_train_progress *p, void *user)
{
    if (p->memory_only)
        *(vkq_memory_plan *)user = p->memory;
}

typedef struct run_case {
    const char *method;
    uint32_t batch, lora_r;
    const char *targets, *recompute;
    float dropout;
    vkq_variant variant;
    const char *base_dtype; /* NULL: auto */
} run_case;

static void plan_meets_peak(const run_case *rc)
{
    vkq_train_config c;
    vkq_train_config_defaults(&c);
    path_in(c.model, sizeof c.model, "model.bin");
    path_in(c.tokenizer, sizeof c.tokenizer, "tok.bin");
    path_in(c.data, sizeof c.data, "data.jsonl");
    path_in(c.out, sizeof c.out, "run");
    strcpy(c.method, rc->method);
    c.steps = 1;
    c.batch = rc->batch;
    c.lora_r = rc->lora_r;
    c.lora_dropout = rc->dropout;
    strcpy(c.lora_targets, rc->targets);
    strcpy(c.recompute, rc->recompute);
    if (rc->base_dtype)
        strcpy(c.base_dtype, rc->base_dtype);
    vkq_ctx_options o = VKQ_CTX_OPTIONS_DEFAULT;
    o.variant = rc->variant;
    vkq_ctx *ctx;
    assert_int_equal(vkq_ctx_create(&o, &ctx), VKQ_OK);
    vkq_memory_plan plan = {0};
    vkq_status s = vkq_train_run(ctx, &c, keep_plan, &plan, NULL);
    uint64_t peak = vkq_ctx_memory_peak(ctx);
    assert_int_equal(vkq_ctx_destroy(ctx), VKQ_OK);
    if (s != VKQ_OK)
        fail_msg("%s", vkq_last_error());
    double ratio = (double)plan.total / (double)peak;
    printf("%-9s batch %u lora %u %-10s recompute %-6s %s %s: plan %llu, peak %llu bytes "
           "(%.4f)\n",
           rc->method, rc->batch, rc->lora_r, rc->targets, rc->recompute,
           vkq_variant_name(rc->variant), rc->base_dtype ? rc->base_dtype : "auto", (unsigned long long)plan.total,
           (unsigned long long)peak, ratio);
    assert_true(ratio > 0.9 && ratio < 1.1);
    assert_true(plan.reserved >= plan.total);
}

static void full_training(void **state)
{
    (void)state;
    const run_case cases[] = {
        {"sft", 1, 0, "q,v", "none", 0, VKQ_VARIANT_CPU, NULL},
        {"sft", 4, 0, "q,v", "none", 0, VKQ_VARIANT_CPU, NULL},
        {"nextquill", 2, 0, "q,v", "none", 0, VKQ_VARIANT_CPU, NULL},
        {"nextquill", 2, 0, "q,v", "layers", 0, VKQ_VARIANT_CPU, NULL},
        {"nextquill", 3, 0, "q,v", "none", 0, VKQ_VARIANT_GPU, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        plan_meets_peak(&cases[i]);
}

static void lora_training(void **state)
{
    (void)state;
    const run_case cases[] = {
        {"sft", 2, 4, "q,v", "none", 0, VKQ_VARIANT_CPU, NULL},
        {"nextquill", 1, 8, "all-linear", "none", 0.1f, VKQ_VARIANT_CPU, NULL},
        {"nextquill", 4, 8, "all-linear", "layers", 0, VKQ_VARIANT_CPU, NULL},
        {"mce", 2, 4, "q,k,v,o", "layers", 0.05f, VKQ_VARIANT_GPU, NULL},
        {"sft", 2, 4, "q,v", "none", 0, VKQ_VARIANT_CPU, "bf16"},
        {"nextquill", 2, 8, "all-linear", "layers", 0, VKQ_VARIANT_CPU, "f16"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        plan_meets_peak(&cases[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_training),
        cmocka_unit_test(lora_training),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
