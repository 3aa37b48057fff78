/* bench train and bench generate: tokens per second of a full training step and of batched
 * decoding, on the model shape of a llama2.c checkpoint. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/status_internal.h"
#include "cli/cli.h"
#include "vkquill/kernels.h"
#include "vkquill/model.h"
#include "vkquill/model_file.h"
#include "vkquill/train.h"

typedef struct model_bench {
    const char *model, *method, *tokenizer, *data;
    vkq_dtype stored; /* the model file's device dtype, what --base-dtype auto keeps */
    /* the trainer's options of the same names, as text */
    const char *lora_r, *lora_targets, *base_dtype, *recompute;
    uint32_t batch, seq, runs;
    int json;
} model_bench;

typedef struct train_bufs {
    vkq_buf targets, weights, losses, loss, hyper;
} train_bufs;

static uint64_t next_random(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state >> 33;
}

/* batch sequences of seq random tokens, logits at every position. */
static vkq_status random_batch(uint32_t batch, uint32_t seq, uint32_t vocab, int32_t **ints,
                               vkq_batch *b)
{
    uint32_t n = batch * seq;
    *ints = malloc((3ull * n + batch + 1) * sizeof **ints);
    if (!*ints)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    int32_t *tokens = *ints, *rows = tokens + n, *targets = rows + n, *offsets = targets + n;
    uint64_t state = 1234;
    for (uint32_t i = 0; i < n; i++) {
        tokens[i] = (int32_t)(next_random(&state) % vocab);
        targets[i] = (int32_t)(next_random(&state) % vocab);
        rows[i] = (int32_t)i;
    }
    for (uint32_t s = 0; s <= batch; s++)
        offsets[s] = (int32_t)(s * seq);
    *b = (vkq_batch){tokens, n, offsets, batch, rows, n};
    return VKQ_OK;
}

enum { TRAIN_BUFS = 5 };

/* Bytes of train_bufs' buffers, in its order, for n logit rows. */
static void train_buf_sizes(uint32_t n, uint64_t out[TRAIN_BUFS])
{
    const uint64_t sizes[TRAIN_BUFS] = {4ull * n, 4ull * n, 4ull * n, 4, sizeof(vkq_adamw_hyper)};
    memcpy(out, sizes, sizeof sizes);
}

static vkq_status train_bufs_init(vkq_ctx *ctx, const int32_t *targets, uint32_t n, train_bufs *t)
{
    uint64_t sizes[TRAIN_BUFS];
    train_buf_sizes(n, sizes);
    vkq_buf *bufs[TRAIN_BUFS] = {&t->targets, &t->weights, &t->losses, &t->loss, &t->hyper};
    for (int i = 0; i < TRAIN_BUFS; i++)
        VKQ_TRY(vkq_buf_alloc(ctx, sizes[i], bufs[i]));
    float *weights = malloc(n * sizeof *weights);
    if (!weights)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t i = 0; i < n; i++)
        weights[i] = 1.0f / (float)n;
    vkq_adamw_hyper h = {.lr = 1e-4f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                         .weight_decay = 0.1f, .bias_correction1 = 0.1f,
                         .bias_correction2 = 0.05f, .max_grad_norm = 1.0f};
    vkq_status s = vkq_buf_upload(ctx, t->targets, 0, targets, 4ull * n);
    if (s == VKQ_OK)
        s = vkq_buf_upload(ctx, t->weights, 0, weights, 4ull * n);
    if (s == VKQ_OK)
        s = vkq_buf_upload(ctx, t->hyper, 0, &h, sizeof h);
    free(weights);
    return s;
}

static void train_bufs_free(vkq_ctx *ctx, train_bufs *t)
{
    vkq_buf *all[] = {&t->targets, &t->weights, &t->losses, &t->loss, &t->hyper};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        vkq_buf_free(ctx, all[i]);
}

