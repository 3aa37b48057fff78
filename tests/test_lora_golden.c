/* LoRA against PyTorch (tools/make_golden_lora.py): a frozen tiny Llama with adapters on all
 * seven linear targets gives the golden logits, loss and adapter gradients for weighted
 * cross-entropy (sft) and the NextQuill loss, and ten AdamW steps on the adapters alone give
 * the golden adapters while the base stays byte for byte what it was; all of it with the base
 * in fp32 and kept as bf16 and f16 on the device (the golden rounds the same matrices), where
 * the base takes half the memory. Recomputing the layers in the backward gives the same
 * gradients, bit for bit, with and without adapters. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "support.h"
#include "golden/compare.h"
#include "golden/golden.h"
#include "vkquill/causal_loss.h"
#include "vkquill/kernels.h"
#include "vkquill/llama2c.h"
#include "vkquill/model.h"

#define GOLDEN_DIR VKQ_SOURCE_DIR "/tests/golden/"

enum { RANK = 4 };
static const float LORA_ALPHA = 8.0f;

typedef struct fixture {
    vkq_ctx *ctx;
    vkq_golden golden;
    vkq_llama_config cfg;
    vkq_lora_options lora;
    vkq_lora_layout layout;
    float *params, *adapter;
    vkq_rec *rec;
    vkq_buf targets, weights, losses, totals, hyper;
} fixture;

static fixture *fx;

static const float *golden_f32(const char *name, size_t n)
{
    const float *p = NULL;
    OK(vkq_golden_f32(&fx->golden, name, n, &p));
    return p;
}

static vkq_status alloc_floats(uint64_t n, vkq_buf *out) { return vkq_buf_alloc(fx->ctx, 4 * n, out); }

/* The floats of target i's A (ab 0) or B (ab 1) stack, and where they lie in the block. */
static size_t stack_floats(unsigned i, int ab, size_t *offset)
{
    vkq_llama_tensors ts;
    vkq_llama_tensors_of(&fx->cfg, &ts);
    vkq_tensor_id id = vkq_lora_target_tensor(i);
    const vkq_tensor *t = &ts.t[id];
    *offset = ab ? fx->layout.b[id] : fx->layout.a[id];
    return (size_t)t->layers * RANK * (ab ? t->rows : t->cols);
}

/* An adapter block from the records prefix + "A/<t>" and prefix + "B/<t>". */
static void golden_adapter(const char *prefix, float *block)
{
    for (unsigned i = 0; i < VKQ_LORA_TARGET_COUNT; i++)
        for (int ab = 0; ab < 2; ab++) {
            char name[64];
            size_t offset, n = stack_floats(i, ab, &offset);
            snprintf(name, sizeof name, "%s%c/%s", prefix, "AB"[ab], vkq_lora_target_name(i));
            memcpy(block + offset, golden_f32(name, n), n * sizeof *block);
        }
}

/* Every target's A and B of got against the records prefix + "A/<t>", prefix + "B/<t>". */
static void adapter_matches(const char *prefix, const float *got, double limit)
{
    for (unsigned i = 0; i < VKQ_LORA_TARGET_COUNT; i++)
        for (int ab = 0; ab < 2; ab++) {
            char name[64];
            size_t offset, n = stack_floats(i, ab, &offset);
            snprintf(name, sizeof name, "%s%c/%s", prefix, "AB"[ab], vkq_lora_target_name(i));
            double e = vkq_nmse(got + offset, golden_f32(name, n), n);
            if (!(e < limit))
                fail_msg("%s differs from PyTorch's: nmse %.3e (limit %.0e)", name, e, limit);
        }
}

