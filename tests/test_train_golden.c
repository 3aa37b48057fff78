/* One whole training step from a JSONL file against PyTorch (tools/make_golden_train.py):
 * the pairs the data, template and tokenizer give, then for sft, mce, dce and nextquill a
 * one-step vkq_train_run whose log.jsonl (loss, loss_n, loss_p, share above delta, gradient
 * norm) and parameter gradients must match what the tool computed along its own path. */
#include <cjson/cJSON.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "golden/compare.h"
#include "golden/golden.h"
#include "support.h"
#include "vkquill/llama2c.h"
#include "vkquill/data.h"
#include "vkquill/llama.h"
#include "vkquill/train.h"

#define GOLDEN_DIR VKQ_SOURCE_DIR "/tests/golden/"

static const char *const methods[] = {"sft", "mce", "dce", "nextquill"};
enum { LOG_VALUES = 5 }; /* loss, loss_n, loss_p, share_above_delta, grad_norm */
static const char *const log_keys[LOG_VALUES] = {"loss", "loss_n", "loss_p",
                                                 "share_above_delta", "grad_norm"};

typedef struct fixture {
    vkq_ctx *ctx;
    vkq_golden golden;
    vkq_llama_config cfg;
    vkq_llama_tensors layout;
    char dir[TEST_DIR_SIZE];
} fixture;

static fixture *fx;

static int setup(void **state)
{
    (void)state;
    fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    float *params = NULL;
    vkq_status s = test_make_temp_dir(fx->dir, "train-golden") == 0 ? VKQ_OK : VKQ_ERR_IO;
    if (s == VKQ_OK)
        s = vkq_golden_load(GOLDEN_DIR "train_golden.bin", &fx->golden);
    if (s == VKQ_OK)
        s = vkq_llama2c_read(GOLDEN_DIR "train_llama.bin", &fx->cfg, &params);
    free(params);
    if (s == VKQ_OK)
        vkq_llama_tensors_of(&fx->cfg, &fx->layout);
    if (s == VKQ_OK)
        s = vkq_ctx_create(NULL, &fx->ctx);
    if (s != VKQ_OK)
        print_error("%s\n", vkq_last_error());
    return s == VKQ_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int removed = fx->dir[0] ? test_remove_tree(fx->dir) : 0;
    vkq_status s = fx->ctx ? vkq_ctx_destroy(fx->ctx) : VKQ_OK;
    vkq_golden_free(&fx->golden);
    free(fx);
    return s == VKQ_OK && removed == 0 ? 0 : -1;
}

static void golden_config(vkq_train_config *c, const char *method)
{
    vkq_train_config_defaults(c);
    OK(vkq_train_config_load(c, GOLDEN_DIR "train_config.json"));
    snprintf(c->model, sizeof c->model, "%s", GOLDEN_DIR "train_llama.bin");
    snprintf(c->tokenizer, sizeof c->tokenizer, "%s", GOLDEN_DIR "train_tok.bin");
    snprintf(c->data, sizeof c->data, "%s", GOLDEN_DIR "train.jsonl");
    snprintf(c->template_path, sizeof c->template_path, "%s", GOLDEN_DIR "train_template.json");
    snprintf(c->out, sizeof c->out, "%s/%s", fx->dir, method);
    snprintf(c->method, sizeof c->method, "%s", method);
}

static void expect_tokens(const char *what, uint32_t sample, const int32_t *got,
                          const int32_t *want, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("sample %u, %s sequence: token %u is %d, PyTorch's tool made %d", sample,
                     what, i, got[i], want[i]);
}

/* The data path up to tokens: the JSONL reader, the template, the tokenizer and the history
 * rules (history_k, the prompt limit, the model's context) give the tool's sequences. */
static void pairs_match(void **state)
{
    (void)state;
    vkq_train_config c;
    golden_config(&c, "pairs");
    vkq_dataset data;
    vkq_template tpl;
    vkq_tokenizer *tok;
    OK(vkq_dataset_load_jsonl(c.data, 0, &data));
    OK(vkq_template_load(c.template_path, &tpl));
    OK(vkq_tokenizer_load(c.tokenizer, fx->cfg.vocab_size, &tok));
    const vkq_golden_record *shapes = vkq_golden_find(&fx->golden, "pairs");
    const vkq_golden_record *with = vkq_golden_find(&fx->golden, "with");
    const vkq_golden_record *without = vkq_golden_find(&fx->golden, "without");
    assert_non_null(shapes);
    assert_non_null(with);
    assert_non_null(without);
    assert_int_equal(data.count, shapes->dims[0]);
    vkq_prompt_limits limits = {c.history_k, c.max_prompt_tokens, c.max_target_tokens,
                                fx->cfg.seq_len};
    size_t at_with = 0, at_without = 0;
    for (uint32_t i = 0; i < data.count; i++) {
        vkq_pair p;
        OK(vkq_pair_build(tok, &tpl, &limits, &data.samples[i], &p));
        const int32_t *want = shapes->data.i32 + 5 * i;
        uint32_t got[5] = {p.n_with, p.with_prompt, p.n_without, p.without_prompt, p.n_response};
        print_message("sample %u: with %u (prompt %u), without %u (prompt %u), response %u\n",
                      i, got[0], got[1], got[2], got[3], got[4]);
        for (int k = 0; k < 5; k++)
            if (got[k] != (uint32_t)want[k])
                fail_msg("sample %u (line %u): lengths %u %u %u %u %u, PyTorch's tool made %d "
                         "%d %d %d %d", i, data.samples[i].line, got[0], got[1], got[2],
                         got[3], got[4], want[0], want[1], want[2], want[3], want[4]);
        assert_true(at_with + p.n_with <= with->count);
        assert_true(at_without + p.n_without <= without->count);
        expect_tokens("with-history", i, p.with_history, with->data.i32 + at_with, p.n_with);
        expect_tokens("without-history", i, p.without_history, without->data.i32 + at_without,
                      p.n_without);
        at_with += p.n_with;
        at_without += p.n_without;
        vkq_pair_free(&p);
    }
    assert_int_equal(at_with, with->count);
    assert_int_equal(at_without, without->count);
    vkq_tokenizer_free(tok);
    vkq_template_free(&tpl);
    vkq_dataset_free(&data);
}

