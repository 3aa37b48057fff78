/* Tensors larger than a binding: a model on a context whose limits VKQ_DEBUG_MAX_BINDING lowers
 * holds its flat blocks in pieces and its embedding and classifier in row pieces. Training,
 * generation and a checkpoint round trip must give what the same model gives in one piece:
 * bit for bit where the order of the arithmetic is the same, else within 1e-12 NMSE. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "check/harness.h"
#include "support.h"
#include "vkquill/kernels.h"
#include "vkquill/model.h"

enum { TOKENS = 24, ROWS = 6, STEPS = 4, VOCAB = 384, DIM = 16 };

/* 1 KiB rows of the embedding and classifier: 10 KiB bindings cut them into 10-row pieces. */
static const char *const split_binding = "10240";
/* 28 KiB: every tensor fits, the flat blocks do not. */
static const char *const pieces_binding = "28672";

static vkq_llama_config config(int shared)
{
    return (vkq_llama_config){.dim = DIM, .hidden_dim = 24, .n_layers = 2, .n_heads = 2,
                              .n_kv_heads = 1, .vocab_size = VOCAB, .seq_len = 32,
                              .shared_classifier = shared, .norm_eps = 1e-5f,
                              .rope_theta = 10000.0f, .bos_id = 1, .pad_id = -1,
                              .eos_ids = {2}, .n_eos = 1};
}

static vkq_ctx *context(const char *binding)
{
    if (binding)
        setenv("VKQ_DEBUG_MAX_BINDING", binding, 1);
    vkq_ctx *ctx = NULL;
    vkq_status s = vkq_ctx_create(NULL, &ctx);
    unsetenv("VKQ_DEBUG_MAX_BINDING");
    if (s != VKQ_OK)
        fail_msg("%s", vkq_last_error());
    return ctx;
}

/* What a training run leaves: the loss of every step, the parameters, the trainable block (the
 * parameters, or the adapters under LoRA) and its moments after. */
typedef struct run_result {
    float losses[STEPS];
    float *params, *trainable, *m, *v;
    size_t n_trainable;
    uint32_t pieces;
} run_result;

static void run_free(run_result *r)
{
    free(r->params);
    free(r->trainable);
    free(r->m);
    free(r->v);
}

/* Two packed sequences, logits at ROWS of their positions, token ids over the whole vocabulary
 * so that every piece of the embedding is read and written. */
static void batch_of(int32_t *tokens, int32_t *offsets, int32_t *rows, int32_t *targets,
                     float *weights)
{
    for (uint32_t t = 0; t < TOKENS; t++)
        tokens[t] = (int32_t)((t * 97 + 5) % VOCAB);
    offsets[0] = 0, offsets[1] = 10, offsets[2] = TOKENS;
    for (uint32_t r = 0; r < ROWS; r++) {
        rows[r] = (int32_t)(r * 4 + 1);
        targets[r] = (int32_t)((r * 131 + 17) % VOCAB);
        weights[r] = 1.0f / ROWS;
    }
}

/* STEPS AdamW steps of the weighted cross-entropy on one batch, clipping at max_norm (<= 0:
 * none); an fp32 base trains whole, a 16-bit one under LoRA (rank 2, every linear layer, B
 * starting non-zero so that every adapter moves from the first step). */
