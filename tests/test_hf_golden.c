/* One training step of each Hugging Face architecture (Llama 3, Qwen2, Qwen3, Mistral) against
 * an independent float64 PyTorch model (tools/make_golden_hf.py): logits, loss and the
 * gradient of every tensor by its Hugging Face name; then the KV-cache decoder's logits.
 * The model is loaded from the committed directories, float32 and bfloat16, through the
 * Hugging Face loader; the description must be the one config.json spells out and every
 * weight the golden file's value. The directory vkquill writes back loads again to the same
 * weights and generates the same tokens. */
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
#include "vkquill/hf_names.h"
#include "vkquill/kernels.h"
#include "vkquill/model.h"
#include "vkquill/model_file.h"

#define HF_DIR VKQ_SOURCE_DIR "/tests/golden/hf/"

/* The descriptions the committed config.json files spell out. */
static vkq_llama_config base(void)
{
    return (vkq_llama_config){.dim = 16, .hidden_dim = 24, .n_layers = 2, .vocab_size = 40,
                              .seq_len = 64, .norm_eps = 1e-6f, .rope_pairs = VKQ_ROPE_HALVES,
                              .bos_id = 1, .pad_id = -1, .eos_ids = {2}, .n_eos = 1};
}

static vkq_llama_config llama3(void)
{
    vkq_llama_config c = base();
    c.n_heads = 2, c.n_kv_heads = 1, c.head_dim = 8, c.rope_theta = 500000.0f;
    c.shared_classifier = 1;
    c.rope_scaling = (vkq_rope_scaling){VKQ_ROPE_SCALING_LLAMA3, 8.0f, 1.0f, 4.0f, 256};
    c.eos_ids[1] = 3, c.n_eos = 2;
    return c;
}

static vkq_llama_config qwen2(void)
{
    vkq_llama_config c = base();
    c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 4, c.rope_theta = 1000000.0f;
    c.shared_classifier = 1, c.qkv_bias = 1;
    return c;
}

static vkq_llama_config qwen3(void)
{
    vkq_llama_config c = base();
    c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 8, c.rope_theta = 1000000.0f;
    c.shared_classifier = 1, c.qk_norm = 1;
    return c;
}

static vkq_llama_config mistral(void)
{
    vkq_llama_config c = base();
    c.n_heads = 4, c.n_kv_heads = 1, c.head_dim = 4, c.rope_theta = 10000.0f;
    return c;
}

typedef struct arch_case {
    const char *name, *dir;
    vkq_llama_config (*config)(void);
} arch_case;

typedef struct fixture {
    vkq_ctx *ctx;
    vkq_golden golden;
    vkq_model_file *file;
    vkq_tensor_source weights;
    vkq_llama_config cfg;
    vkq_llama_tensors tensors;
    float *params, *grads;
    int missing; /* tensors the golden file lacks */
    double worst_grad;
} fixture;

static const vkq_golden_record *record(fixture *f, const char *name)
{
    const vkq_golden_record *r = vkq_golden_find(&f->golden, name);
    if (!r)
        fail_msg("golden record %s is missing", name);
    return r;
}

/* The loaded weight of one slice is the golden file's value, bit for bit (the values are
 * bfloat16-exact, so both dtypes hold them exactly). */
static vkq_status check_param(void *user, const char *name, size_t offset, const vkq_tensor *t)
{
    fixture *f = user;
    char key[160];
    snprintf(key, sizeof key, "param:%s", name);
    const vkq_golden_record *r = vkq_golden_find(&f->golden, key);
    if (!r || r->count != vkq_tensor_slice(t) ||
        memcmp(f->params + offset, r->data.f32, r->count * sizeof(float)) != 0) {
        print_error("%s: missing, of the wrong size or not the loaded value\n", key);
        f->missing++;
    }
    return VKQ_OK;
}

static vkq_status compare_grad(void *user, const char *name, size_t offset, const vkq_tensor *t)
{
    fixture *f = user;
    char key[160];
    snprintf(key, sizeof key, "grad:%s", name);
    const vkq_golden_record *r = record(f, key);
    assert_int_equal(r->count, vkq_tensor_slice(t));
    double e = vkq_nmse(f->grads + offset, r->data.f32, r->count);
    f->worst_grad = e > f->worst_grad ? e : f->worst_grad;
    if (e >= 1e-8)
        fail_msg("%s nmse %.3e", key, e);
    return VKQ_OK;
}

/* The directory's description is the one its config.json spells out, and every tensor of
 * the golden file is loaded with its value, none left over. */
