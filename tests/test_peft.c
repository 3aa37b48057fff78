/* PEFT adapter directories: written and read back value for value; the base with an adapter
 * folded in computes what the base computes with the adapter beside it; every kind of bad
 * adapter directory is refused with a line naming what is wrong. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "golden/compare.h"
#include "support.h"
#include "vkquill/llama2c.h"
#include "vkquill/model.h"
#include "vkquill/peft.h"
#include "vkquill/train.h"

#define TINY_LLAMA VKQ_SOURCE_DIR "/tests/golden/tiny_llama.bin"

static char tmp[TEST_DIR_SIZE];
static vkq_llama_config cfg;
static float *params;

static int setup(void **state)
{
    (void)state;
    if (test_make_temp_dir(tmp, "peft") != 0)
        return -1;
    return vkq_llama2c_read(TINY_LLAMA, &cfg, &params) == VKQ_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(params);
    return test_remove_tree(tmp);
}

static uint64_t next(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 11;
}

/* Uniform in [-scale, scale): B as well as A nonzero, so that the adapter changes the model. */
static float *random_adapter(const vkq_lora_options *o, float scale)
{
    vkq_lora_layout lay;
    vkq_lora_layout_of(&cfg, o, &lay);
    float *a = malloc(lay.total * sizeof *a);
    uint64_t state = 7;
    for (size_t i = 0; i < lay.total; i++)
        a[i] = scale * (float)(2.0 * (double)next(&state) / 9007199254740992.0 - 1.0);
    return a;
}

static vkq_lora_options options(const char *targets, uint32_t r, float alpha)
{
    vkq_lora_options o = {.r = r, .alpha = alpha, .dropout = 0.1f};
    assert_int_equal(vkq_lora_parse_targets(targets, &o.targets), VKQ_OK);
    return o;
}

static void round_trip_keeps_every_value(void **state)
{
    (void)state;
    vkq_lora_options o = options("q,k,v,o,gate,up,down", 3, 5.5f);
    float *adapter = random_adapter(&o, 0.5f);
    const char *dir = test_path(tmp, "round");
    OK(vkq_peft_write(dir, &cfg, &o, adapter, "base/model.bin"));
    vkq_peft_adapter got;
    OK(vkq_peft_read(dir, &cfg, &got));
    assert_int_equal(got.lora.r, 3);
    assert_true(got.lora.alpha == 5.5f && got.lora.dropout == 0.1f);
    assert_int_equal(got.lora.targets, o.targets);
    vkq_lora_layout lay;
    vkq_lora_layout_of(&cfg, &o, &lay);
    assert_memory_equal(got.values, adapter, lay.total * sizeof *adapter);
    vkq_peft_free(&got);
    /* written again over itself: an adapter directory is replaced */
    OK(vkq_peft_write(dir, &cfg, &o, adapter, "base/model.bin"));
    free(adapter);
}

static float *logits_of(vkq_ctx *ctx, const float *weights_block, const vkq_lora_options *lora,
                        const float *adapter, uint32_t n)
{
    vkq_model_options o = {.max_tokens = 16, .max_rows = 16, .training = 1};
    if (lora)
        o.lora = *lora;
    vkq_flat_weights flat;
    vkq_tensor_source weights = vkq_flat_source(&flat, &cfg, weights_block);
    vkq_model *m;
    OK(vkq_model_create(ctx, &cfg, &weights, &o, &m));
    if (adapter)
        OK(vkq_model_upload_trainable(m, adapter));
    int32_t tokens[16], offsets[2] = {0, (int32_t)n}, rows[16];
    for (uint32_t i = 0; i < n; i++) {
        tokens[i] = (int32_t)((7 * i + 3) % cfg.vocab_size);
        rows[i] = (int32_t)i;
    }
    vkq_batch b = {tokens, n, offsets, 1, rows, n};
    OK(vkq_model_set_batch(m, &b));
    vkq_rec *rec;
    OK(vkq_rec_create(ctx, &rec));
    OK(vkq_rec_begin(rec));
    OK(vkq_model_forward(m, rec));
    OK(vkq_rec_end(rec));
    OK(vkq_rec_submit(rec));
    float *logits = malloc((size_t)n * cfg.vocab_size * sizeof *logits);
    OK(vkq_buf_download(ctx, vkq_model_logits(m), 0, logits,
                        (size_t)n * cfg.vocab_size * sizeof *logits));
    vkq_rec_destroy(rec);
    vkq_model_destroy(m);
    return logits;
}