/* One training step as a trainer runs it: record everything, submit once, wait. */
static vkq_status train_step(vkq_model *m, vkq_rec *rec, const vkq_batch *b, train_bufs *t)
{
    VKQ_TRY(vkq_model_set_batch(m, b));
    VKQ_TRY(vkq_rec_begin(rec));
    VKQ_TRY(vkq_model_zero_grads(m, rec));
    VKQ_TRY(vkq_model_forward(m, rec));
    VKQ_TRY(vkq_model_loss(m, rec, t->targets, t->weights, t->losses));
    VKQ_TRY(vkq_sum(rec, t->losses, b->n_rows, t->loss));
    VKQ_TRY(vkq_model_backward(m, rec));
    VKQ_TRY(vkq_model_adamw(m, rec, t->hyper));
    VKQ_TRY(vkq_rec_end(rec));
    return vkq_rec_submit(rec);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* What a step trains: "full fine-tuning" or "LoRA r 16, bf16 base", and the recomputation. */
static void describe_training(const vkq_model_options *o, char *out, size_t size)
{
    int n = o->lora.r ? snprintf(out, size, "LoRA r %u, %s base", o->lora.r,
                                 vkq_dtype_name(o->base_dtype))
                      : snprintf(out, size, "full fine-tuning");
    if (o->recompute && n > 0 && (size_t)n < size)
        snprintf(out + n, size - (size_t)n, ", layers recomputed");
}

static void print_train(const vkq_ctx *ctx, const model_bench *mb, const vkq_model_options *opt,
                        double step_s, float loss, uint32_t dispatches)
{
    double tokens_per_s = (double)mb->batch * mb->seq / step_s;
    uint64_t peak = vkq_ctx_memory_peak(ctx);
    char what[96];
    describe_training(opt, what, sizeof what);
    if (!mb->json) {
        printf("train %s (%s) batch=%u seq=%u: %.0f tokens/s (%.1f ms a step, median of %u; "
               "%u dispatches), peak device memory %.1f MiB, loss %.4f [%s]\n",
               mb->model, what, mb->batch, mb->seq, tokens_per_s, step_s * 1e3, mb->runs,
               dispatches, peak / 1048576.0, loss, vkq_ctx_device(ctx)->name);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "bench", "train");
    cJSON_AddStringToObject(o, "model", mb->model);
    cJSON_AddNumberToObject(o, "lora_r", opt->lora.r);
    cJSON_AddStringToObject(o, "base_dtype", vkq_dtype_name(opt->base_dtype));
    cJSON_AddBoolToObject(o, "recompute", opt->recompute);
    cJSON_AddNumberToObject(o, "batch", mb->batch);
    cJSON_AddNumberToObject(o, "seq", mb->seq);
    cJSON_AddNumberToObject(o, "tokens_per_s", tokens_per_s);
    cJSON_AddNumberToObject(o, "step_ms", step_s * 1e3);
    cJSON_AddNumberToObject(o, "runs", mb->runs);
    cJSON_AddNumberToObject(o, "dispatches", dispatches);
    cJSON_AddNumberToObject(o, "peak_device_bytes", (double)peak);
    cJSON_AddNumberToObject(o, "loss", loss);
    cJSON_AddStringToObject(o, "device", vkq_ctx_device(ctx)->name);
    cli_emit_json(o);
}

static vkq_status time_training(vkq_ctx *ctx, vkq_model *m, const model_bench *mb,
                                const vkq_model_options *opt, const vkq_batch *b, train_bufs *t)
{
    vkq_rec *rec;
    VKQ_TRY(vkq_rec_create(ctx, &rec));
    double *times = calloc(mb->runs, sizeof *times);
    vkq_status s = times ? VKQ_OK : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t i = 0; s == VKQ_OK && i < 2; i++) /* warm-up: pipelines compile here */
        s = train_step(m, rec, b, t);
    for (uint32_t i = 0; s == VKQ_OK && i < mb->runs; i++) {
        double t0 = cli_now_seconds();
        s = train_step(m, rec, b, t);
        times[i] = cli_now_seconds() - t0;
    }
    float loss = NAN;
    if (s == VKQ_OK)
        s = vkq_buf_download(ctx, t->loss, 0, &loss, sizeof loss);
    if (s == VKQ_OK) {
        qsort(times, mb->runs, sizeof *times, compare_doubles);
        print_train(ctx, mb, opt, times[mb->runs / 2], loss, vkq_rec_dispatch_count(rec));
    }
    free(times);
    vkq_rec_destroy(rec);
    return s;
}

