/* The trainer end to end on a tiny random model with a byte-level tokenizer, made in a
 * temporary directory: every method runs, resume is exact (for a llama2.c file and a Hugging
 * Face directory, which is trained into a Hugging Face directory), NaN stops the run, bad
 * configurations are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "support.h"
#include "vkquill/generate.h"
#include "vkquill/hf_model.h"
#include "vkquill/llama2c.h"
#include "vkquill/model_file.h"
#include "vkquill/tokenizer.h"
#include "vkquill/train.h"

static vkq_ctx *ctx;
static char dir[TEST_DIR_SIZE];

static const char *const samples[] = {
    "{\"user\":\"u1\",\"input\":\"tea\",\"target\":\"lovely tea, cheers!\",\"history\":"
    "[{\"input\":\"cake\",\"output\":\"lovely cake, cheers!\"},"
    "{\"input\":\"jam\",\"output\":\"lovely jam, cheers!\"}]}",
    "{\"user\":\"u2\",\"input\":\"tea\",\"target\":\"tea is bad.\",\"history\":"
    "[{\"input\":\"cake\",\"output\":\"cake is bad.\"}]}",
    "{\"user\":\"u1\",\"input\":\"bun\",\"target\":\"lovely bun, cheers!\",\"history\":"
    "[{\"input\":\"tea\",\"output\":\"lovely tea, cheers!\"}]}",
    "{\"user\":\"u2\",\"input\":\"jam\",\"target\":\"jam is bad.\",\"history\":[]}",
};

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s", test_path(dir, name));
}

static int setup(void **state)
{
    (void)state;
    if (test_make_temp_dir(dir, "train") != 0 || test_ctx_create(&ctx) != 0)
        return -1;
    char path[256];
    path_in(path, sizeof path, "tok.bin");
    if (vkq_tokenizer_write_byte_level(path) != VKQ_OK)
        return -1;
    vkq_llama_config c = {.dim = 16, .hidden_dim = 24, .n_layers = 2, .n_heads = 4,
                          .n_kv_heads = 2, .vocab_size = VKQ_BYTE_TOKENIZER_VOCAB,
                          .seq_len = 256, .shared_classifier = 1, .norm_eps = 1e-5f,
                          .rope_theta = 10000.0f};
    path_in(path, sizeof path, "model.bin");
    vkq_status s = test_write_random_llama2c(path, &c, 7);
    path_in(path, sizeof path, "ref.bin");
    if (s == VKQ_OK)
        s = test_write_random_llama2c(path, &c, 8);
    vkq_llama_config hf = c; /* a Qwen2 (q/k/v biases) in bfloat16 */
    hf.rope_pairs = VKQ_ROPE_HALVES, hf.qkv_bias = 1;
    vkq_llama_tensors l;
    vkq_llama_tensors_of(&hf, &l);
    float *params = malloc(l.total * sizeof *params);
    vkq_llama_init_random(&hf, 9, params);
    path_in(path, sizeof path, "hf");
    if (s == VKQ_OK)
        s = vkq_hf_model_write(path, &hf, params, VKQ_ST_BF16, NULL);
    free(params);
    path_in(path, sizeof path, "data.jsonl");
    FILE *f = fopen(path, "w");
    for (size_t i = 0; f && i < sizeof samples / sizeof samples[0]; i++)
        fprintf(f, "%s\n", samples[i]);
    if (f)
        fclose(f);
    return s == VKQ_OK && f ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int removed = test_remove_tree(dir);
    return test_ctx_destroy(ctx) == 0 && removed == 0 ? 0 : -1;
}

static void base_config(vkq_train_config *c, const char *method, const char *run)
{
    vkq_train_config_defaults(c);
    path_in(c->model, sizeof c->model, "model.bin");
    path_in(c->tokenizer, sizeof c->tokenizer, "tok.bin");
    path_in(c->data, sizeof c->data, "data.jsonl");
    path_in(c->out, sizeof c->out, run);
    path_in(c->ref_model, sizeof c->ref_model, "ref.bin");
    strcpy(c->method, method);
    c->steps = 4;
    c->batch = 2;
    c->lr = 1e-2f;
    c->max_prompt_tokens = 160;
    c->max_target_tokens = 24;
}

/* The "loss" values of a run's log, one per step. */
static int read_losses(const char *run, double *losses, int max)
{
    char path[256], line[1024];
    snprintf(path, sizeof path, "%s/%s/log.jsonl", dir, run);
    FILE *f = fopen(path, "r");
    int n = 0;
    while (f && n < max && fgets(line, sizeof line, f)) {
        const char *at = strstr(line, "\"loss\":");
        assert_non_null(at);
        losses[n++] = strtod(at + 7, NULL);
    }
    if (f)
        fclose(f);
    return n;
}

static void every_method_trains(void **state)
{
    (void)state;
    const char *methods[] = {"sft", "mce", "dce", "nextquill"};
    for (int i = 0; i < 4; i++) {
        vkq_train_config c;
        base_config(&c, methods[i], methods[i]);
        c.steps = 12;
        OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
        double losses[16];
        assert_int_equal(read_losses(methods[i], losses, 16), 12);
        print_message("%s: loss %.4f -> %.4f\n", methods[i], losses[0], losses[11]);
        assert_true(losses[11] < losses[0]); /* the same few samples: it must learn them */
        char path[256];
        snprintf(path, sizeof path, "%s/%s/model.bin", dir, methods[i]);
        assert_int_equal(access(path, R_OK), 0);
    }
}