static void merged_model_computes_base_and_adapter(void **state)
{
    (void)state;
    vkq_ctx *ctx;
    OK(vkq_ctx_create(NULL, &ctx));
    vkq_lora_options o = options("all-linear", 4, 8.0f);
    float *adapter = random_adapter(&o, 0.3f);
    const char *dir = test_path(tmp, "merge");
    OK(vkq_peft_write(dir, &cfg, &o, adapter, TINY_LLAMA));
    vkq_model_file *base;
    float *merged;
    OK(vkq_model_file_open(TINY_LLAMA, &base));
    OK(vkq_peft_merged_params(base, dir, &merged));
    vkq_model_file_close(base);
    enum { N = 12 };
    size_t n = (size_t)N * cfg.vocab_size;
    float *with_adapter = logits_of(ctx, params, &o, adapter, N);
    float *folded = logits_of(ctx, merged, NULL, NULL, N);
    float *plain = logits_of(ctx, params, NULL, NULL, N);
    double e = vkq_nmse(folded, with_adapter, n), moved = vkq_nmse(plain, with_adapter, n);
    print_message("merged vs base + adapter: nmse %.3e; base alone: %.3e\n", e, moved);
    assert_true(e < 1e-10);
    assert_true(moved > 1e-4);
    free(with_adapter);
    free(folded);
    free(plain);
    free(merged);
    free(adapter);
    assert_int_equal(vkq_ctx_destroy(ctx), VKQ_OK);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A good adapter of targets q,v, r 2, whose config then becomes config (NULL: kept). */
static const char *bad_dir(const char *name, const char *targets, uint32_t r, const char *config)
{
    static char dir[256];
    snprintf(dir, sizeof dir, "%s", test_path(tmp, name));
    vkq_lora_options o = options(targets, r, 4.0f);
    float *adapter = random_adapter(&o, 0.1f);
    OK(vkq_peft_write(dir, &cfg, &o, adapter, "base"));
    free(adapter);
    if (config) {
        char path[300];
        snprintf(path, sizeof path, "%s/adapter_config.json", dir);
        write_text(path, config);
    }
    return dir;
}

#define CONFIG(extra)                                                                           \
    "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4, \"bias\": \"none\", "               \
    "\"target_modules\": [\"q_proj\", \"v_proj\"]" extra "}"

static void refused(const char *dir, const char *want)
{
    vkq_peft_adapter a;
    vkq_status s = vkq_peft_read(dir, &cfg, &a);
    if (s == VKQ_OK)
        fail_msg("%s was read; expected a refusal with '%s'", dir, want);
    const char *msg = vkq_last_error();
    print_message("refused: %s\n", msg);
    assert_null(strchr(msg, '\n'));
    if (!strstr(msg, want))
        fail_msg("'%s' does not say '%s'", msg, want);
}

static void bad_adapters_are_refused(void **state)
{
    (void)state;
    refused(test_path(tmp, "nowhere"), "not an adapter directory");
    char path[300];
    const char *dir = bad_dir("no_config", "q,v", 2, NULL);
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    remove(path);
    refused(dir, "cannot read adapter_config.json");
    dir = bad_dir("no_tensors", "q,v", 2, NULL);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    remove(path);
    refused(dir, "adapter_model.safetensors");
    refused(bad_dir("not_json", "q,v", 2, "{\"r\": 2,"), "adapter_config.json");
    refused(bad_dir("prefix", "q,v", 2, "{\"peft_type\": \"PREFIX_TUNING\"}"),
            "peft_type must be \"LORA\"");
    refused(bad_dir("r0", "q,v", 2,
                    "{\"peft_type\": \"LORA\", \"r\": 0, \"lora_alpha\": 4, "
                    "\"target_modules\": [\"q_proj\"]}"), "r must be an integer");
    refused(bad_dir("r_text", "q,v", 2,
                    "{\"peft_type\": \"LORA\", \"r\": \"8\", \"lora_alpha\": 4, "
                    "\"target_modules\": [\"q_proj\"]}"), "r must be an integer");
    refused(bad_dir("alpha", "q,v", 2,
                    "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": -1, "
                    "\"target_modules\": [\"q_proj\"]}"), "lora_alpha must be a positive");
    refused(bad_dir("rslora", "q,v", 2, CONFIG(", \"use_rslora\": true")), "use_rslora");
    refused(bad_dir("dora", "q,v", 2, CONFIG(", \"use_dora\": true")), "use_dora");
    refused(bad_dir("bias", "q,v", 2,
                    "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4, \"bias\": \"all\", "
                    "\"target_modules\": [\"q_proj\", \"v_proj\"]}"), "bias must be \"none\"");
    refused(bad_dir("layers", "q,v", 2, CONFIG(", \"layers_to_transform\": [0]")),
            "layers_to_transform");
    refused(bad_dir("fc1", "q,v", 2,
                    "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4, "
                    "\"target_modules\": [\"q_proj\", \"fc1\"]}"), "'fc1' is not in the model");
    refused(bad_dir("regex", "q,v", 2,
                    "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4, "
                    "\"target_modules\": \".*proj\"}"), "is a pattern");
    /* the config names k_proj too, the file holds only q and v */
    refused(bad_dir("missing", "q,v", 2,
                    "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4, "
                    "\"target_modules\": [\"q_proj\", \"k_proj\", \"v_proj\"]}"),
            "lacks base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight");
    /* the file holds every target, the config only q and v */
    refused(bad_dir("unexpected", "all-linear", 2, CONFIG("")), "unexpected tensor");
    /* r 3 tensors under a config of r 2 */
    refused(bad_dir("shape", "q,v", 3, CONFIG("")), "should be [2, ");

    dir = bad_dir("dtype", "q,v", 2, NULL);
    int32_t ints[64] = {0};
    vkq_st_write_tensor t = {.name = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                             .dtype = VKQ_ST_I32, .rank = 2, .shape = {2, cfg.dim}, .data = ints};
    assert_true(cfg.dim * 2 <= 64);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    OK(vkq_st_write_file(path, &t, 1, NULL, 0));
    refused(dir, "is I32; F32, F16 or BF16 expected");
}

static void a_run_takes_or_matches_the_adapter(void **state)
{
    (void)state;
    const char *dir = bad_dir("for_training", "q,v", 2, NULL);
    vkq_train_config c;
    vkq_train_config_defaults(&c);
    snprintf(c.adapter, sizeof c.adapter, "%s", dir);
    vkq_lora_options o;
    OK(vkq_train_config_lora(&c, &o));
    assert_int_equal(o.r, 2);
    assert_true(o.alpha == 4.0f);
    assert_int_equal(o.targets, options("q,v", 2, 4).targets);
    c.lora_r = 2;
    c.lora_alpha = 4.0f;
    OK(vkq_train_config_lora(&c, &o));
    c.lora_r = 8;
    assert_int_not_equal(vkq_train_config_lora(&c, &o), VKQ_OK);
    assert_non_null(strstr(vkq_last_error(), "differ from the adapter"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_keeps_every_value),
        cmocka_unit_test(merged_model_computes_base_and_adapter),
        cmocka_unit_test(bad_adapters_are_refused),
        cmocka_unit_test(a_run_takes_or_matches_the_adapter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