static void train_base(const char *binding, int shared, float max_norm, vkq_dtype base,
                       run_result *out)
{
    vkq_ctx *ctx = context(binding);
    vkq_llama_config cfg = config(shared);
    vkq_llama_tensors ts;
    vkq_llama_tensors_of(&cfg, &ts);
    float *init = malloc(ts.total * sizeof *init);
    vkq_llama_init_random(&cfg, 7, init);
    vkq_model_options o = {.max_tokens = TOKENS, .max_rows = ROWS, .training = 1,
                           .base_dtype = base};
    if (base != VKQ_F32) {
        o.lora = (vkq_lora_options){.r = 2, .alpha = 4.0f};
        OK(vkq_lora_parse_targets("all-linear", &o.lora.targets));
    }
    vkq_model *m;
    vkq_flat_weights flat;
    vkq_tensor_source source = vkq_flat_source(&flat, &cfg, init);
    OK(vkq_model_create(ctx, &cfg, &source, &o, &m));
    out->pieces = vkq_model_pieces(m);
    size_t n = out->n_trainable = vkq_model_trainable_floats(m);
    out->trainable = malloc(n * sizeof(float));
    if (o.lora.r) {
        vkq_lora_init(&cfg, &o.lora, 3, out->trainable);
        for (size_t i = 0; i < n; i++)
            out->trainable[i] += 0.01f * (float)((int)(i % 7) - 3);
        OK(vkq_model_upload_trainable(m, out->trainable));
    }
    int32_t tokens[TOKENS], offsets[3], rows[ROWS], targets[ROWS];
    float weights[ROWS];
    batch_of(tokens, offsets, rows, targets, weights);
    vkq_batch b = {tokens, TOKENS, offsets, 2, rows, ROWS};
    OK(vkq_model_set_batch(m, &b));
    vkq_buf dtargets, dweights, dlosses, dloss, dhyper;
    OK(vkq_buf_alloc(ctx, sizeof targets, &dtargets));
    OK(vkq_buf_alloc(ctx, sizeof weights, &dweights));
    OK(vkq_buf_alloc(ctx, sizeof weights, &dlosses));
    OK(vkq_buf_alloc(ctx, sizeof(float), &dloss));
    OK(vkq_buf_alloc(ctx, sizeof(vkq_adamw_hyper), &dhyper));
    OK(vkq_buf_upload(ctx, dtargets, 0, targets, sizeof targets));
    OK(vkq_buf_upload(ctx, dweights, 0, weights, sizeof weights));
    vkq_rec *rec;
    OK(vkq_rec_create(ctx, &rec));
    for (uint32_t step = 1; step <= STEPS; step++) {
        vkq_adamw_hyper h = {0.01f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f - powf(0.9f, step),
                             1.0f - powf(0.95f, step), max_norm};
        OK(vkq_buf_upload(ctx, dhyper, 0, &h, sizeof h));
        OK(vkq_rec_begin(rec));
        OK(vkq_model_zero_grads(m, rec));
        OK(vkq_model_forward(m, rec));
        OK(vkq_model_loss(m, rec, dtargets, dweights, dlosses));
        OK(vkq_sum(rec, dlosses, ROWS, dloss));
        OK(vkq_model_backward(m, rec));
        OK(vkq_model_adamw(m, rec, dhyper));
        OK(vkq_rec_end(rec));
        OK(vkq_rec_submit(rec));
        OK(vkq_buf_download(ctx, dloss, 0, &out->losses[step - 1], sizeof(float)));
    }
    out->params = malloc(ts.total * sizeof(float));
    out->m = malloc(n * sizeof(float));
    out->v = malloc(n * sizeof(float));
    OK(vkq_model_download_params(m, out->params));
    OK(vkq_model_download_trainable(m, out->trainable));
    OK(vkq_model_download_moments(m, out->m, out->v));
    vkq_rec_destroy(rec);
    vkq_buf *bufs[] = {&dtargets, &dweights, &dlosses, &dloss, &dhyper};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        vkq_buf_free(ctx, bufs[i]);
    vkq_model_destroy(m);
    free(init);
    OK(vkq_ctx_destroy(ctx));
}

static void train(const char *binding, int shared, float max_norm, run_result *out)
{
    train_base(binding, shared, max_norm, VKQ_F32, out);
}

static size_t total_floats(int shared)
{
    vkq_llama_config cfg = config(shared);
    vkq_llama_tensors ts;
    vkq_llama_tensors_of(&cfg, &ts);
    return ts.total;
}

/* Pieces of the flat blocks, no tensor split, no clipping: the arithmetic is the same, so the
 * run is the same bit for bit. */
static void pieces_train_bit_for_bit(void **state)
{
    (void)state;
    for (int shared = 0; shared <= 1; shared++) {
        run_result whole, split;
        train(NULL, shared, 0.0f, &whole);
        train(pieces_binding, shared, 0.0f, &split);
        size_t n = total_floats(shared);
        print_message("shared %d: %u piece(s) and %u pieces\n", shared, whole.pieces,
                      split.pieces);
        assert_int_equal(whole.pieces, 1);
        assert_true(split.pieces >= 2);
        assert_memory_equal(whole.losses, split.losses, sizeof whole.losses);
        assert_memory_equal(whole.params, split.params, n * sizeof(float));
        assert_memory_equal(whole.m, split.m, n * sizeof(float));
        assert_memory_equal(whole.v, split.v, n * sizeof(float));
        run_free(&whole);
        run_free(&split);
    }
}

/* The embedding and classifier in row pieces and clipping on: the classifier's input gradient
 * and the gradient norm add in another order, so the runs agree within 1e-12 NMSE. */