static void options_that_need_a_reference_model_run(void **state)
{
    (void)state;
    vkq_train_config c;
    base_config(&c, "nextquill", "kl");
    strcpy(c.align, "kl");
    OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
    base_config(&c, "nextquill", "fixed");
    strcpy(c.dce, "fixed");
    OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
    char cache[256];
    path_in(cache, sizeof cache, "fixed/dce_cache.bin"); /* computed once, kept on disk */
    assert_int_equal(access(cache, R_OK), 0);
    base_config(&c, "nextquill", "js");
    strcpy(c.weights, "js");
    c.align_weighted = 1;
    c.accum = 2;
    OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
}

static volatile int stop_flag;

static void stop_after_three(const vkq_train_progress *p, void *user)
{
    (void)user;
    if (p->step == 3)
        stop_flag = 1;
}

/* Trains c for six steps straight into run straight, and into run halves stopped after three
 * (as Ctrl-C stops a run) and resumed: the losses of every step must be equal, bit for bit. */
static void resumed_run_matches_straight(vkq_train_config c, const char *straight,
                                         const char *halves)
{
    c.steps = 6;
    path_in(c.out, sizeof c.out, straight);
    OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
    path_in(c.out, sizeof c.out, halves);
    stop_flag = 0;
    OK(vkq_train_run(ctx, &c, stop_after_three, NULL, &stop_flag));
    double a[8], b[8];
    assert_int_equal(read_losses(halves, b, 8), 3);
    stop_flag = 0;
    c.resume = 1;
    OK(vkq_train_run(ctx, &c, NULL, NULL, &stop_flag));
    assert_int_equal(read_losses(straight, a, 8), 6);
    assert_int_equal(read_losses(halves, b, 8), 6);
    for (int i = 0; i < 6; i++) {
        print_message("step %d: %.9g %.9g\n", i + 1, a[i], b[i]);
        assert_true(a[i] == b[i]);
    }
}

/* Six steps straight, and three steps stopped as Ctrl-C would stop them, then resumed: the
 * same losses, bit for bit. */
static void resume_continues_exactly(void **state)
{
    (void)state;
    vkq_train_config c;
    base_config(&c, "nextquill", "straight");
    resumed_run_matches_straight(c, "straight", "halves");
}

/* The weights of a model on disk, as fp32. */
static float *weights_of(const char *path, vkq_llama_config *cfg, vkq_st_dtype *dtype)
{
    vkq_model_file *m;
    OK(vkq_model_file_open(path, &m));
    *cfg = *vkq_model_file_config(m);
    *dtype = vkq_model_file_dtype(m);
    vkq_tensor_source w = vkq_model_file_weights(m);
    float *params;
    OK(vkq_tensor_source_read_all(cfg, &w, &params));
    vkq_model_file_close(m);
    return params;
}

/* A Hugging Face directory trains, resumes exactly and comes out as a directory of its dtype
 * and description, with its generation config; the stopped-and-resumed run writes the same
 * weights as the straight one. */
static void hf_model_trains_resumes_and_writes_hf(void **state)
{
    (void)state;
    vkq_train_config c;
    base_config(&c, "nextquill", "hf_straight");
    path_in(c.model, sizeof c.model, "hf");
    resumed_run_matches_straight(c, "hf_straight", "hf_halves");
    char path[256];
    vkq_llama_config base_cfg, cfg;
    vkq_st_dtype base_dtype, dtype;
    path_in(path, sizeof path, "hf");
    float *base = weights_of(path, &base_cfg, &base_dtype);
    path_in(path, sizeof path, "hf_straight/model");
    float *straight = weights_of(path, &cfg, &dtype);
    assert_memory_equal(&cfg, &base_cfg, sizeof cfg);
    assert_int_equal(dtype, VKQ_ST_BF16);
    path_in(path, sizeof path, "hf_halves/model");
    float *halves = weights_of(path, &cfg, &dtype);
    vkq_llama_tensors l;
    vkq_llama_tensors_of(&cfg, &l);
    assert_memory_equal(straight, halves, l.total * sizeof *halves);
    assert_memory_not_equal(straight, base, l.total * sizeof *base);
    path_in(path, sizeof path, "hf_straight/model/generation_config.json");
    assert_int_equal(access(path, R_OK), 0);
    path_in(path, sizeof path, "hf_straight/model.bin");
    assert_int_not_equal(access(path, F_OK), 0);
    free(base);
    free(straight);
    free(halves);
}

/* With val data the model's own DCE of every val response token is logged as it trains. */
static void probe_logs_dce_of_val_tokens(void **state)
{
    (void)state;
    vkq_train_config c;
    base_config(&c, "nextquill", "probe");
    path_in(c.val, sizeof c.val, "data.jsonl");
    c.probe_every = 2;
    OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
    char path[256], line[65536];
    snprintf(path, sizeof path, "%s/probe/probe.jsonl", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        lines++;
        unsigned step;
        assert_int_equal(sscanf(line, "{\"step\":%u", &step), 1);
        assert_int_equal(step, 2u * (unsigned)lines);
        int lists = 0;
        for (const char *p = strstr(line, "[["); p && *p; p++)
            lists += *p == '[';
        assert_int_equal(lists - 1, 4); /* the outer list, then one list per sample */
        for (const char *p = strchr(line + 1, '[') + 1; *p && *p != '}'; p++) {
            if (*p == '[' || *p == ']' || *p == ',')
                continue;
            char *end;
            double v = strtod(p, &end);
            assert_true(end > p && v >= -1.0 && v <= 1.0); /* a difference of probabilities */
            p = end - 1;
        }
    }
    fclose(f);
    assert_int_equal(lines, 2);
}