static void load_model(fixture *f, const arch_case *a)
{
    char path[512];
    snprintf(path, sizeof path, HF_DIR "%s", a->dir);
    OK(vkq_model_file_open(path, &f->file));
    f->cfg = *vkq_model_file_config(f->file);
    vkq_llama_config want = a->config();
    assert_memory_equal(&f->cfg, &want, sizeof want);
    assert_int_equal(vkq_model_file_dtype(f->file),
                     strstr(a->dir, "bf16") ? VKQ_ST_BF16 : VKQ_ST_F32);
    f->weights = vkq_model_file_weights(f->file);
    vkq_llama_tensors_of(&f->cfg, &f->tensors);
    OK(vkq_tensor_source_read_all(&f->cfg, &f->weights, &f->params));
    f->grads = calloc(f->tensors.total, sizeof *f->grads);
    assert_non_null(f->grads);
    OK(vkq_hf_each_tensor(&f->cfg, check_param, f));
    assert_int_equal(f->missing, 0);
    size_t golden_params = 0;
    for (uint32_t i = 0; i < f->golden.n_records; i++)
        if (strncmp(f->golden.records[i].name, "param:", 6) == 0)
            golden_params += f->golden.records[i].count;
    assert_int_equal(golden_params, f->tensors.total);
}

static void training_step_matches(fixture *f, const char *arch)
{
    const vkq_golden_record *tokens = record(f, "tokens"), *offsets = record(f, "offsets");
    const vkq_golden_record *rows = record(f, "rows"), *targets = record(f, "targets");
    const vkq_golden_record *weights = record(f, "weights");
    uint32_t n_rows = (uint32_t)rows->count, v = f->cfg.vocab_size;
    vkq_model_options o = {.max_tokens = 32, .max_rows = 32, .training = 1};
    vkq_model *m;
    vkq_rec *rec;
    OK(vkq_model_create(f->ctx, &f->cfg, &f->weights, &o, &m));
    OK(vkq_rec_create(f->ctx, &rec));
    vkq_batch b = {tokens->data.i32, (uint32_t)tokens->count, offsets->data.i32,
                   (uint32_t)offsets->count - 1, rows->data.i32, n_rows};
    OK(vkq_model_set_batch(m, &b));
    vkq_buf dt, dw, dl, loss;
    OK(vkq_buf_alloc(f->ctx, 4ull * n_rows, &dt));
    OK(vkq_buf_alloc(f->ctx, 4ull * n_rows, &dw));
    OK(vkq_buf_alloc(f->ctx, 4ull * n_rows, &dl));
    OK(vkq_buf_alloc(f->ctx, 4, &loss));
    OK(vkq_buf_upload(f->ctx, dt, 0, targets->data.i32, 4ull * n_rows));
    OK(vkq_buf_upload(f->ctx, dw, 0, weights->data.f32, 4ull * n_rows));

    float *logits = malloc(sizeof(float) * n_rows * v);
    assert_non_null(logits);
    OK(vkq_rec_begin(rec));
    OK(vkq_model_forward(m, rec));
    OK(vkq_rec_end(rec));
    OK(vkq_rec_submit(rec));
    OK(vkq_buf_download(f->ctx, vkq_model_logits(m), 0, logits, sizeof(float) * n_rows * v));
    double e = vkq_nmse(logits, record(f, "logits")->data.f32, (size_t)n_rows * v);
    print_message("%s logits nmse %.3e\n", arch, e);
    assert_true(e < 1e-10);

    OK(vkq_rec_begin(rec));
    OK(vkq_model_zero_grads(m, rec));
    OK(vkq_model_forward(m, rec));
    OK(vkq_model_loss(m, rec, dt, dw, dl));
    OK(vkq_sum(rec, dl, n_rows, loss));
    OK(vkq_model_backward(m, rec));
    OK(vkq_rec_end(rec));
    OK(vkq_rec_submit(rec));
    float got;
    OK(vkq_buf_download(f->ctx, loss, 0, &got, sizeof got));
    float want = record(f, "loss")->data.f32[0];
    print_message("%s loss %.7f (PyTorch %.7f)\n", arch, got, want);
    assert_true(fabsf(got - want) < 1e-5f * want);
    OK(vkq_model_download_grads(m, f->grads));
    OK(vkq_hf_each_tensor(&f->cfg, compare_grad, f));
    print_message("%s gradients: worst tensor nmse %.3e\n", arch, f->worst_grad);
    free(logits);
    vkq_buf *bufs[] = {&dt, &dw, &dl, &loss};
    for (size_t i = 0; i < 4; i++)
        vkq_buf_free(f->ctx, bufs[i]);
    vkq_rec_destroy(rec);
    vkq_model_destroy(m);
}

/* The decoder, fed each sequence one token at a time in its own cache slot, gives the
 * golden logits at the golden rows. */