static int setup(void **state)
{
    (void)state;
    fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    fx->lora = (vkq_lora_options){.r = RANK, .alpha = LORA_ALPHA};
    vkq_status s = vkq_lora_parse_targets("all-linear", &fx->lora.targets);
    if (s == VKQ_OK)
        s = vkq_golden_load(GOLDEN_DIR "lora_golden.bin", &fx->golden);
    if (s == VKQ_OK)
        s = vkq_llama2c_read(GOLDEN_DIR "tiny_llama.bin", &fx->cfg, &fx->params);
    if (s == VKQ_OK)
        s = vkq_ctx_create(NULL, &fx->ctx);
    if (s == VKQ_OK)
        s = vkq_rec_create(fx->ctx, &fx->rec);
    vkq_buf *bufs[] = {&fx->targets, &fx->weights, &fx->losses, &fx->totals};
    for (size_t i = 0; s == VKQ_OK && i < sizeof bufs / sizeof bufs[0]; i++)
        s = alloc_floats(64, bufs[i]);
    if (s == VKQ_OK)
        s = vkq_buf_alloc(fx->ctx, sizeof(vkq_adamw_hyper), &fx->hyper);
    if (s != VKQ_OK) {
        print_error("%s\n", vkq_last_error());
        return -1;
    }
    vkq_lora_layout_of(&fx->cfg, &fx->lora, &fx->layout);
    fx->adapter = calloc(fx->layout.total, sizeof *fx->adapter);
    golden_adapter("", fx->adapter);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vkq_buf *bufs[] = {&fx->targets, &fx->weights, &fx->losses, &fx->totals, &fx->hyper};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        vkq_buf_free(fx->ctx, bufs[i]);
    vkq_rec_destroy(fx->rec);
    vkq_status s = fx->ctx ? vkq_ctx_destroy(fx->ctx) : VKQ_OK;
    vkq_golden_free(&fx->golden);
    free(fx->params);
    free(fx->adapter);
    free(fx);
    return s == VKQ_OK ? 0 : -1;
}

/* The golden records of each base dtype start with its prefix. */
typedef struct base_case {
    vkq_dtype dtype;
    const char *prefix;
} base_case;
static const base_case bases[] = {{VKQ_F32, ""}, {VKQ_BF16, "bf16/"}, {VKQ_F16, "f16/"}};

static const float *golden_of(const base_case *b, const char *name, size_t n)
{
    char full[64];
    snprintf(full, sizeof full, "%s%s", b->prefix, name);
    return golden_f32(full, n);
}

static vkq_model *make_base_model(uint32_t r, int recompute, const float *adapter,
                                  vkq_dtype base)
{
    vkq_model_options o = {.max_tokens = 64, .max_rows = 32, .training = 1,
                           .recompute = recompute, .base_dtype = base};
    if (r)
        o.lora = fx->lora;
    vkq_model *m;
    vkq_flat_weights flat;
    vkq_tensor_source weights = vkq_flat_source(&flat, &fx->cfg, fx->params);
    OK(vkq_model_create(fx->ctx, &fx->cfg, &weights, &o, &m));
    if (adapter)
        OK(vkq_model_upload_trainable(m, adapter));
    return m;
}

static vkq_model *make_model(uint32_t r, int recompute, const float *adapter)
{
    return make_base_model(r, recompute, adapter, VKQ_F32);
}

/* Sets the batch of the records prefix/tokens, offsets, rows, targets (and weights). */
static uint32_t set_batch(vkq_model *m, const char *prefix)
{
    char name[64];
    const vkq_golden_record *rec[3];
    static const char *const names[] = {"tokens", "offsets", "rows"};
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s/%s", prefix, names[i]);
        rec[i] = vkq_golden_find(&fx->golden, name);
        assert_non_null(rec[i]);
    }
    vkq_batch b = {rec[0]->data.i32, (uint32_t)rec[0]->count, rec[1]->data.i32,
                   (uint32_t)rec[1]->count - 1, rec[2]->data.i32, (uint32_t)rec[2]->count};
    OK(vkq_model_set_batch(m, &b));
    snprintf(name, sizeof name, "%s/targets", prefix);
    const vkq_golden_record *targets = vkq_golden_find(&fx->golden, name);
    OK(vkq_buf_upload(fx->ctx, fx->targets, 0, targets->data.i32, 4 * targets->count));
    snprintf(name, sizeof name, "%s/weights", prefix);
    const vkq_golden_record *weights = vkq_golden_find(&fx->golden, name);
    if (weights)
        OK(vkq_buf_upload(fx->ctx, fx->weights, 0, weights->data.f32, 4 * weights->count));
    return (uint32_t)targets->count;
}