/* A batch of prompts of different lengths: each gets at most max_new new tokens. */
static void generation_stops_after_max_new_tokens(void **state)
{
    (void)state;
    char path[256];
    vkq_llama_config cfg;
    float *params;
    vkq_tokenizer *tok;
    vkq_decoder *dec;
    path_in(path, sizeof path, "model.bin");
    OK(vkq_llama2c_read(path, &cfg, &params));
    path_in(path, sizeof path, "tok.bin");
    OK(vkq_tokenizer_load(path, cfg.vocab_size, &tok));
    vkq_flat_weights flat;
    vkq_tensor_source weights = vkq_flat_source(&flat, &cfg, params);
    OK(vkq_decoder_create(ctx, &cfg, &weights, 2, &dec));
    const char *prompts[] = {"a", "a much longer prompt than the first"};
    vkq_generation gen[2];
    vkq_sampling s = {.steps = 200, .max_new = 3, .temperature = 0.0f, .top_p = 1.0f,
                      .repetition_penalty = 1.0f};
    OK(vkq_generate(dec, tok, prompts, 2, &s, gen));
    for (int i = 0; i < 2; i++) {
        assert_true(gen[i].n_tokens <= gen[i].n_prompt + 3);
        vkq_generation_free(&gen[i]);
    }
    vkq_decoder_destroy(dec);
    vkq_tokenizer_free(tok);
    free(params);
}

static void nan_stops_the_run(void **state)
{
    (void)state;
    vkq_train_config c;
    base_config(&c, "sft", "nan");
    c.lr = 1e30f;
    c.clip = 0.0f;
    c.steps = 5;
    assert_int_equal(vkq_train_run(ctx, &c, NULL, NULL, NULL), VKQ_ERR_FORMAT);
    assert_non_null(strstr(vkq_last_error(), "the loss became"));
    assert_non_null(strstr(vkq_last_error(), "checkpoint.bin"));
}

static void write_text(const char *name, const char *text)
{
    test_write_text(test_path(dir, name), text);
}

/* Loading the configuration file `name` holding json must fail with status and message. */
static void expect_config_error(const char *name, const char *json, vkq_status status,
                                const char *message)
{
    vkq_train_config c;
    char path[256];
    vkq_train_config_defaults(&c);
    write_text(name, json);
    path_in(path, sizeof path, name);
    vkq_status got = vkq_train_config_load(&c, path);
    if (got != status || !strstr(vkq_last_error(), message))
        fail_msg("%s: got %s \"%s\", want %s with \"%s\"", name, vkq_status_name(got),
                 vkq_last_error(), vkq_status_name(status), message);
}

static void bad_configurations_are_refused(void **state)
{
    (void)state;
    vkq_train_config c;
    expect_config_error("bad1.json", "{\"lr\": 0.1,\n \"steps\": }\n", VKQ_ERR_FORMAT,
                        "bad1.json:2:");
    expect_config_error("bad2.json", "{\"learning_rate\": 0.1}", VKQ_ERR_FORMAT,
                        "unknown option \"learning_rate\"");
    expect_config_error("bad3.json", "{\"method\": \"magic\"}", VKQ_ERR_INVALID_ARGUMENT,
                        "method must be one of sft mce dce nextquill");
    expect_config_error("bad4.json", "{\"steps\": \"many\"}", VKQ_ERR_FORMAT,
                        "\"steps\" must be a number");
    base_config(&c, "nextquill", "noref");
    strcpy(c.dce, "fixed");
    c.ref_model[0] = '\0';
    assert_int_equal(vkq_train_run(ctx, &c, NULL, NULL, NULL), VKQ_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkq_last_error(), "--ref-model"));
}

/* A reference model is demanded only where the method uses one: --align kl only aligns mce
 * and nextquill, and a fixed DCE only weighs the paired methods. */
