/* A whole training step of a tiny random Llama against PyTorch (tools/make_golden.py):
 * logits, loss, every parameter gradient, and 10 AdamW steps (llm.c's test_gpt2 approach). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "golden/compare.h"
#include "golden/golden.h"
#include "support.h"
#include "vkquill/llama2c.h"
#include "vkquill/kernels.h"
#include "vkquill/model.h"

#define GOLDEN_DIR VKQ_SOURCE_DIR "/tests/golden/"

typedef struct fixture {
    vkq_ctx *ctx;
    vkq_golden golden;
    vkq_llama_config cfg;
    float *params;
    vkq_model *model;
    vkq_rec *rec;
    vkq_buf targets, weights, losses, loss, hyper;
    uint32_t n_rows;
} fixture;

static const float *golden_f32(fixture *f, const char *name, size_t n)
{
    const float *p = NULL;
    OK(vkq_golden_f32(&f->golden, name, n, &p));
    return p;
}

static void upload_batch(fixture *f)
{
    const vkq_golden_record *tokens = vkq_golden_find(&f->golden, "tokens");
    const vkq_golden_record *offsets = vkq_golden_find(&f->golden, "offsets");
    const vkq_golden_record *rows = vkq_golden_find(&f->golden, "rows");
    assert_non_null(tokens);
    assert_non_null(offsets);
    assert_non_null(rows);
    f->n_rows = (uint32_t)rows->count;
    vkq_batch b = {tokens->data.i32, (uint32_t)tokens->count, offsets->data.i32,
                   (uint32_t)offsets->count - 1, rows->data.i32, f->n_rows};
    OK(vkq_model_set_batch(f->model, &b));
    const int32_t *targets;
    OK(vkq_golden_i32(&f->golden, "targets", f->n_rows, &targets));
    OK(vkq_buf_alloc(f->ctx, 4ull * f->n_rows, &f->targets));
    OK(vkq_buf_upload(f->ctx, f->targets, 0, targets, 4ull * f->n_rows));
    OK(vkq_buf_alloc(f->ctx, 4ull * f->n_rows, &f->weights));
    OK(vkq_buf_upload(f->ctx, f->weights, 0, golden_f32(f, "weights", f->n_rows),
                      4ull * f->n_rows));
    OK(vkq_buf_alloc(f->ctx, 4ull * f->n_rows, &f->losses));
    OK(vkq_buf_alloc(f->ctx, 4, &f->loss));
    OK(vkq_buf_alloc(f->ctx, sizeof(vkq_adamw_hyper), &f->hyper));
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    *state = f;
    if (vkq_golden_load(GOLDEN_DIR "tiny_llama_golden.bin", &f->golden) != VKQ_OK ||
        vkq_llama2c_read(GOLDEN_DIR "tiny_llama.bin", &f->cfg, &f->params) != VKQ_OK ||
        vkq_ctx_create(NULL, &f->ctx) != VKQ_OK || vkq_rec_create(f->ctx, &f->rec) != VKQ_OK) {
        print_error("%s\n", vkq_last_error());
        return -1;
    }
    vkq_model_options o = {.max_tokens = 32, .max_rows = 32, .training = 1};
    vkq_flat_weights flat;
    vkq_tensor_source weights = vkq_flat_source(&flat, &f->cfg, f->params);
    if (vkq_model_create(f->ctx, &f->cfg, &weights, &o, &f->model) != VKQ_OK) {
        print_error("%s\n", vkq_last_error());
        return -1;
    }
    upload_batch(f);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vkq_buf *bufs[] = {&f->targets, &f->weights, &f->losses, &f->loss, &f->hyper};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        vkq_buf_free(f->ctx, bufs[i]);
    vkq_model_destroy(f->model);
    vkq_rec_destroy(f->rec);
    vkq_status s = vkq_ctx_destroy(f->ctx);
    vkq_golden_free(&f->golden);
    free(f->params);
    free(f);
    return s == VKQ_OK ? 0 : -1;
}

/* Records forward, loss and its sum; with backward, also the gradients. */
static void record_step(fixture *f, int backward, int adamw)
{
    OK(vkq_rec_begin(f->rec));
    if (backward)
        OK(vkq_model_zero_grads(f->model, f->rec));
    OK(vkq_model_forward(f->model, f->rec));
    if (backward) {
        OK(vkq_model_loss(f->model, f->rec, f->targets, f->weights, f->losses));
        OK(vkq_sum(f->rec, f->losses, f->n_rows, f->loss));
        OK(vkq_model_backward(f->model, f->rec));
    }
    if (adamw)
        OK(vkq_model_adamw(f->model, f->rec, f->hyper));
    OK(vkq_rec_end(f->rec));
}