/* The LoRA, base dtype and recompute options into a trainer configuration, checked by it. */
static vkq_status training_options(const model_bench *mb, vkq_train_config *c)
{
    vkq_train_config_defaults(c);
    const struct { const char *key, *value; } given[] = {
        {"lora_r", mb->lora_r}, {"lora_targets", mb->lora_targets},
        {"base_dtype", mb->base_dtype}, {"recompute", mb->recompute}};
    for (size_t i = 0; i < sizeof given / sizeof given[0]; i++) {
        char flag[32];
        snprintf(flag, sizeof flag, "--%s", given[i].key);
        for (char *p = flag; *p; p++)
            *p = *p == '_' ? '-' : *p;
        if (given[i].value)
            VKQ_TRY(vkq_train_config_set(c, given[i].key, given[i].value, flag));
    }
    return VKQ_OK;
}

/* The model options of a bench step: the batch, and what the flags ask of the training. */
static vkq_status bench_options(const model_bench *mb, const vkq_batch *b, vkq_model_options *o)
{
    vkq_train_config c;
    VKQ_TRY(training_options(mb, &c));
    return vkq_train_model_options(&c, b->n_tokens, b->n_rows, mb->stored, o);
}

static vkq_status bench_train_on(vkq_ctx *ctx, const model_bench *mb, const vkq_llama_config *cfg,
                                 const vkq_tensor_source *weights)
{
    vkq_batch b;
    int32_t *ints;
    VKQ_TRY(random_batch(mb->batch, mb->seq, cfg->vocab_size, &ints, &b));
    vkq_model_options o;
    vkq_status s = bench_options(mb, &b, &o);
    if (s != VKQ_OK) {
        free(ints);
        return s;
    }
    vkq_memory_plan plan;
    vkq_scratch_target target;
    vkq_scratch_target_of(ctx, &target);
    s = vkq_model_memory_plan(cfg, &o, &target, vkq_reduce_scratch(&target, b.n_rows), &plan);
    uint64_t sizes[TRAIN_BUFS];
    train_buf_sizes(b.n_rows, sizes);
    for (int i = 0; i < TRAIN_BUFS; i++)
        vkq_memory_plan_add(&plan, &plan.loss, sizes[i]);
    char parts[320];
    vkq_memory_plan_describe(&plan, parts, sizeof parts);
    if (s == VKQ_OK && !mb->json)
        printf("device memory planned: %s\n", parts);
    vkq_model *m = NULL;
    train_bufs t = {0};
    if (s == VKQ_OK)
        s = vkq_model_create(ctx, cfg, weights, &o, &m);
    if (s == VKQ_OK)
        s = train_bufs_init(ctx, ints + 2 * b.n_tokens, b.n_rows, &t);
    if (s == VKQ_OK)
        s = time_training(ctx, m, mb, &o, &b, &t);
    train_bufs_free(ctx, &t);
    vkq_model_destroy(m);
    free(ints);
    return s;
}

static vkq_status parse_model_bench(const char *command, int argc, char **argv, model_bench *mb)
{
    cli_option opts[] = {{"--model", CLI_STRING, &mb->model}, {"--batch", CLI_U32, &mb->batch},
                         {"--seq", CLI_U32, &mb->seq},        {"--runs", CLI_U32, &mb->runs},
                         {"--json", CLI_FLAG, &mb->json},     {"--method", CLI_STRING, &mb->method},
                         {"--tokenizer", CLI_STRING, &mb->tokenizer},
                         {"--data", CLI_STRING, &mb->data},
                         {"--lora-r", CLI_STRING, &mb->lora_r},
                         {"--lora-targets", CLI_STRING, &mb->lora_targets},
                         {"--base-dtype", CLI_STRING, &mb->base_dtype},
                         {"--recompute", CLI_STRING, &mb->recompute}};
    VKQ_TRY(cli_parse(command, argc, argv, 3, opts, sizeof opts / sizeof opts[0]));
    if (!mb->model)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: --model is required", command);
    return VKQ_OK;
}