static void reference_model_only_when_the_method_uses_it(void **state)
{
    (void)state;
    static const struct {
        const char *method, *dce, *align;
        int needs;
    } cases[] = {
        {"sft", "dynamic", "kl", 0},      {"dce", "dynamic", "kl", 0},
        {"sft", "fixed", "", 0},          {"nextquill", "dynamic", "kl", 1},
        {"mce", "dynamic", "kl", 1},      {"dce", "fixed", "", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vkq_train_config c;
        base_config(&c, cases[i].method, "noref");
        strcpy(c.dce, cases[i].dce);
        strcpy(c.align, cases[i].align);
        c.ref_model[0] = '\0';
        c.steps = 1;
        if (!cases[i].needs) {
            OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
            continue;
        }
        assert_int_equal(vkq_train_run(ctx, &c, NULL, NULL, NULL), VKQ_ERR_INVALID_ARGUMENT);
        print_message("%s\n", vkq_last_error());
        assert_non_null(strstr(vkq_last_error(), cases[i].method));
        assert_non_null(strstr(vkq_last_error(), "--ref-model"));
    }
}

static void write_lines(const char *name, const char *const *lines, int n)
{
    char path[256];
    path_in(path, sizeof path, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s\n", lines[i]);
    fclose(f);
}

/* The model's context is 256 tokens. History is dropped from the oldest until a sequence
 * fits; a sample that does not fit even without history is refused, naming it and the
 * lengths (or passed over with skip_bad). */
static void sequences_fit_the_model_context(void **state)
{
    (void)state;
    char long_text[301], long_history[1024], long_target[400];
    memset(long_text, 'x', 300);
    long_text[300] = '\0';
    snprintf(long_history, sizeof long_history,
             "{\"input\":\"tea\",\"target\":\"ok\",\"history\":[{\"input\":\"a\",\"output\":\"%.*s\"},"
             "{\"input\":\"b\",\"output\":\"%s\"}]}", 100, long_text, long_text);
    snprintf(long_target, sizeof long_target, "{\"input\":\"tea\",\"target\":\"%s\"}", long_text);
    const char *lines[] = {long_target, samples[0], long_history};
    write_lines("context.jsonl", lines, 3);
    vkq_train_config c;
    base_config(&c, "nextquill", "context");
    path_in(c.data, sizeof c.data, "context.jsonl");
    c.max_prompt_tokens = 0; /* no prompt limit: only the context bounds the sequences */
    c.max_target_tokens = 0;
    c.steps = 1;
    c.batch = 2;
    assert_int_equal(vkq_train_run(ctx, &c, NULL, NULL, NULL), VKQ_ERR_FORMAT);
    print_message("%s\n", vkq_last_error());
    assert_non_null(strstr(vkq_last_error(), "context.jsonl: sample at line 1: "));
    assert_non_null(strstr(vkq_last_error(), "+ 302 response tokens"));
    assert_non_null(strstr(vkq_last_error(), "context length 256"));
    c.skip_bad = 1; /* the other two samples fit, the last without its older item */
    OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
}

/* The byte-level vocabulary with id 3 (the byte 0x00) turned into the piece "e": the same
 * size, but every "e" encodes differently. */
static void write_other_tokenizer(const char *name)
{
    char path[256];
    path_in(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    int32_t max_length = 6;
    fwrite(&max_length, sizeof max_length, 1, f);
    for (int id = 0; id < VKQ_BYTE_TOKENIZER_VOCAB; id++) {
        char piece[8];
        snprintf(piece, sizeof piece, "<0x%02X>", id - 3);
        const char *text = id == 0 ? "<unk>" : id == 1 ? "<s>" : id == 2 ? "</s>"
                           : id == 3 ? "e" : piece;
        float score = 0.0f;
        int32_t length = (int32_t)strlen(text);
        fwrite(&score, sizeof score, 1, f);
        fwrite(&length, sizeof length, 1, f);
        fwrite(text, 1, (size_t)length, f);
    }
    assert_int_equal(fclose(f), 0);
}

enum { CACHE_HEADER_BYTES = 16 };
static const float CACHE_MARK = 123.0f;

/* Overwrites every value of a run's fixed-DCE cache with CACHE_MARK, keeping its header:
 * a reused cache still holds the mark after the next run, a recomputed one does not. */
static void mark_cache(const char *run)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s/dce_cache.bin", dir, run);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long values = (ftell(f) - CACHE_HEADER_BYTES) / 4;
    assert_true(values > 0);
    assert_int_equal(fseek(f, CACHE_HEADER_BYTES, SEEK_SET), 0);
    for (long i = 0; i < values; i++)
        fwrite(&CACHE_MARK, sizeof CACHE_MARK, 1, f);
    assert_int_equal(fclose(f), 0);
}

static int cache_marked(const char *run)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s/dce_cache.bin", dir, run);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    float v = 0.0f;
    assert_int_equal(fseek(f, CACHE_HEADER_BYTES, SEEK_SET), 0);
    assert_int_equal(fread(&v, sizeof v, 1, f), 1);
    fclose(f);
    return v == CACHE_MARK;
}

/* The fixed-DCE cache is reused while the reference model, the data, the template, the
 * tokenizer and the prompt options stay the same, and recomputed when any of them changes. */
static void fixed_dce_cache_follows_its_inputs(void **state)
{
    (void)state;
    /* other data of the same size: one letter of one target changed */
    const char *other[] = {samples[0], samples[1], samples[2],
                           "{\"user\":\"u2\",\"input\":\"jam\",\"target\":\"jam is mad.\"}"};
    write_lines("other.jsonl", other, 4);
    write_text("template.json", "{\"prompt\": \"{history}Q: {input}\\nA:\"}");
    write_other_tokenizer("tok2.bin");
    static const struct {
        const char *what;
        int changes;
    } cases[] = {{"same inputs", 0}, {"learning rate", 0}, {"reference model", 1},
                 {"data", 1},        {"template", 1},      {"tokenizer", 1},
                 {"history_k", 1},   {"max_target_tokens", 1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vkq_train_config c;
        base_config(&c, "nextquill", "cache");
        strcpy(c.dce, "fixed");
        c.steps = 1;
        OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
        mark_cache("cache");
        switch (i) {
        case 1: c.lr *= 2.0f; break;
        case 2: path_in(c.ref_model, sizeof c.ref_model, "model.bin"); break; /* another */
        case 3: path_in(c.data, sizeof c.data, "other.jsonl"); break;
        case 4: path_in(c.template_path, sizeof c.template_path, "template.json"); break;
        case 5: path_in(c.tokenizer, sizeof c.tokenizer, "tok2.bin"); break;
        case 6: c.history_k = 1; break;
        case 7: c.max_target_tokens = 4; break;
        }
        OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
        print_message("%s: %s\n", cases[i].what, cache_marked("cache") ? "reused" : "recomputed");
        assert_int_equal(cache_marked("cache"), !cases[i].changes);
    }
}

static long file_size(const char *run, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s/%s", dir, run, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void lora_config(vkq_train_config *c, const char *run)
{
    base_config(c, "nextquill", run);
    memset(c->ref_model, 0, sizeof c->ref_model); /* whole, for the round trip below */
    strcpy(c->dce, "fixed"); /* the frozen base, adapters off, is the reference */
    c->lora_r = 4;
    c->lora_alpha = 8.0f;
    c->lora_dropout = 0.1f;
    strcpy(c->lora_targets, "all-linear");
    c->steps = 8;
    c->lr = 3e-2f;
}

/* LoRA trains the adapters alone: the loss falls, the checkpoint holds the adapters and their
 * moments only, and the run directory's config.json reads back as the same configuration. */
static void lora_trains_only_the_adapters(void **state)
{
    (void)state;
    vkq_train_config c, back;
    lora_config(&c, "lora");
    OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
    double losses[8];
    assert_int_equal(read_losses("lora", losses, 8), 8);
    print_message("lora: loss %.4f -> %.4f\n", losses[0], losses[7]);
    assert_true(losses[7] < losses[0]);
    vkq_llama_config mc;
    float *params;
    char path[256];
    path_in(path, sizeof path, "model.bin");
    OK(vkq_llama2c_read(path, &mc, &params));
    free(params);
    vkq_lora_options lora;
    vkq_lora_layout layout;
    OK(vkq_train_config_lora(&c, &lora));
    vkq_lora_layout_of(&mc, &lora, &layout);
    /* the 56-byte header, the adapters and both moments, the 8-byte checksum */
    assert_int_equal(file_size("lora", "checkpoint.bin"), 56 + 3 * 4 * (long)layout.total + 8);
    vkq_train_config_defaults(&back);
    path_in(path, sizeof path, "lora/config.json");
    OK(vkq_train_config_load(&back, path));
    assert_memory_equal(&back, &c, sizeof c);
}

/* With dropout on, six steps straight and three plus three resumed give the same losses. */
static void lora_resume_continues_exactly(void **state)
{
    (void)state;
    vkq_train_config c;
    lora_config(&c, "lora_straight");
    strcpy(c.recompute, "layers");
    resumed_run_matches_straight(c, "lora_straight", "lora_halves");
}

static void bad_lora_options_are_refused(void **state)
{
    (void)state;
    vkq_train_config c;
    lora_config(&c, "badlora");
    strcpy(c.lora_targets, "q,x");
    assert_int_equal(vkq_train_run(ctx, &c, NULL, NULL, NULL), VKQ_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkq_last_error(), "'x' is not one of q, k, v, o, gate, up, down"));
    lora_config(&c, "badlora");
    c.lora_dropout = 1.0f;
    assert_int_equal(vkq_train_run(ctx, &c, NULL, NULL, NULL), VKQ_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkq_last_error(), "dropout must be in [0, 1)"));
    lora_config(&c, "badlora");
    strcpy(c.align, "kl"); /* the KL target needs a model of its own */
    assert_int_equal(vkq_train_run(ctx, &c, NULL, NULL, NULL), VKQ_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkq_last_error(), "--ref-model"));
    assert_int_equal(vkq_train_config_set(&c, "recompute", "all", "--recompute"),
                     VKQ_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkq_last_error(), "recompute must be one of none layers"));
}

