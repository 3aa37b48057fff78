/* The NextQuill loss on a tiny model against PyTorch (tools/make_golden_nextquill.py): for
 * each method variant, the device forward, vkq_causal_loss and the device backward give
 * L_n, L_p, L, the per-token stats (DCE, weights, loss terms), the share of tokens above
 * delta and every parameter gradient. A second model, the frozen reference, gives the
 * kl target and the fixed DCE. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "golden/compare.h"
#include "golden/golden.h"
#include "support.h"
#include "vkquill/llama2c.h"
#include "vkquill/causal_loss.h"
#include "vkquill/kernels.h"
#include "vkquill/model.h"

#define GOLDEN_DIR VKQ_SOURCE_DIR "/tests/golden/"

typedef struct variant {
    const char *name;
    vkq_weighting weighting;
    vkq_alignment align;
    int weighted, fixed;
} variant;

static const variant variants[] = {
    {"sft", VKQ_WEIGHTS_UNIFORM, VKQ_ALIGN_NONE, 0, 0},
    {"mce", VKQ_WEIGHTS_UNIFORM, VKQ_ALIGN_CE, 0, 0},
    {"dce", VKQ_WEIGHTS_THRESHOLD, VKQ_ALIGN_NONE, 0, 0},
    {"nextquill", VKQ_WEIGHTS_THRESHOLD, VKQ_ALIGN_CE, 0, 0},
    {"js", VKQ_WEIGHTS_JS, VKQ_ALIGN_CE, 0, 0},
    {"kl", VKQ_WEIGHTS_THRESHOLD, VKQ_ALIGN_KL, 0, 0},
    {"weighted", VKQ_WEIGHTS_THRESHOLD, VKQ_ALIGN_CE, 1, 0},
    {"fixed", VKQ_WEIGHTS_THRESHOLD, VKQ_ALIGN_CE, 0, 1},
};

typedef struct fixture {
    vkq_ctx *ctx;
    vkq_golden golden;
    vkq_llama_config cfg, ref_cfg;
    float *params, *ref_params;
    vkq_model *model, *ref_model;
    vkq_rec *rec;
    vkq_buf targets, dce, ref_logits, stats, totals;
    uint32_t rows; /* R tokens: the batch has 2R logit rows */
} fixture;

static fixture *fx;

static const float *golden_f32(const char *name, size_t n)
{
    const float *p = NULL;
    OK(vkq_golden_f32(&fx->golden, name, n, &p));
    return p;
}

static vkq_status alloc_floats(uint64_t n, vkq_buf *out)
{
    return vkq_buf_alloc(fx->ctx, 4 * n, out);
}

static vkq_status load(void)
{
    vkq_status s = vkq_golden_load(GOLDEN_DIR "nextquill_golden.bin", &fx->golden);
    if (s == VKQ_OK)
        s = vkq_llama2c_read(GOLDEN_DIR "tiny_llama.bin", &fx->cfg, &fx->params);
    if (s == VKQ_OK)
        s = vkq_llama2c_read(GOLDEN_DIR "tiny_llama_ref.bin", &fx->ref_cfg, &fx->ref_params);
    if (s == VKQ_OK)
        s = vkq_ctx_create(NULL, &fx->ctx);
    if (s == VKQ_OK)
        s = vkq_rec_create(fx->ctx, &fx->rec);
    vkq_model_options o = {.max_tokens = 64, .max_rows = 32, .training = 1};
    vkq_flat_weights flat, ref_flat;
    vkq_tensor_source weights = vkq_flat_source(&flat, &fx->cfg, fx->params);
    if (s == VKQ_OK)
        s = vkq_model_create(fx->ctx, &fx->cfg, &weights, &o, &fx->model);
    o.training = 0;
    vkq_tensor_source ref_weights = vkq_flat_source(&ref_flat, &fx->ref_cfg, fx->ref_params);
    if (s == VKQ_OK)
        s = vkq_model_create(fx->ctx, &fx->ref_cfg, &ref_weights, &o, &fx->ref_model);
    return s;
}

static void set_batch(void)
{
    const vkq_golden_record *tokens = vkq_golden_find(&fx->golden, "tokens");
    const vkq_golden_record *offsets = vkq_golden_find(&fx->golden, "offsets");
    const vkq_golden_record *rows = vkq_golden_find(&fx->golden, "rows");
    assert_non_null(tokens);
    assert_non_null(offsets);
    assert_non_null(rows);
    fx->rows = (uint32_t)rows->count / 2;
    vkq_batch b = {tokens->data.i32, (uint32_t)tokens->count, offsets->data.i32,
                   (uint32_t)offsets->count - 1, rows->data.i32, (uint32_t)rows->count};
    OK(vkq_model_set_batch(fx->model, &b));
    OK(vkq_model_set_batch(fx->ref_model, &b));
    const int32_t *targets;
    OK(vkq_golden_i32(&fx->golden, "targets", fx->rows, &targets));
    OK(alloc_floats(fx->rows, &fx->targets));
    OK(vkq_buf_upload(fx->ctx, fx->targets, 0, targets, 4ull * fx->rows));
}