/* Records zero, forward, weighted cross-entropy, its sum and the backward. */
static void record_sft(vkq_model *m, uint32_t rows)
{
    OK(vkq_model_zero_grads(m, fx->rec));
    OK(vkq_model_forward(m, fx->rec));
    OK(vkq_model_loss(m, fx->rec, fx->targets, fx->weights, fx->losses));
    OK(vkq_sum(fx->rec, fx->losses, rows, fx->totals));
    OK(vkq_model_backward(m, fx->rec));
}

static float *download_grads(vkq_model *m)
{
    size_t n = vkq_model_trainable_floats(m);
    float *g = malloc(n * sizeof *g);
    OK(vkq_model_download_grads(m, g));
    return g;
}

static void sft_case(const base_case *b)
{
    vkq_model *m = make_base_model(RANK, 0, fx->adapter, b->dtype);
    uint32_t rows = set_batch(m, "sft");
    size_t n = (size_t)rows * fx->cfg.vocab_size;
    float *logits = malloc(n * sizeof *logits), loss;
    OK(vkq_rec_begin(fx->rec));
    OK(vkq_model_forward(m, fx->rec));
    OK(vkq_rec_end(fx->rec));
    OK(vkq_rec_submit(fx->rec));
    OK(vkq_buf_download(fx->ctx, vkq_model_logits(m), 0, logits, n * sizeof *logits));
    double e = vkq_nmse(logits, golden_of(b, "sft/logits", n), n);
    print_message("%s base: sft logits nmse %.3e\n", vkq_dtype_name(b->dtype), e);
    assert_true(e < 1e-10);
    OK(vkq_rec_begin(fx->rec));
    record_sft(m, rows);
    OK(vkq_rec_end(fx->rec));
    OK(vkq_rec_submit(fx->rec));
    OK(vkq_buf_download(fx->ctx, fx->totals, 0, &loss, sizeof loss));
    float want = *golden_of(b, "sft/loss", 1);
    print_message("sft loss %.7f (PyTorch %.7f)\n", loss, want);
    assert_true(fabsf(loss - want) <= 1e-5f * want);
    float *grads = download_grads(m);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%ssft/d", b->prefix);
    adapter_matches(prefix, grads, 1e-8);
    free(grads);
    free(logits);
    vkq_model_destroy(m);
}

static void sft_matches(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++)
        sft_case(&bases[i]);
}

static void nextquill_case(const base_case *b)
{
    vkq_model *m = make_base_model(RANK, 0, fx->adapter, b->dtype);
    uint32_t rows = set_batch(m, "nextquill");
    const float *hyper = golden_of(b, "nextquill/hyper", 4); /* alpha, lambda, eps, delta */
    vkq_causal_loss_args a = {.rows = rows, .vocab = fx->cfg.vocab_size,
                              .weighting = VKQ_WEIGHTS_THRESHOLD, .delta = hyper[3],
                              .lambda = hyper[1], .eps = hyper[2], .align = VKQ_ALIGN_CE,
                              .alpha = hyper[0], .grad_scale = 1.0f};
    vkq_buf none = {0}, stats;
    OK(alloc_floats(4ull * rows, &stats));
    OK(vkq_rec_begin(fx->rec));
    OK(vkq_model_zero_grads(m, fx->rec));
    OK(vkq_model_forward(m, fx->rec));
    OK(vkq_causal_loss(fx->rec, &a, vkq_model_dlogits(m), fx->targets, none, none, stats,
                       fx->totals));
    OK(vkq_model_backward(m, fx->rec));
    OK(vkq_rec_end(fx->rec));
    OK(vkq_rec_submit(fx->rec));
    float totals[4];
    OK(vkq_buf_download(fx->ctx, fx->totals, 0, totals, sizeof totals));
    const float *want = golden_of(b, "nextquill/losses", 3);
    for (int i = 0; i < 3; i++) {
        print_message("%s base: nextquill loss %d: %.7f (PyTorch %.7f)\n",
                      vkq_dtype_name(b->dtype), i, totals[i], want[i]);
        assert_true(fabsf(totals[i] - want[i]) <= 1e-5f * fabsf(want[i]) + 1e-7f);
    }
    float *grads = download_grads(m);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%snextquill/d", b->prefix);
    adapter_matches(prefix, grads, 1e-8);
    free(grads);
    vkq_buf_free(fx->ctx, &stats);
    vkq_model_destroy(m);
}