/* Refused, with the message naming what is wrong: status and a piece of the message. */
static void expect_refusal(const vkq_train_config *c, vkq_status want, const char *what)
{
    vkq_status got = vkq_train_run(ctx, c, NULL, NULL, NULL);
    if (got != want || !strstr(vkq_last_error(), what))
        fail_msg("got %s \"%s\", want %s with \"%s\"", vkq_status_name(got), vkq_last_error(),
                 vkq_status_name(want), what);
}

/* A JSONL line whose input is `bytes` letters long. */
static void write_long_sample(FILE *f, size_t bytes)
{
    fputs("{\"input\":\"", f);
    for (size_t i = 0; i < bytes; i++)
        fputc('a' + (int)(i % 26), f);
    fputs("\",\"target\":\"ok\"}\n", f);
}

static void write_samples_then_long(const char *name, int first, size_t bytes)
{
    char path[256];
    path_in(path, sizeof path, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < first; i++)
        fprintf(f, "%s\n", samples[i]);
    write_long_sample(f, bytes);
    assert_int_equal(fclose(f), 0);
}

/* Set-up failures after the training pairs exist end the run with their message. */
static void failures_after_the_pairs_are_reported(void **state)
{
    (void)state;
    vkq_train_config c;
    base_config(&c, "nextquill", "late");
    path_in(c.val, sizeof c.val, "missing.jsonl");
    expect_refusal(&c, VKQ_ERR_IO, "missing.jsonl: cannot open");
    write_text("badval.jsonl", "{\"input\":\"a\",\"target\":\"b\"}\n{\"input\":\n");
    path_in(c.val, sizeof c.val, "badval.jsonl");
    expect_refusal(&c, VKQ_ERR_FORMAT, "badval.jsonl:2:");
    base_config(&c, "nextquill", "late");
    write_samples_then_long("second_long.jsonl", 1, 400);
    path_in(c.data, sizeof c.data, "second_long.jsonl");
    expect_refusal(&c, VKQ_ERR_FORMAT, "second_long.jsonl: sample at line 2: the prompt needs");
}