/* What the observer saw after the step: the gradient on the device. */
typedef struct step_capture {
    float *grads;
    vkq_status status;
    int steps;
} step_capture;

static void capture_gradient(const vkq_train_progress *p, void *user)
{
    step_capture *capture = user;
    if (p->memory_only)
        return;
    capture->steps++;
    capture->status = vkq_model_download_grads(p->model, capture->grads);
}

/* The values of the one line of a run's log.jsonl. */
static void read_log(const char *method, double values[LOG_VALUES])
{
    char path[VKQ_PATH_MAX], line[1024], more[8];
    snprintf(path, sizeof path, "%s/%s/log.jsonl", fx->dir, method);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    assert_null(fgets(more, sizeof more, f)); /* exactly one step */
    fclose(f);
    cJSON *root = cJSON_Parse(line);
    assert_non_null(root);
    for (int k = 0; k < LOG_VALUES; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, log_keys[k]);
        if (!cJSON_IsNumber(v))
            fail_msg("%s: log.jsonl has no number \"%s\"", method, log_keys[k]);
        values[k] = v->valuedouble;
    }
    cJSON_Delete(root);
}

/* Each parameter tensor on its own, the worst named in a failure. */
static void gradients_match(const char *method, const float *grads)
{
    char record[64];
    snprintf(record, sizeof record, "%s/grads", method);
    const float *want = NULL;
    OK(vkq_golden_f32(&fx->golden, record, fx->layout.total, &want));
    vkq_tensor_error worst = vkq_worst_tensor(&fx->layout, grads, want);
    print_message("%s gradients: worst tensor %s, nmse %.3e\n", method, worst.name, worst.nmse);
    if (!(worst.nmse < 1e-8))
        fail_msg("%s: the gradient of %s differs from PyTorch's: nmse %.3e (limit 1e-8)",
                 method, worst.name, worst.nmse);
}

static void method_matches(void **state)
{
    const char *method = *state;
    vkq_train_config c;
    golden_config(&c, method);
    step_capture capture = {.grads = malloc(fx->layout.total * sizeof(float))};
    assert_non_null(capture.grads);
    OK(vkq_train_run(fx->ctx, &c, capture_gradient, &capture, NULL));
    OK(capture.status);
    assert_int_equal(capture.steps, 1);

    char record[64];
    snprintf(record, sizeof record, "%s/log", method);
    const float *want = NULL;
    OK(vkq_golden_f32(&fx->golden, record, LOG_VALUES, &want));
    double got[LOG_VALUES];
    read_log(method, got);
    for (int k = 0; k < LOG_VALUES; k++) {
        print_message("%s %s %.7f (PyTorch %.7f)\n", method, log_keys[k], got[k], want[k]);
        if (!(fabs(got[k] - want[k]) <= 1e-5 * fabs(want[k]) + 1e-7))
            fail_msg("%s: log.jsonl %s is %.9g, PyTorch's %.9g", method, log_keys[k], got[k],
                     (double)want[k]);
    }
    if (strcmp(method, "sft") == 0 || strcmp(method, "dce") == 0)
        if (got[2] != 0.0) /* no alignment loss at all, not a small one */
            fail_msg("%s: loss_p is %.9g in log.jsonl, not exactly 0", method, got[2]);
    gradients_match(method, capture.grads);
    free(capture.grads);
}

int main(void)
{
    enum { METHODS = sizeof methods / sizeof methods[0] };
    struct CMUnitTest tests[METHODS + 1] = {cmocka_unit_test(pairs_match)};
    for (size_t i = 0; i < METHODS; i++) /* one test per method, named after it */
        tests[1 + i] = (struct CMUnitTest){.name = methods[i],
                                           .test_func = method_matches,
                                           .initial_state = (void *)methods[i]};
    return cmocka_run_group_tests(tests, setup, teardown);
}