static void split_train_matches(void **state)
{
    (void)state;
    for (int shared = 0; shared <= 1; shared++) {
        run_result whole, split;
        train(NULL, shared, 1.0f, &whole);
        train(split_binding, shared, 1.0f, &split);
        size_t n = total_floats(shared);
        double e_loss = vkq_nmse(split.losses, whole.losses, STEPS);
        double e_params = vkq_nmse(split.params, whole.params, n);
        double e_m = vkq_nmse(split.m, whole.m, n), e_v = vkq_nmse(split.v, whole.v, n);
        print_message("shared %d, %u pieces: losses %.3e, params %.3e, m %.3e, v %.3e nmse; "
                      "last loss %.7f vs %.7f\n",
                      shared, split.pieces, e_loss, e_params, e_m, e_v, split.losses[STEPS - 1],
                      whole.losses[STEPS - 1]);
        assert_true(split.pieces > 3);
        assert_true(split.losses[STEPS - 1] < split.losses[0]); /* it trains */
        assert_true(e_loss <= 1e-12 && e_params <= 1e-12 && e_m <= 1e-12 && e_v <= 1e-12);
        run_free(&whole);
        run_free(&split);
    }
}

/* A 16-bit base under LoRA with its embedding and classifier in row pieces trains as it does
 * in one piece (within 1e-12 NMSE, as above), and stays what it was, bit for bit. */
static void half_base_split_train_matches(void **state)
{
    (void)state;
    static const vkq_dtype bases[] = {VKQ_BF16, VKQ_F16};
    for (int shared = 0; shared <= 1; shared++)
        for (size_t b = 0; b < 2; b++) {
            run_result whole, split;
            train_base(NULL, shared, 1.0f, bases[b], &whole);
            train_base(split_binding, shared, 1.0f, bases[b], &split);
            size_t n = split.n_trainable, total = total_floats(shared);
            double e_loss = vkq_nmse(split.losses, whole.losses, STEPS);
            double e_adapter = vkq_nmse(split.trainable, whole.trainable, n);
            double e_m = vkq_nmse(split.m, whole.m, n), e_v = vkq_nmse(split.v, whole.v, n);
            print_message("%s base, shared %d, %u pieces: losses %.3e, adapters %.3e, m %.3e, "
                          "v %.3e nmse\n", vkq_dtype_name(bases[b]), shared, split.pieces,
                          e_loss, e_adapter, e_m, e_v);
            assert_true(split.pieces > whole.pieces);
            assert_true(split.losses[STEPS - 1] < split.losses[0]);
            assert_true(e_loss <= 1e-12 && e_adapter <= 1e-12 && e_m <= 1e-12 &&
                        e_v <= 1e-12);
            /* the frozen base: the initial weights as 16 bits hold them, in both */
            vkq_llama_config cfg = config(shared);
            float *init = malloc(total * sizeof *init);
            uint16_t *halves = malloc(total * sizeof *halves);
            vkq_llama_init_random(&cfg, 7, init);
            vkq_model_options o = {.base_dtype = bases[b]};
            vkq_llama_tensors ts;
            vkq_model_tensors(&cfg, &o, &ts);
            for (int id = 0; id < VKQ_TENSOR_COUNT; id++) {
                size_t at = ts.t[id].offset, count = vkq_tensor_floats(&ts, (vkq_tensor_id)id);
                vkq_dtype_from_f32(ts.t[id].dtype, init + at, count, halves);
                vkq_dtype_to_f32(ts.t[id].dtype, halves, count, init + at);
            }
            assert_memory_equal(whole.params, init, total * sizeof *init);
            assert_memory_equal(split.params, init, total * sizeof *init);
            free(halves);
            free(init);
            run_free(&whole);
            run_free(&split);
        }
}