/* A prompt far over the limit is refused from its length, before it is tokenized (which took
 * seconds for a line of tens of megabytes): the message gives the bound it used. */
static void an_overlong_prompt_is_refused_before_tokenizing(void **state)
{
    (void)state;
    vkq_train_config c;
    base_config(&c, "nextquill", "overlong");
    write_samples_then_long("overlong.jsonl", 0, (size_t)8 << 20);
    path_in(c.data, sizeof c.data, "overlong.jsonl");
    expect_refusal(&c, VKQ_ERR_FORMAT, "the prompt needs at least");
}

typedef struct file_copy {
    char *bytes;
    long size;
} file_copy;

static file_copy read_run_file(const char *run, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s/%s", dir, run, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    file_copy c = {NULL, 0};
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    c.size = ftell(f);
    c.bytes = malloc((size_t)c.size + 1);
    rewind(f);
    assert_int_equal(fread(c.bytes, 1, (size_t)c.size, f), (size_t)c.size);
    fclose(f);
    return c;
}

static void write_run_file(const char *run, const char *name, const file_copy *c)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s/%s", dir, run, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(c->bytes, 1, (size_t)c->size, f), (size_t)c->size);
    assert_int_equal(fclose(f), 0);
}

static const char *const run_files[] = {"config.json", "log.jsonl", "checkpoint.bin",
                                        "model.bin"};
enum { RUN_FILES = 4 };

static void snapshot(const char *run, file_copy files[RUN_FILES])
{
    for (int i = 0; i < RUN_FILES; i++)
        files[i] = read_run_file(run, run_files[i]);
}

/* The run directory holds exactly what the snapshot holds, and no temporary file. */
static void expect_untouched(const char *run, file_copy files[RUN_FILES])
{
    for (int i = 0; i < RUN_FILES; i++) {
        file_copy now = read_run_file(run, run_files[i]);
        if (now.size != files[i].size || memcmp(now.bytes, files[i].bytes, (size_t)now.size))
            fail_msg("%s/%s changed", run, run_files[i]);
        free(now.bytes);
        char path[256];
        snprintf(path, sizeof path, "%s/%s/%s.tmp", dir, run, run_files[i]);
        assert_int_not_equal(access(path, F_OK), 0);
    }
}

static void free_snapshot(file_copy files[RUN_FILES])
{
    for (int i = 0; i < RUN_FILES; i++)
        free(files[i].bytes);
}

/* One step of 3 samples leaves the data position at 3. Resuming with 2 samples, with other
 * samples, or with other prompt limits is refused, and the run directory stays as it was. */
static void resume_refuses_other_data_before_touching_the_run(void **state)
{
    (void)state;
    vkq_train_config c;
    base_config(&c, "nextquill", "other_data");
    c.steps = 1;
    c.batch = 3;
    OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
    file_copy before[RUN_FILES];
    snapshot("other_data", before);
    c.resume = 1;
    c.steps = 2;
    char two[1024];
    snprintf(two, sizeof two, "%s\n%s\n", samples[0], samples[1]);
    write_text("two.jsonl", two);
    path_in(c.data, sizeof c.data, "two.jsonl");
    expect_refusal(&c, VKQ_ERR_INVALID_ARGUMENT,
                   "its data position 3 is beyond the 2 training samples");
    expect_untouched("other_data", before);
    char changed[2048];
    snprintf(changed, sizeof changed, "%s\n%s\n%s\n%s\n", samples[0], samples[1], samples[3],
             samples[2]);
    write_text("reordered.jsonl", changed);
    path_in(c.data, sizeof c.data, "reordered.jsonl");
    expect_refusal(&c, VKQ_ERR_INVALID_ARGUMENT, "the run started with other training data");
    expect_untouched("other_data", before);
    path_in(c.data, sizeof c.data, "data.jsonl");
    c.max_target_tokens = 4;
    expect_refusal(&c, VKQ_ERR_INVALID_ARGUMENT, "the run started with other training data");
    expect_untouched("other_data", before);
    c.max_target_tokens = 24;
    OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
    free_snapshot(before);
}

/* A flipped bit in the step field or in the weights, or a cut file, is refused by name and
 * leaves the run directory as it was. */