/* Loads the checkpoint, makes a context, runs fn. */
static vkq_status with_model(model_bench *mb,
                             vkq_status (*fn)(vkq_ctx *, const model_bench *,
                                              const vkq_llama_config *,
                                              const vkq_tensor_source *))
{
    vkq_model_file *model;
    VKQ_TRY(vkq_model_file_open(mb->model, &model));
    mb->stored = vkq_model_file_device_dtype(model);
    const vkq_llama_config *cfg = vkq_model_file_config(model);
    vkq_tensor_source weights = vkq_model_file_weights(model);
    vkq_ctx *ctx = NULL;
    vkq_status s = VKQ_OK;
    if (mb->seq > cfg->seq_len)
        s = vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "--seq %u exceeds the model's context of %u",
                     mb->seq, cfg->seq_len);
    if (s == VKQ_OK)
        s = vkq_ctx_create(NULL, &ctx);
    if (s == VKQ_OK) {
        s = fn(ctx, mb, cfg, &weights);
        vkq_ctx_print_profile(ctx, stderr);
        vkq_status d = vkq_ctx_destroy(ctx);
        if (s == VKQ_OK)
            s = d;
    }
    vkq_model_file_close(model);
    return s;
}

typedef struct step_times {
    double last, *seconds, *tokens;
    uint32_t count;
} step_times;

static void record_step_time(const vkq_train_progress *p, void *user)
{
    step_times *t = user;
    if (p->memory_only)
        return;
    t->tokens[t->count] = p->tokens;
    t->seconds[t->count++] = p->elapsed_s - t->last;
    t->last = p->elapsed_s;
}

/* Training steps of a method on real samples (paired passes for all but sft), through the
 * trainer itself, in a temporary run directory. */
static vkq_status bench_method(const model_bench *mb)
{
    if (!vkq_model_tokenizer_path(mb->model, mb->tokenizer) || !mb->data)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "bench train --method needs --tokenizer (or a model directory) and "
                        "--data");
    enum { WARMUP = 2 };
    vkq_train_config c;
    VKQ_TRY(training_options(mb, &c));
    char dir[] = "/tmp/vkquill-bench-XXXXXX";
    if (!mkdtemp(dir))
        return vkq_fail(VKQ_ERR_IO, "cannot create a temporary run directory");
    vkq_status s = vkq_train_config_set(&c, "method", mb->method, "--method");
    snprintf(c.model, sizeof c.model, "%s", mb->model);
    snprintf(c.tokenizer, sizeof c.tokenizer, "%s", mb->tokenizer ? mb->tokenizer : "");
    snprintf(c.data, sizeof c.data, "%s", mb->data);
    snprintf(c.out, sizeof c.out, "%s", dir);
    c.steps = mb->runs + WARMUP;
    c.batch = mb->batch;
    double seconds[64], tokens[64];
    step_times times = {0, seconds, tokens, 0};
    if (c.steps > 64)
        s = vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "bench train --method: at most 62 runs");
    vkq_ctx *ctx = NULL;
    if (s == VKQ_OK)
        s = vkq_ctx_create(NULL, &ctx);
    if (s == VKQ_OK)
        s = vkq_train_run(ctx, &c, record_step_time, &times, NULL);
    if (ctx) {
        vkq_ctx_print_profile(ctx, stderr);
        vkq_status d = vkq_ctx_destroy(ctx);
        s = s == VKQ_OK ? d : s;
    }
    vkq_status removed = vkq_remove_tree(dir);
    VKQ_TRY(s);
    VKQ_TRY(removed);
    double step_tokens = 0;
    for (uint32_t i = WARMUP; i < c.steps; i++)
        step_tokens += tokens[i] / mb->runs;
    qsort(seconds + WARMUP, mb->runs, sizeof *seconds, compare_doubles);
    double step_ms = 1e3 * seconds[WARMUP + mb->runs / 2];
    if (mb->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "bench", "train");
        cJSON_AddStringToObject(o, "method", mb->method);
        cJSON_AddStringToObject(o, "data", mb->data);
        cJSON_AddNumberToObject(o, "batch", mb->batch);
        cJSON_AddNumberToObject(o, "step_ms", step_ms);
        cJSON_AddNumberToObject(o, "tokens_per_step", step_tokens);
        cJSON_AddNumberToObject(o, "runs", mb->runs);
        cli_emit_json(o);
    } else {
        printf("train --method %s on %s, batch %u: %.1f ms a step (median of %u), %.0f tokens "
               "a step (mean, both passes of a paired method)\n",
               mb->method, mb->data, mb->batch, step_ms, mb->runs, step_tokens);
    }
    return VKQ_OK;
}