static void logits_match(void **state)
{
    fixture *f = *state;
    record_step(f, 0, 0);
    OK(vkq_rec_submit(f->rec));
    size_t n = (size_t)f->n_rows * f->cfg.vocab_size;
    float *logits = malloc(n * sizeof *logits);
    OK(vkq_buf_download(f->ctx, vkq_model_logits(f->model), 0, logits, n * sizeof *logits));
    double e = vkq_nmse(logits, golden_f32(f, "logits", n), n);
    print_message("logits nmse %.3e\n", e);
    assert_true(e < 1e-10);
    free(logits);
}

static void loss_and_gradients_match(void **state)
{
    fixture *f = *state;
    record_step(f, 1, 0);
    OK(vkq_rec_submit(f->rec));
    float loss;
    OK(vkq_buf_download(f->ctx, f->loss, 0, &loss, sizeof loss));
    float want = golden_f32(f, "loss", 1)[0];
    print_message("loss %.7f (PyTorch %.7f)\n", loss, want);
    assert_true(fabsf(loss - want) < 1e-5f * fabsf(want));
    vkq_llama_tensors layout;
    vkq_llama_tensors_of(&f->cfg, &layout);
    float *grads = malloc(layout.total * sizeof *grads);
    OK(vkq_model_download_grads(f->model, grads));
    const float *want_grads = golden_f32(f, "grads", layout.total);
    /* Each parameter tensor on its own, so a wrong small tensor cannot hide in the total. */
    for (int i = 0; i < VKQ_TENSOR_COUNT; i++) {
        size_t at = layout.t[i].offset, n = vkq_tensor_floats(&layout, (vkq_tensor_id)i);
        if (n == 0)
            continue;
        double e = vkq_nmse(grads + at, want_grads + at, n);
        print_message("gradient %s nmse %.3e\n", layout.t[i].name, e);
        assert_true(e < 1e-8);
    }
    free(grads);
}

static void adamw_steps_match(void **state)
{
    fixture *f = *state;
    const float *want_losses = golden_f32(f, "adamw_losses", 10);
    const float *want_norms = golden_f32(f, "grad_norms", 10);
    record_step(f, 1, 1);
    for (int step = 1; step <= 10; step++) {
        vkq_adamw_hyper h = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                             .weight_decay = 0.1f, .max_grad_norm = 1.0f,
                             .bias_correction1 = 1.0f - powf(0.9f, (float)step),
                             .bias_correction2 = 1.0f - powf(0.95f, (float)step)};
        OK(vkq_buf_upload(f->ctx, f->hyper, 0, &h, sizeof h));
        OK(vkq_rec_submit(f->rec));
        float loss, sumsq;
        OK(vkq_buf_download(f->ctx, f->loss, 0, &loss, sizeof loss));
        OK(vkq_buf_download(f->ctx, vkq_model_grad_sumsq(f->model), 0, &sumsq, sizeof sumsq));
        print_message("step %d loss %.6f (PyTorch %.6f) grad norm %.6f (%.6f)\n", step, loss,
                      want_losses[step - 1], sqrtf(sumsq), want_norms[step - 1]);
        assert_true(fabsf(loss - want_losses[step - 1]) < 1e-4f * fabsf(want_losses[step - 1]));
        assert_true(fabsf(sqrtf(sumsq) - want_norms[step - 1]) < 1e-4f * want_norms[step - 1]);
    }
    vkq_llama_tensors layout;
    vkq_llama_tensors_of(&f->cfg, &layout);
    float *params = malloc(layout.total * sizeof *params);
    OK(vkq_model_download_params(f->model, params));
    double e = vkq_nmse(params, golden_f32(f, "params_after", layout.total), layout.total);
    print_message("parameters after 10 steps nmse %.3e\n", e);
    assert_true(e < 1e-9);
    free(params);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(logits_match),
        cmocka_unit_test(loss_and_gradients_match),
        cmocka_unit_test(adamw_steps_match),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