/* The reference model's logits, kept apart from its own buffer, and their DCE. */
static void reference_pass(void)
{
    uint32_t n = 2 * fx->rows * fx->cfg.vocab_size;
    OK(alloc_floats(n, &fx->ref_logits));
    OK(alloc_floats(fx->rows, &fx->dce));
    OK(alloc_floats(4ull * fx->rows, &fx->stats));
    OK(alloc_floats(4, &fx->totals));
    OK(vkq_rec_begin(fx->rec));
    OK(vkq_model_forward(fx->ref_model, fx->rec));
    OK(vkq_copy(fx->rec, vkq_model_logits(fx->ref_model), fx->ref_logits, n));
    OK(vkq_causal_dce(fx->rec, fx->ref_logits, fx->targets, fx->dce, fx->rows,
                      fx->cfg.vocab_size));
    OK(vkq_rec_end(fx->rec));
    OK(vkq_rec_submit(fx->rec));
}

static int setup(void **state)
{
    (void)state;
    fx = calloc(1, sizeof *fx);
    if (!fx || load() != VKQ_OK) {
        print_error("%s\n", vkq_last_error());
        return -1;
    }
    set_batch();
    reference_pass();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vkq_buf *bufs[] = {&fx->targets, &fx->dce, &fx->ref_logits, &fx->stats, &fx->totals};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        vkq_buf_free(fx->ctx, bufs[i]);
    vkq_model_destroy(fx->model);
    vkq_model_destroy(fx->ref_model);
    vkq_rec_destroy(fx->rec);
    vkq_status s = fx->ctx ? vkq_ctx_destroy(fx->ctx) : VKQ_OK;
    vkq_golden_free(&fx->golden);
    free(fx->params);
    free(fx->ref_params);
    free(fx);
    return s == VKQ_OK ? 0 : -1;
}

static void download_floats(vkq_buf buf, float *out, size_t n)
{
    OK(vkq_buf_download(fx->ctx, buf, 0, out, n * sizeof *out));
}

static void reference_model_matches(void **state)
{
    (void)state;
    size_t n = 2ull * fx->rows * fx->cfg.vocab_size;
    float *logits = malloc(n * sizeof *logits), dce[64];
    assert_true(fx->rows <= 64);
    download_floats(fx->ref_logits, logits, n);
    download_floats(fx->dce, dce, fx->rows);
    double e_logits = vkq_nmse(logits, golden_f32("ref_logits", n), n);
    double e_dce = vkq_nmse(dce, golden_f32("dce_fixed", fx->rows), fx->rows);
    print_message("reference logits nmse %.3e, fixed dce nmse %.3e\n", e_logits, e_dce);
    assert_true(e_logits < 1e-10);
    assert_true(e_dce < 1e-8);
    free(logits);
}

static vkq_causal_loss_args args_of(const variant *v)
{
    const float *hyper = golden_f32("hyper", 5); /* alpha, lambda, eps, delta, delta_fixed */
    vkq_causal_loss_args a = {.rows = fx->rows,
                              .vocab = fx->cfg.vocab_size,
                              .weighting = v->weighting,
                              .delta = v->fixed ? hyper[4] : hyper[3],
                              .lambda = hyper[1],
                              .eps = hyper[2],
                              .align = v->align,
                              .align_weighted = v->weighted,
                              .alpha = hyper[0],
                              .dce_fixed = v->fixed,
                              .grad_scale = 1.0f};
    return a;
}

static void losses_match(const char *name, const float *totals)
{
    char record[64];
    snprintf(record, sizeof record, "%s/losses", name);
    const float *want = golden_f32(record, 3);
    static const char *const what[] = {"L_n", "L_p", "L"};
    for (int i = 0; i < 3; i++) {
        print_message("%s %s %.7f (PyTorch %.7f)\n", name, what[i], totals[i], want[i]);
        assert_true(fabsf(totals[i] - want[i]) <= 1e-5f * fabsf(want[i]) + 1e-7f);
    }
}

static void gradients_match(const char *name)
{
    char record[64];
    snprintf(record, sizeof record, "%s/grads", name);
    vkq_llama_tensors layout;
    vkq_llama_tensors_of(&fx->cfg, &layout);
    float *grads = malloc(layout.total * sizeof *grads);
    OK(vkq_model_download_grads(fx->model, grads));
    vkq_tensor_error worst = vkq_worst_tensor(&layout, grads, golden_f32(record, layout.total));
    free(grads);
    print_message("%s gradients: worst tensor %s, nmse %.3e\n", name, worst.name, worst.nmse);
    if (!(worst.nmse < 1e-8))
        fail_msg("%s: the gradient of %s differs from PyTorch's: nmse %.3e (limit 1e-8)", name,
                 worst.name, worst.nmse);
}

/* One column of the per-token stats against the same column of want ([R][4] both). A column
 * that is zero in PyTorch (the alignment term without L_p) must be exactly zero. */