static void nextquill_matches(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++)
        nextquill_case(&bases[i]);
}

/* The base as a device copy of dtype holds it: the host's, its matrices rounded to nearest
 * even and widened back (a lossless picture of the device bytes). */
static float *rounded_base(vkq_dtype dtype)
{
    vkq_model_options o = {.base_dtype = dtype};
    vkq_llama_tensors ts;
    vkq_model_tensors(&fx->cfg, &o, &ts);
    float *base = malloc(ts.total * sizeof *base);
    uint16_t *halves = malloc(ts.total * sizeof *halves);
    memcpy(base, fx->params, ts.total * sizeof *base);
    for (int id = 0; id < VKQ_TENSOR_COUNT; id++) {
        size_t at = ts.t[id].offset, n = vkq_tensor_floats(&ts, (vkq_tensor_id)id);
        vkq_dtype_from_f32(ts.t[id].dtype, base + at, n, halves);
        vkq_dtype_to_f32(ts.t[id].dtype, halves, n, base + at);
    }
    free(halves);
    return base;
}

/* Ten AdamW steps on the adapters from B = 0; the base must not move by one bit. */
static void adamw_case(const base_case *b)
{
    float *start = malloc(fx->layout.total * sizeof *start);
    memcpy(start, fx->adapter, fx->layout.total * sizeof *start);
    for (unsigned i = 0; i < VKQ_LORA_TARGET_COUNT; i++) {
        size_t offset, n = stack_floats(i, 1, &offset);
        memset(start + offset, 0, n * sizeof *start);
    }
    vkq_model *m = make_base_model(RANK, 0, start, b->dtype);
    uint32_t rows = set_batch(m, "sft");
    const float *want_losses = golden_of(b, "adamw/losses", 10);
    for (uint32_t step = 1; step <= 10; step++) {
        vkq_adamw_hyper h = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                             .weight_decay = 0.1f,
                             .bias_correction1 = 1.0f - powf(0.9f, (float)step),
                             .bias_correction2 = 1.0f - powf(0.95f, (float)step),
                             .max_grad_norm = 1.0f};
        OK(vkq_buf_upload(fx->ctx, fx->hyper, 0, &h, sizeof h));
        OK(vkq_rec_begin(fx->rec));
        record_sft(m, rows);
        OK(vkq_model_adamw(m, fx->rec, fx->hyper));
        OK(vkq_rec_end(fx->rec));
        OK(vkq_rec_submit(fx->rec));
        float loss;
        OK(vkq_buf_download(fx->ctx, fx->totals, 0, &loss, sizeof loss));
        print_message("%s base: step %u loss %.6f (PyTorch %.6f)\n", vkq_dtype_name(b->dtype),
                      step, loss, want_losses[step - 1]);
        assert_true(fabsf(loss - want_losses[step - 1]) < 1e-4f * want_losses[step - 1]);
    }
    OK(vkq_model_download_trainable(m, start));
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%sadamw/", b->prefix);
    adapter_matches(prefix, start, 1e-9);
    vkq_llama_tensors ts;
    vkq_llama_tensors_of(&fx->cfg, &ts);
    float *base = malloc(ts.total * sizeof *base), *want = rounded_base(b->dtype);
    OK(vkq_model_download_params(m, base));
    assert_memory_equal(base, want, ts.total * sizeof *base);
    free(want);
    free(base);
    free(start);
    vkq_model_destroy(m);
}

static void adamw_steps_match(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++)
        adamw_case(&bases[i]);
}

/* Device bytes a LoRA model of this base dtype takes. */
static uint64_t device_bytes(vkq_dtype base, vkq_memory_plan *plan)
{
    vkq_model_options o = {.max_tokens = 64, .max_rows = 32, .training = 1, .lora = fx->lora,
                           .base_dtype = base};
    vkq_scratch_target target;
    vkq_scratch_target_of(fx->ctx, &target);
    OK(vkq_model_memory_plan(&fx->cfg, &o, &target, 0, plan));
    uint64_t before = vkq_ctx_memory_in_use(fx->ctx);
    vkq_model *m = make_base_model(RANK, 0, NULL, base);
    uint64_t used = vkq_ctx_memory_in_use(fx->ctx) - before;
    vkq_model_destroy(m);
    return used;
}