static void damaged_checkpoints_are_refused(void **state)
{
    (void)state;
    vkq_train_config c;
    base_config(&c, "nextquill", "damaged");
    c.steps = 2;
    OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
    c.resume = 1;
    c.steps = 3;
    file_copy before[RUN_FILES];
    snapshot("damaged", before);
    file_copy *checkpoint = &before[2];
    const struct {
        long at;
        const char *message;
    } flips[] = {{12, "the checkpoint is damaged (header checksum mismatch)"},
                 {44 + 1000, "the checkpoint is damaged (checksum mismatch)"},
                 {checkpoint->size - 1, "the checkpoint is damaged (checksum mismatch)"}};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        checkpoint->bytes[flips[i].at] ^= 0x04;
        write_run_file("damaged", "checkpoint.bin", checkpoint);
        expect_refusal(&c, VKQ_ERR_FORMAT, flips[i].message);
        checkpoint->bytes[flips[i].at] ^= 0x04;
        write_run_file("damaged", "checkpoint.bin", checkpoint);
        expect_untouched("damaged", before);
    }
    checkpoint->size -= 4;
    write_run_file("damaged", "checkpoint.bin", checkpoint);
    expect_refusal(&c, VKQ_ERR_FORMAT, "its size does not match its header");
    checkpoint->size += 4;
    write_run_file("damaged", "checkpoint.bin", checkpoint);
    OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
    free_snapshot(before);
}

/* Every option set away from its default, saved and loaded back, comes back the same; the
 * saved file holds no option this test does not compare. */
static void every_option_round_trips(void **state)
{
    (void)state;
    vkq_train_config a, b;
    vkq_train_config_defaults(&a);
    const char *texts[] = {"m.bin", "t.bin",    "d.jsonl",  "v.jsonl",
                           "run dir", "r.bin", "tpl.json", "q,k,gate", "run/adapter"};
    char *fields[] = {a.model,   a.tokenizer, a.data,          a.val,
                      a.out,     a.ref_model, a.template_path, a.lora_targets, a.adapter};
    for (int i = 0; i < 9; i++)
        strcpy(fields[i], texts[i]);
    for (int round = 0; round < 2; round++) {
        strcpy(a.method, round ? "sft" : "dce");
        strcpy(a.dce, "fixed");
        strcpy(a.weights, round ? "" : "js");
        strcpy(a.align, round ? "kl" : "");
        strcpy(a.schedule, "cosine");
        strcpy(a.chat_template, round ? "chatml" : "none");
        strcpy(a.recompute, round ? "none" : "layers");
        strcpy(a.base_dtype, round ? "f16" : "bf16");
        a.align_weighted = a.skip_bad = a.resume = !round;
        const float floats[] = {0.3f, 1e-3f, 0.123456789f, 3e-7f, 7.77e-5f, 0.0f, 0.5f,
                                0.999f, 1e-12f, 0.25f, 2.5f, 16.5f, 0.05f};
        float *f32[] = {&a.alpha, &a.delta, &a.lambda, &a.eps, &a.lr, &a.weight_decay, &a.beta1,
                        &a.beta2, &a.adam_eps, &a.warmup, &a.clip, &a.lora_alpha,
                        &a.lora_dropout};
        for (int i = 0; i < 13; i++)
            *f32[i] = floats[i] * (float)(round + 1);
        const uint32_t ints[] = {1234567890u, 4294967295u, 1000000000u, 0u, 17u, 0u,
                                 999999999u, 5u, 2147483648u, 3u, 8u};
        uint32_t *u32[] = {&a.steps, &a.batch, &a.accum, &a.seed, &a.history_k,
                           &a.max_prompt_tokens, &a.max_target_tokens, &a.log_every,
                           &a.save_every, &a.probe_every, &a.lora_r};
        for (int i = 0; i < 11; i++)
            *u32[i] = ints[i] + (uint32_t)round * (i != 1);
        char path[256];
        path_in(path, sizeof path, "all_options.json");
        OK(vkq_train_config_save(&a, path));
        vkq_train_config_defaults(&b);
        OK(vkq_train_config_load(&b, path));
        char *back[] = {b.model, b.tokenizer,  b.data,          b.val,
                        b.out,   b.ref_model, b.template_path, b.lora_targets, b.adapter};
        for (int i = 0; i < 9; i++)
            assert_string_equal(back[i], texts[i]);
        assert_string_equal(b.method, a.method);
        assert_string_equal(b.dce, a.dce);
        assert_string_equal(b.weights, a.weights);
        assert_string_equal(b.align, a.align);
        assert_string_equal(b.schedule, a.schedule);
        assert_string_equal(b.chat_template, a.chat_template);
        assert_string_equal(b.recompute, a.recompute);
        assert_string_equal(b.base_dtype, a.base_dtype);
        assert_int_equal(b.align_weighted, a.align_weighted);
        assert_int_equal(b.skip_bad, a.skip_bad);
        assert_int_equal(b.resume, a.resume);
        float *f32_back[] = {&b.alpha, &b.delta,   &b.lambda,   &b.eps,
                             &b.lr,    &b.weight_decay, &b.beta1, &b.beta2,
                             &b.adam_eps, &b.warmup, &b.clip, &b.lora_alpha,
                             &b.lora_dropout};
        for (int i = 0; i < 13; i++)
            assert_memory_equal(f32_back[i], f32[i], sizeof(float));
        uint32_t *u32_back[] = {&b.steps, &b.batch, &b.accum, &b.seed, &b.history_k,
                                &b.max_prompt_tokens, &b.max_target_tokens, &b.log_every,
                                &b.save_every, &b.probe_every, &b.lora_r};
        for (int i = 0; i < 11; i++)
            assert_int_equal(*u32_back[i], *u32[i]);
        char *text = NULL;
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        text = calloc(1, 1 << 16);
        assert_true(fread(text, 1, (1 << 16) - 1, f) > 0);
        fclose(f);
        int keys = 0;
        for (const char *p = text; (p = strstr(p, "\":")); p += 2)
            keys++;
        free(text);
        assert_int_equal(keys, 9 + 8 + 3 + 13 + 11);
    }
}