vkq_status cli_bench_train(int argc, char **argv)
{
    model_bench mb = {.batch = 8, .seq = 256, .runs = 5};
    VKQ_TRY(parse_model_bench("bench train", argc, argv, &mb));
    if (mb.method)
        return bench_method(&mb);
    return with_model(&mb, bench_train_on);
}

static vkq_status bench_generate_on(vkq_ctx *ctx, const model_bench *mb,
                                    const vkq_llama_config *cfg,
                                    const vkq_tensor_source *weights)
{
    vkq_decoder *d;
    VKQ_TRY(vkq_decoder_create(ctx, cfg, weights, mb->batch, &d));
    int32_t *ints = malloc(3ull * mb->batch * sizeof *ints);
    float *logits = malloc((size_t)mb->batch * cfg->vocab_size * sizeof *logits);
    vkq_status s = ints && logits ? VKQ_OK : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    int32_t *slots = ints, *tokens = ints + mb->batch, *positions = ints + 2 * mb->batch;
    for (uint32_t i = 0; i < mb->batch && s == VKQ_OK; i++) {
        slots[i] = (int32_t)i;
        tokens[i] = 1;
    }
    double t0 = 0;
    for (uint32_t pos = 0; pos < mb->seq && s == VKQ_OK; pos++) {
        if (pos == 1)
            t0 = cli_now_seconds(); /* position 0 compiles the pipelines */
        for (uint32_t i = 0; i < mb->batch; i++)
            positions[i] = (int32_t)pos;
        s = vkq_decoder_step(d, slots, tokens, positions, mb->batch, logits);
        for (uint32_t i = 0; i < mb->batch && s == VKQ_OK; i++) {
            const float *row = logits + (size_t)i * cfg->vocab_size;
            int32_t best = 0;
            for (uint32_t v = 1; v < cfg->vocab_size; v++)
                if (row[v] > row[best])
                    best = (int32_t)v;
            tokens[i] = best;
        }
    }
    if (s == VKQ_OK && mb->seq > 1) {
        double seconds = cli_now_seconds() - t0;
        double tps = (double)mb->batch * (mb->seq - 1) / seconds;
        if (mb->json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "bench", "generate");
            cJSON_AddStringToObject(o, "model", mb->model);
            cJSON_AddNumberToObject(o, "batch", mb->batch);
            cJSON_AddNumberToObject(o, "steps", mb->seq);
            cJSON_AddNumberToObject(o, "tokens_per_s", tps);
            cJSON_AddNumberToObject(o, "ms_per_step", seconds * 1e3 / (mb->seq - 1));
            cJSON_AddStringToObject(o, "device", vkq_ctx_device(ctx)->name);
            cli_emit_json(o);
        } else
            printf("generate %s batch=%u steps=%u: %.0f tokens/s (%.2f ms a step) [%s]\n",
                   mb->model, mb->batch, mb->seq, tps, seconds * 1e3 / (mb->seq - 1),
                   vkq_ctx_device(ctx)->name);
    }
    free(ints);
    free(logits);
    vkq_decoder_destroy(d);
    return s;
}

vkq_status cli_bench_generate(int argc, char **argv)
{
    model_bench mb = {.batch = 8, .seq = 128, .runs = 1};
    VKQ_TRY(parse_model_bench("bench generate", argc, argv, &mb));
    return with_model(&mb, bench_generate_on);
}