/* The plan counts two bytes a matrix weight and four a norm weight, and the model's buffers on
 * the device are what the plan says: a 16-bit base takes half the memory of an fp32 one, the norms apart
 * (slices start at 256-byte boundaries, so within that padding). */
static void half_base_takes_half_the_memory(void **state)
{
    (void)state;
    vkq_llama_tensors ts;
    vkq_llama_tensors_of(&fx->cfg, &ts);
    uint64_t matrices = 0;
    for (int id = 0; id < VKQ_TENSOR_COUNT; id++)
        if (ts.t[id].linear || id == VKQ_TOK_EMB || id == VKQ_WCLS)
            matrices += vkq_tensor_floats(&ts, (vkq_tensor_id)id);
    vkq_memory_plan p32, p16;
    uint64_t used32 = device_bytes(VKQ_F32, &p32);
    for (size_t i = 1; i < sizeof bases / sizeof bases[0]; i++) {
        uint64_t used16 = device_bytes(bases[i].dtype, &p16);
        uint64_t saved = p32.weights - p16.weights;
        print_message("%s base: weights %llu bytes (fp32 %llu, matrices %llu); the model takes "
                      "%llu bytes less\n", vkq_dtype_name(bases[i].dtype),
                      (unsigned long long)p16.weights, (unsigned long long)p32.weights,
                      (unsigned long long)(4 * matrices), (unsigned long long)(used32 - used16));
        assert_true(p16.weights < p32.weights);
        assert_true(saved >= 2 * matrices * 9 / 10 && saved <= 2 * matrices * 11 / 10);
        /* the model's buffers differ only in the weights (the kernels' scratch, which differs
         * too as 16-bit weights are packed and fp32 ones read in place, comes with a step) */
        assert_int_equal(used32 - used16, saved);
    }
}

static void full_fine_tuning_refuses_a_half_base(void **state)
{
    (void)state;
    vkq_model_options o = {.max_tokens = 64, .max_rows = 32, .training = 1,
                           .base_dtype = VKQ_BF16};
    vkq_model *m = NULL;
    vkq_flat_weights flat;
    vkq_tensor_source weights = vkq_flat_source(&flat, &fx->cfg, fx->params);
    assert_int_equal(vkq_model_create(fx->ctx, &fx->cfg, &weights, &o, &m),
                     VKQ_ERR_INVALID_ARGUMENT);
    assert_null(m);
    assert_non_null(strstr(vkq_last_error(), "needs LoRA"));
}

/* The gradients of one sft backward, with rank r (0: full fine-tuning). */
static float *gradients_of(uint32_t r, int recompute, size_t *n)
{
    vkq_model *m = make_model(r, recompute, r ? fx->adapter : NULL);
    uint32_t rows = set_batch(m, "sft");
    OK(vkq_rec_begin(fx->rec));
    record_sft(m, rows);
    OK(vkq_rec_end(fx->rec));
    OK(vkq_rec_submit(fx->rec));
    float *g = download_grads(m);
    *n = vkq_model_trainable_floats(m);
    vkq_model_destroy(m);
    return g;
}

static void recompute_gives_the_same_gradients(void **state)
{
    (void)state;
    for (uint32_t r = 0; r <= RANK; r += RANK) {
        size_t n, n2;
        float *kept = gradients_of(r, 0, &n), *recomputed = gradients_of(r, 1, &n2);
        assert_int_equal(n, n2);
        double norm = 0.0;
        for (size_t i = 0; i < n; i++)
            norm += (double)kept[i] * kept[i];
        print_message("rank %u: %zu gradients, norm %.6f\n", r, n, sqrt(norm));
        assert_true(norm > 0.0);
        assert_memory_equal(kept, recomputed, n * sizeof *kept);
        free(kept);
        free(recomputed);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sft_matches),
        cmocka_unit_test(nextquill_matches),
        cmocka_unit_test(adamw_steps_match),
        cmocka_unit_test(recompute_gives_the_same_gradients),
        cmocka_unit_test(half_base_takes_half_the_memory),
        cmocka_unit_test(full_fine_tuning_refuses_a_half_base),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