/* A run directory's own config.json starts the run again with --resume. */
static void a_runs_config_resumes_it(void **state)
{
    (void)state;
    vkq_train_config c;
    base_config(&c, "nextquill", "own_config");
    c.steps = 2;
    c.seed = 1234567890u;
    OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
    vkq_train_config d;
    vkq_train_config_defaults(&d);
    char path[256];
    path_in(path, sizeof path, "own_config/config.json");
    OK(vkq_train_config_load(&d, path));
    assert_int_equal(d.seed, 1234567890u);
    d.resume = 1;
    d.steps = 4;
    OK(vkq_train_run(ctx, &d, NULL, NULL, NULL));
    double losses[8];
    assert_int_equal(read_losses("own_config", losses, 8), 4);
}

/* A log that cannot be written (a full disk) stops the run with its name. */
static void log_write_failures_are_reported(void **state)
{
    (void)state;
    char path[256];
    path_in(path, sizeof path, "full");
    assert_int_equal(mkdir(path, 0755), 0);
    path_in(path, sizeof path, "full/log.jsonl");
    assert_int_equal(symlink("/dev/full", path), 0);
    vkq_train_config c;
    base_config(&c, "sft", "full");
    expect_refusal(&c, VKQ_ERR_IO, "full/log.jsonl: write failed: No space left on device");
}

/* The temporary files a killed run leaves are removed when it resumes. */
static void leftovers_of_a_killed_run_are_removed(void **state)
{
    (void)state;
    vkq_train_config c;
    base_config(&c, "sft", "leftovers");
    c.steps = 1;
    OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
    const char *names[] = {"checkpoint.bin.tmp", "model.bin.tmp", "log.jsonl.tmp"};
    char path[256];
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "leftovers/%s", names[i]);
        write_text(name, "half a file");
    }
    c.resume = 1;
    c.steps = 2;
    OK(vkq_train_run(ctx, &c, NULL, NULL, NULL));
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/leftovers/%s", dir, names[i]);
        assert_int_not_equal(access(path, F_OK), 0);
    }
}

/* Configuration files: duplicate keys, \u0000, and user text quoted on one line. */
static void config_keys_are_checked(void **state)
{
    (void)state;
    expect_config_error("dup.json", "{\"lr\": 0.1, \"steps\": 3, \"lr\": 0.2}", VKQ_ERR_FORMAT,
                        "dup.json:1: duplicate key \"lr\" in one object");
    expect_config_error("odd_key.json", "{\"l\\nr\\u00e9\\\"\": 1}", VKQ_ERR_FORMAT,
                        "unknown option \"l\\nr\xc3\xa9\\\"\"");
    expect_config_error("odd_value.json", "{\"method\": \"\\u0001\\t\\\\\"}",
                        VKQ_ERR_INVALID_ARGUMENT, "not '\\x01\\t\\\\'");
    char long_key[400] = "{\"";
    memset(long_key + 2, 'k', 300);
    strcpy(long_key + 302, "\": 1}");
    expect_config_error("long_key.json", long_key, VKQ_ERR_FORMAT, "kkk...\"");
    assert_true(strlen(vkq_last_error()) < 200);
    expect_config_error("null.json", "{\"out\": \"run\\u0000/../elsewhere\"}", VKQ_ERR_FORMAT,
                        "null.json:1:13: \\u0000");
    vkq_train_config c;
    vkq_train_config_defaults(&c);
    assert_int_equal(vkq_train_config_set(&c, "out", "", "--out"), VKQ_OK);
    assert_int_equal(vkq_train_config_set(&c, "weights", "", "--weights"), VKQ_OK);
    assert_int_equal(vkq_train_config_set(&c, "method", "", "--method"),
                     VKQ_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_method_trains),
        cmocka_unit_test(options_that_need_a_reference_model_run),
        cmocka_unit_test(resume_continues_exactly),
        cmocka_unit_test(hf_model_trains_resumes_and_writes_hf),
        cmocka_unit_test(probe_logs_dce_of_val_tokens),
        cmocka_unit_test(generation_stops_after_max_new_tokens),
        cmocka_unit_test(nan_stops_the_run),
        cmocka_unit_test(bad_configurations_are_refused),
        cmocka_unit_test(reference_model_only_when_the_method_uses_it),
        cmocka_unit_test(sequences_fit_the_model_context),
        cmocka_unit_test(fixed_dce_cache_follows_its_inputs),
        cmocka_unit_test(lora_trains_only_the_adapters),
        cmocka_unit_test(lora_resume_continues_exactly),
        cmocka_unit_test(bad_lora_options_are_refused),
        cmocka_unit_test(failures_after_the_pairs_are_reported),
        cmocka_unit_test(an_overlong_prompt_is_refused_before_tokenizing),
        cmocka_unit_test(resume_refuses_other_data_before_touching_the_run),
        cmocka_unit_test(damaged_checkpoints_are_refused),
        cmocka_unit_test(every_option_round_trips),
        cmocka_unit_test(a_runs_config_resumes_it),
        cmocka_unit_test(log_write_failures_are_reported),
        cmocka_unit_test(leftovers_of_a_killed_run_are_removed),
        cmocka_unit_test(config_keys_are_checked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