/* Greedy generation, two sequences in lockstep: the same logits and tokens. */
static void generate(const char *binding, int shared, const float *params, int32_t *tokens,
                     float *last_logits)
{
    enum { SEQS = 2, NEW = 12 };
    vkq_ctx *ctx = context(binding);
    vkq_llama_config cfg = config(shared);
    vkq_decoder *d;
    vkq_flat_weights flat;
    vkq_tensor_source weights = vkq_flat_source(&flat, &cfg, params);
    OK(vkq_decoder_create(ctx, &cfg, &weights, SEQS, &d));
    int32_t slots[SEQS] = {0, 1}, next[SEQS] = {1, 200}, positions[SEQS];
    float *logits = malloc(SEQS * VOCAB * sizeof *logits);
    for (int32_t step = 0; step < NEW; step++) {
        positions[0] = positions[1] = step;
        OK(vkq_decoder_step(d, slots, next, positions, SEQS, logits));
        for (int s = 0; s < SEQS; s++) {
            const float *row = logits + s * VOCAB;
            int32_t best = 0;
            for (int32_t v = 1; v < VOCAB; v++)
                best = row[v] > row[best] ? v : best;
            next[s] = best;
            tokens[step * SEQS + s] = best;
        }
    }
    memcpy(last_logits, logits, SEQS * VOCAB * sizeof *logits);
    free(logits);
    vkq_decoder_destroy(d);
    OK(vkq_ctx_destroy(ctx));
}

static void split_generation_matches(void **state)
{
    (void)state;
    for (int shared = 0; shared <= 1; shared++) {
        run_result trained;
        train(NULL, shared, 1.0f, &trained);
        int32_t whole[24], split[24];
        float whole_logits[2 * VOCAB], split_logits[2 * VOCAB];
        generate(NULL, shared, trained.params, whole, whole_logits);
        generate(split_binding, shared, trained.params, split, split_logits);
        assert_memory_equal(whole, split, sizeof whole);
        /* each logit is one dot product, in the same order in a piece as in the whole */
        assert_memory_equal(whole_logits, split_logits, sizeof whole_logits);
        run_free(&trained);
    }
}

/* A checkpoint's state (parameters and moments) from a split model into a whole one and back
 * into a split one comes out as it went in. */
static void checkpoint_round_trip(void **state)
{
    (void)state;
    run_result trained;
    train(split_binding, 0, 1.0f, &trained);
    vkq_llama_config cfg = config(0);
    size_t n = total_floats(0);
    vkq_model_options o = {.max_tokens = TOKENS, .max_rows = ROWS, .training = 1};
    const char *bindings[] = {NULL, split_binding};
    for (size_t i = 0; i < 2; i++) {
        vkq_ctx *ctx = context(bindings[i]);
        vkq_model *m;
        vkq_flat_weights flat;
        vkq_tensor_source weights = vkq_flat_source(&flat, &cfg, trained.params);
        OK(vkq_model_create(ctx, &cfg, &weights, &o, &m));
        OK(vkq_model_upload_moments(m, trained.m, trained.v));
        float *p = malloc(n * sizeof *p), *mm = malloc(n * sizeof *mm), *v = malloc(n * sizeof *v);
        OK(vkq_model_download_params(m, p));
        OK(vkq_model_download_moments(m, mm, v));
        assert_memory_equal(p, trained.params, n * sizeof *p);
        assert_memory_equal(mm, trained.m, n * sizeof *mm);
        assert_memory_equal(v, trained.v, n * sizeof *v);
        free(p);
        free(mm);
        free(v);
        vkq_model_destroy(m);
        OK(vkq_ctx_destroy(ctx));
    }
    run_free(&trained);
}

/* A tensor other than the embedding and classifier larger than a binding is refused by name. */
static void unsplittable_tensor_is_refused(void **state)
{
    (void)state;
    vkq_ctx *ctx = context("2048"); /* w1's slice is 24 x 16 floats, 1536 bytes; rows 64 */
    vkq_llama_config cfg = config(0);
    cfg.hidden_dim = 64;
    vkq_llama_tensors ts;
    vkq_llama_tensors_of(&cfg, &ts);
    float *params = calloc(ts.total, sizeof *params);
    vkq_model_options o = {.max_tokens = 4, .max_rows = 1, .training = 0};
    vkq_model *m = NULL;
    vkq_flat_weights flat;
    vkq_tensor_source weights = vkq_flat_source(&flat, &cfg, params);
    assert_int_equal(vkq_model_create(ctx, &cfg, &weights, &o, &m), VKQ_ERR_UNSUPPORTED);
    assert_null(m);
    assert_non_null(strstr(vkq_last_error(), "tensor w1 (layer 0"));
    free(params);
    OK(vkq_ctx_destroy(ctx));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pieces_train_bit_for_bit),
        cmocka_unit_test(split_train_matches),
        cmocka_unit_test(half_base_split_train_matches),
        cmocka_unit_test(split_generation_matches),
        cmocka_unit_test(checkpoint_round_trip),
        cmocka_unit_test(unsplittable_tensor_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