static double stats_column_matches(const char *name, const char *column, const float *got,
                                   int k, const float *want, size_t want_stride)
{
    float a[64], b[64];
    double norm = 0.0;
    for (uint32_t r = 0; r < fx->rows; r++) {
        a[r] = got[4 * r + k];
        b[r] = want[want_stride * r + (want_stride == 4 ? k : 0)];
        norm += (double)b[r] * b[r];
    }
    for (uint32_t r = 0; norm == 0.0 && r < fx->rows; r++)
        if (a[r] != 0.0f)
            fail_msg("%s: %s of token %u is %.9g, PyTorch's is 0", name, column, r, a[r]);
    double e = norm == 0.0 ? 0.0 : vkq_nmse(a, b, fx->rows);
    if (!(e < 1e-8))
        fail_msg("%s: the per-token %s differs from PyTorch's: nmse %.3e (limit 1e-8)", name,
                 column, e);
    return e;
}

/* The stats rows (DCE, w^, w^ * -log p^h[y], c * term), the DCE against the tool's own
 * record of it, and the share of tokens above delta. */
static void stats_match(const variant *v, const float *totals)
{
    static const char *const columns[] = {"DCE", "w^", "w^ * -log p^h[y]", "c * term"};
    float stats[4 * 64];
    assert_true(fx->rows <= 64);
    download_floats(fx->stats, stats, 4ull * fx->rows);
    char record[64];
    snprintf(record, sizeof record, "%s/stats", v->name);
    const float *want = golden_f32(record, 4ull * fx->rows);
    double worst = stats_column_matches(v->name, v->fixed ? "fixed DCE" : "dynamic DCE", stats,
                                        0, golden_f32(v->fixed ? "dce_fixed" : "dce", fx->rows),
                                        1);
    for (int k = 0; k < 4; k++) {
        double e = stats_column_matches(v->name, columns[k], stats, k, want, 4);
        worst = e > worst ? e : worst;
    }
    snprintf(record, sizeof record, "%s/share", v->name);
    float share = *golden_f32(record, 1);
    print_message("%s stats: worst column nmse %.3e; share above delta %.7f (PyTorch %.7f)\n",
                  v->name, worst, totals[3], share);
    if (!(fabsf(totals[3] - share) <= 1e-6f))
        fail_msg("%s: the share above delta is %.9g, PyTorch's %.9g", v->name, totals[3], share);
}

static void variant_matches(void **state)
{
    const variant *v = *state;
    vkq_causal_loss_args a = args_of(v);
    vkq_buf logits = vkq_model_logits(fx->model);
    OK(vkq_rec_begin(fx->rec));
    OK(vkq_model_zero_grads(fx->model, fx->rec));
    OK(vkq_model_forward(fx->model, fx->rec));
    OK(vkq_causal_loss(fx->rec, &a, logits, fx->targets, fx->dce, fx->ref_logits, fx->stats,
                       fx->totals));
    OK(vkq_model_backward(fx->model, fx->rec));
    OK(vkq_rec_end(fx->rec));
    OK(vkq_rec_submit(fx->rec));
    float totals[4];
    download_floats(fx->totals, totals, 4);
    losses_match(v->name, totals);
    stats_match(v, totals);
    gradients_match(v->name);
}

/* Bad arguments are refused with a message, before anything is recorded. */
static void bad_arguments_are_refused(void **state)
{
    (void)state;
    vkq_causal_loss_args a = args_of(&variants[5]); /* kl */
    vkq_buf logits = vkq_model_logits(fx->model), none = {0};
    OK(vkq_rec_begin(fx->rec));
    assert_int_equal(vkq_causal_loss(fx->rec, &a, logits, fx->targets, fx->dce, none,
                                     fx->stats, fx->totals),
                     VKQ_ERR_INVALID_ARGUMENT);
    print_message("%s\n", vkq_last_error());
    assert_int_equal(vkq_causal_loss(fx->rec, &a, logits, fx->targets, fx->dce, logits,
                                     fx->stats, fx->totals),
                     VKQ_ERR_INVALID_ARGUMENT);
    print_message("%s\n", vkq_last_error());
    a.weighting = (vkq_weighting)7;
    assert_int_equal(vkq_causal_loss(fx->rec, &a, logits, fx->targets, fx->dce, fx->ref_logits,
                                     fx->stats, fx->totals),
                     VKQ_ERR_INVALID_ARGUMENT);
    print_message("%s\n", vkq_last_error());
    assert_int_equal(vkq_causal_dce(fx->rec, fx->ref_logits, fx->targets, fx->ref_logits,
                                    fx->rows, fx->cfg.vocab_size),
                     VKQ_ERR_INVALID_ARGUMENT);
    print_message("%s\n", vkq_last_error());
    OK(vkq_rec_end(fx->rec));
}

int main(void)
{
    enum { VARIANTS = sizeof variants / sizeof variants[0] };
    struct CMUnitTest tests[VARIANTS + 2] = {
        cmocka_unit_test(reference_model_matches),
        cmocka_unit_test(bad_arguments_are_refused),
    };
    for (size_t i = 0; i < VARIANTS; i++) /* one test per variant, named after it */
        tests[2 + i] = (struct CMUnitTest){.name = variants[i].name,
                                           .test_func = variant_matches,
                                           .initial_state = (void *)&variants[i]};
    return cmocka_run_group_tests(tests, setup, teardown);
}