static void decoder_matches(fixture *f, const char *arch)
{
    const vkq_golden_record *tokens = record(f, "tokens"), *offsets = record(f, "offsets");
    const vkq_golden_record *rows = record(f, "rows"), *want = record(f, "logits");
    uint32_t seqs = (uint32_t)offsets->count - 1, v = f->cfg.vocab_size;
    vkq_decoder *d;
    OK(vkq_decoder_create(f->ctx, &f->cfg, &f->weights, seqs, &d));
    float *step = malloc(sizeof(float) * seqs * v), *got = calloc(want->count, sizeof(float));
    assert_non_null(step);
    assert_non_null(got);
    for (int32_t pos = 0;; pos++) {
        int32_t slots[8], toks[8], positions[8], at[8];
        uint32_t n = 0;
        for (uint32_t s = 0; s < seqs; s++)
            if (offsets->data.i32[s] + pos < offsets->data.i32[s + 1]) {
                slots[n] = (int32_t)s, positions[n] = pos;
                at[n] = offsets->data.i32[s] + pos;
                toks[n] = tokens->data.i32[at[n]];
                n++;
            }
        if (n == 0)
            break;
        OK(vkq_decoder_step(d, slots, toks, positions, n, step));
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t r = 0; r < rows->count; r++)
                if (rows->data.i32[r] == at[i])
                    memcpy(got + (size_t)r * v, step + (size_t)i * v, sizeof(float) * v);
    }
    double e = vkq_nmse(got, want->data.f32, want->count);
    print_message("%s decoder logits nmse %.3e\n", arch, e);
    assert_true(e < 1e-10);
    free(step);
    free(got);
    vkq_decoder_destroy(d);
}

/* Greedy continuation of a fixed prompt, one token a step from the decoder. */
static void greedy(vkq_ctx *ctx, const vkq_llama_config *c, const vkq_tensor_source *weights,
                   int32_t *tokens, int n)
{
    vkq_decoder *d;
    OK(vkq_decoder_create(ctx, c, weights, 1, &d));
    float *logits = malloc(sizeof(float) * c->vocab_size);
    assert_non_null(logits);
    tokens[0] = 1, tokens[1] = 7, tokens[2] = 19; /* the prompt */
    for (int32_t pos = 0; pos + 1 < n; pos++) {
        int32_t slot = 0;
        OK(vkq_decoder_step(d, &slot, &tokens[pos], &pos, 1, logits));
        if (pos + 1 < 3)
            continue;
        int32_t best = 0;
        for (uint32_t v = 1; v < c->vocab_size; v++)
            best = logits[v] > logits[best] ? (int32_t)v : best;
        tokens[pos + 1] = best;
    }
    free(logits);
    vkq_decoder_destroy(d);
}

/* What vkquill writes from the loaded model is a directory of the same dtype and config that
 * loads to the same weights and continues a prompt with the same tokens. */
static void written_loads_back(fixture *f, const char *arch)
{
    char dir[TEST_DIR_SIZE], path[TEST_DIR_SIZE + 8], written[TEST_DIR_SIZE + 32];
    assert_int_equal(test_make_temp_dir(dir, "hf-golden"), 0);
    snprintf(path, sizeof path, "%s/model", dir);
    OK(vkq_model_file_write_like(f->file, path, f->params, written, sizeof written));
    assert_string_equal(written, path);
    vkq_model_file *back;
    OK(vkq_model_file_open(written, &back));
    assert_memory_equal(vkq_model_file_config(back), &f->cfg, sizeof f->cfg);
    assert_int_equal(vkq_model_file_dtype(back), vkq_model_file_dtype(f->file));
    vkq_tensor_source weights = vkq_model_file_weights(back);
    float *params;
    OK(vkq_tensor_source_read_all(&f->cfg, &weights, &params));
    assert_memory_equal(params, f->params, f->tensors.total * sizeof *params);
    enum { N = 16 };
    int32_t want[N], got[N];
    greedy(f->ctx, &f->cfg, &f->weights, want, N);
    greedy(f->ctx, &f->cfg, &weights, got, N);
    assert_memory_equal(got, want, sizeof want);
    print_message("%s: the written directory loads back and generates the same %d tokens\n",
                  arch, N);
    free(params);
    vkq_model_file_close(back);
    assert_int_equal(test_remove_tree(dir), 0);
}

static void run_arch(void **state)
{
    const arch_case *a = *state;
    fixture f = {0};
    char path[512];
    snprintf(path, sizeof path, HF_DIR "%s_golden.bin", a->name);
    OK(vkq_golden_load(path, &f.golden));
    OK(vkq_ctx_create(NULL, &f.ctx));
    load_model(&f, a);
    training_step_matches(&f, a->dir);
    decoder_matches(&f, a->dir);
    written_loads_back(&f, a->dir);
    free(f.params);
    free(f.grads);
    vkq_model_file_close(f.file);
    OK(vkq_ctx_destroy(f.ctx));
    vkq_golden_free(&f.golden);
}

static arch_case cases[] = {
    {"llama3", "llama3", llama3},   {"llama3", "llama3_bf16", llama3},
    {"qwen2", "qwen2", qwen2},      {"qwen2", "qwen2_bf16", qwen2},
    {"qwen3", "qwen3", qwen3},      {"qwen3", "qwen3_bf16", qwen3},
    {"mistral", "mistral", mistral}, {"mistral", "mistral_bf16", mistral}};

int main(void)
{
    struct CMUnitTest tests[sizeof cases / sizeof cases[0]];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        tests[i] = (struct CMUnitTest){cases[i].dir, run_arch, NULL, NULL, &cases[i]};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
