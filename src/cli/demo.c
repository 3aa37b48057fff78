/* vkquill demo: the synthetic personalization benchmark end to end. Synthetic users have
 * hidden style preferences that only their history shows. From one pre-trained base, every
 * arm (a method and its options) is fine-tuned once per seed with the same initial weights
 * and data order, scored on the validation split at several points of training and on the
 * test split at the end, per item, so that NextQuill and SFT are compared by a paired
 * bootstrap. The base with and without history and SFT without history show whether the
 * task was learnt at all; DCE as a detector of the bytes the preference decides is scored
 * with fixed models (the base and the trained SFT). Writes results.json and report.html. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/file.h"
#include "base/status_internal.h"
#include "cli/cli.h"
#include "vkquill/bootstrap.h"
#include "vkquill/eval.h"
#include "vkquill/llama2c.h"
#include "vkquill/report.h"
#include "vkquill/synth.h"
#include "vkquill/train.h"

typedef struct arm {
    const char *name, *method, *weights, *align, *dce;
} arm;

/* sft and nextquill first: the default run trains those two. */
static const arm arms[] = {
    {"sft", "sft", "", "", "dynamic"},
    {"nextquill", "nextquill", "", "", "dynamic"},
    {"mce", "mce", "", "", "dynamic"},
    {"dce", "dce", "", "", "dynamic"},
    {"nextquill-js", "nextquill", "js", "", "dynamic"},
    {"nextquill-fixed", "nextquill", "", "", "fixed"},
    {"nextquill-kl", "nextquill", "", "kl", "dynamic"},
};
enum {
    ARMS = sizeof arms / sizeof arms[0],
    DEFAULT_ARMS = 2,
    MAX_SEEDS = 10,
    MAX_POINTS = 8,
    PATH = 1024,
    RESAMPLES = 4000,
    EXAMPLES = 3
};
enum { STYLE, ROUGE1, ROUGEL, METRICS };
static const char *const metric_keys[METRICS] = {"style_accuracy", "rouge1", "rougeL"};
static const char *const metric_names[METRICS] = {"style accuracy", "ROUGE-1", "ROUGE-L"};

/* One evaluation: per-item scores of one model on one split. */
typedef struct scores {
    double *item[METRICS];
    double bleu;
} scores;

typedef struct arm_runs {
    scores test[MAX_SEEDS], curve[MAX_SEEDS][MAX_POINTS];
    cJSON *losses[MAX_SEEDS];
    double train_seconds[MAX_SEEDS];
} arm_runs;

typedef struct demo {
    const char *out, *model, *tokenizer;
    uint32_t users, per_user, steps, seeds, batch, history_k, points;
    uint32_t max_new_tokens; /* the longest target: found in prepare() */
    float lr, warmup, delta;
    int quick, full, sweep;
    uint32_t n_arms;
    char init_model[PATH], init_tokenizer[PATH];
    vkq_llama_config model_config;
    vkq_ctx *ctx;
    vkq_tokenizer *tok;
    vkq_synth_truth truth[2]; /* val, test */
    arm_runs runs[ARMS];
    scores base_test, base_test_alone, base_val, sft_alone[MAX_SEEDS];
    int tty;
    double start;
} demo;

enum { VAL, TEST };
static const char *const split_names[2] = {"val", "test"};

static void path_of(char *out, const demo *d, const char *name)
{
    snprintf(out, PATH, "%s/%s", d->out, name);
}

/* ---- preparation ----------------------------------------------------------------------- */

/* --quick: a tiny random model, so the tests need no pre-trained base. */
static vkq_status write_quick_model(demo *d)
{
    d->model_config = (vkq_llama_config){.dim = 16, .hidden_dim = 32, .n_layers = 2,
                                         .n_heads = 2, .n_kv_heads = 1,
                                         .vocab_size = VKQ_BYTE_TOKENIZER_VOCAB, .seq_len = 512,
                                         .shared_classifier = 1, .norm_eps = 1e-5f,
                                         .rope_theta = 10000.0f};
    vkq_llama_tensors l;
    vkq_llama_tensors_of(&d->model_config, &l);
    float *params = malloc(l.total * sizeof *params);
    if (!params)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_llama_init_random(&d->model_config, 1, params);
    path_of(d->init_model, d, "init.bin");
    vkq_status s = vkq_llama2c_write(d->init_model, &d->model_config, params);
    free(params);
    path_of(d->init_tokenizer, d, "tokenizer.bin");
    return s == VKQ_OK ? vkq_tokenizer_write_byte_level(d->init_tokenizer) : s;
}

static vkq_status read_base(demo *d)
{
    float *params = NULL;
    vkq_status s = vkq_llama2c_read(d->model, &d->model_config, &params);
    free(params);
    if (s != VKQ_OK && access(d->model, F_OK) != 0)
        return vkq_fail(VKQ_ERR_IO, "demo: %s: no base model (run from the repository root, "
                                    "or give --model and --tokenizer)", d->model);
    snprintf(d->init_model, PATH, "%s", d->model);
    snprintf(d->init_tokenizer, PATH, "%s", d->tokenizer);
    return s;
}

static vkq_status longest_target(demo *d)
{
    char path[PATH];
    vkq_dataset test;
    path_of(path, d, "data/test.jsonl");
    VKQ_TRY(vkq_dataset_load_jsonl(path, 0, &test));
    vkq_status s = vkq_longest_target_tokens(d->tok, &test, &d->max_new_tokens);
    vkq_dataset_free(&test);
    return s;
}

static vkq_status prepare(demo *d)
{
    char path[PATH];
    VKQ_TRY(vkq_make_dirs(d->out));
    VKQ_TRY(d->quick ? write_quick_model(d) : read_base(d));
    path_of(path, d, "data");
    vkq_synth_options so = {d->users, d->per_user, 1};
    VKQ_TRY(vkq_synth_write(&so, path));
    VKQ_TRY(vkq_tokenizer_load(d->init_tokenizer, d->model_config.vocab_size, &d->tok));
    VKQ_TRY(longest_target(d));
    path_of(path, d, "data/truth.jsonl");
    for (int k = VAL; k <= TEST; k++)
        VKQ_TRY(vkq_synth_truth_load(path, split_names[k], &d->truth[k]));
    return VKQ_OK;
}

/* ---- scores of one model --------------------------------------------------------------- */

static vkq_status scores_alloc(scores *s, uint32_t n)
{
    for (int k = 0; k < METRICS; k++)
        if (!(s->item[k] = calloc(n, sizeof(double))))
            return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    return VKQ_OK;
}

static void scores_free(scores *s)
{
    for (int k = 0; k < METRICS; k++)
        free(s->item[k]);
}

/* Per-item style accuracy and ROUGE of the predictions against the truth of the split. */
static vkq_status score_items(const vkq_synth_truth *t, char **texts, scores *out)
{
    VKQ_TRY(scores_alloc(out, t->count));
    for (uint32_t i = 0; i < t->count; i++) {
        vkq_synth_truth one = {&t->samples[i], 1};
        VKQ_TRY(vkq_style_accuracy(&one, (const char *const *)&texts[i], 1,
                                   &out->item[STYLE][i]));
        vkq_rouge_scores r;
        VKQ_TRY(vkq_rouge(texts[i], t->samples[i].target, &r));
        out->item[ROUGE1][i] = r.rouge1.f1;
        out->item[ROUGEL][i] = r.rougeL.f1;
    }
    return VKQ_OK;
}

/* Greedy generation, no repetition penalty: with a byte-level vocabulary the prompt has used
 * nearly every byte, so a penalty would lower nearly every byte but not the unseen EOS. */
static vkq_status evaluate(demo *d, const char *model, int split, int without_history,
                           scores *out)
{
    char data[PATH];
    snprintf(data, sizeof data, "%s/data/%s.jsonl", d->out, split_names[split]);
    vkq_eval_config e;
    vkq_eval_config_defaults(&e);
    e.model = model;
    e.tokenizer = d->init_tokenizer;
    e.data = data;
    e.limits = (vkq_prompt_limits){.history_k = d->history_k, .max_prompt_tokens = 256,
                                   .max_target_tokens = 96};
    e.max_new_tokens = d->max_new_tokens;
    e.repetition_penalty = 1.0f;
    e.batch = d->truth[split].count;
    e.without_history = without_history;
    vkq_text_scores text;
    vkq_predictions preds = {0};
    VKQ_TRY(vkq_evaluate(d->ctx, &e, &text, &preds));
    vkq_status s = score_items(&d->truth[split], preds.texts, out);
    vkq_predictions_free(&preds);
    out->bleu = text.bleu;
    return s;
}

/* ---- training ---------------------------------------------------------------------------- */

static void run_config(const demo *d, const arm *a, uint32_t seed, const char *run_dir,
                       vkq_train_config *c)
{
    vkq_train_config_defaults(c);
    snprintf(c->model, sizeof c->model, "%s", d->init_model);
    snprintf(c->tokenizer, sizeof c->tokenizer, "%s", d->init_tokenizer);
    snprintf(c->data, sizeof c->data, "%s/data/train.jsonl", d->out);
    snprintf(c->out, sizeof c->out, "%s", run_dir);
    snprintf(c->method, sizeof c->method, "%s", a->method);
    snprintf(c->weights, sizeof c->weights, "%s", a->weights);
    snprintf(c->align, sizeof c->align, "%s", a->align);
    snprintf(c->dce, sizeof c->dce, "%s", a->dce);
    if (strcmp(a->dce, "fixed") == 0 || strcmp(a->align, "kl") == 0)
        snprintf(c->ref_model, sizeof c->ref_model, "%s", d->init_model);
    c->seed = seed;
    c->steps = d->steps;
    c->batch = d->batch;
    c->lr = d->lr;
    c->warmup = d->warmup;
    c->delta = d->delta;
    c->weight_decay = 0.0f;
    c->history_k = d->history_k;
    c->max_prompt_tokens = 256;
    c->max_target_tokens = 96;
    c->probe_every = 0;
    c->log_every = 1;
}

typedef struct progress_line {
    const demo *d;
    const char *name;
    uint32_t seed, index, total, stop_at;
    volatile int stop;
} progress_line;

static void show_progress(const vkq_train_progress *p, void *user)
{
    progress_line *l = user;
    if (p->memory_only)
        return;
    if (p->step >= l->stop_at)
        l->stop = 1;
    double elapsed = cli_now_seconds() - l->d->start;
    if (l->d->tty)
        fprintf(stderr, "\rdemo [%u/%u] %-16s seed %u: step %3u/%u loss %.3f  %.0fs ",
                l->index, l->total, l->name, l->seed, p->step, p->steps, p->loss, elapsed);
    else if (p->step == p->steps)
        fprintf(stderr, "demo [%u/%u] %s seed %u: %u steps, loss %.3f, %.0fs elapsed\n",
                l->index, l->total, l->name, l->seed, p->steps, p->loss, elapsed);
}

/* Each line of a JSONL file as parsed JSON, to fn. */
static vkq_status each_json_line(const char *path, vkq_status (*fn)(const cJSON *, void *),
                                 void *user)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot open", path);
    char *line = NULL;
    size_t cap = 0;
    vkq_status s = VKQ_OK;
    while (s == VKQ_OK && getline(&line, &cap, f) > 0) {
        cJSON *o = cJSON_Parse(line);
        s = o ? fn(o, user) : vkq_fail(VKQ_ERR_FORMAT, "%s: a line is not JSON", path);
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    return s;
}

static vkq_status add_loss(const cJSON *o, void *user)
{
    cJSON *entry = cJSON_CreateObject();
    const char *keys[] = {"step", "loss", "loss_n", "loss_p", "share_above_delta"};
    for (int i = 0; i < 5; i++)
        cJSON_AddNumberToObject(entry, keys[i],
                                cJSON_GetNumberValue(cJSON_GetObjectItem(o, keys[i])));
    cJSON_AddItemToArray(user, entry);
    return VKQ_OK;
}

static uint32_t point_step(const demo *d, uint32_t point)
{
    return (uint32_t)(((uint64_t)d->steps * (point + 1)) / d->points);
}

/* Trains in segments, stopping at each curve point to score the validation split; a resumed
 * run continues exactly, so the segments change nothing of the training. */
static vkq_status run_one(demo *d, uint32_t a, uint32_t seed, uint32_t index, uint32_t total)
{
    char run_dir[PATH], model[PATH + 16], log[PATH + 16];
    snprintf(run_dir, sizeof run_dir, "%s/runs/%s-seed%u", d->out, arms[a].name, seed);
    VKQ_TRY(vkq_make_dirs(run_dir));
    snprintf(model, sizeof model, "%s/model.bin", run_dir);
    vkq_train_config c;
    run_config(d, &arms[a], seed, run_dir, &c);
    progress_line line = {d, arms[a].name, seed, index, total, 0, 0};
    arm_runs *r = &d->runs[a];
    for (uint32_t p = 0; p < d->points; p++) {
        line.stop_at = point_step(d, p);
        line.stop = 0;
        c.resume = p > 0;
        double t0 = cli_now_seconds();
        VKQ_TRY(vkq_train_run(d->ctx, &c, show_progress, &line, &line.stop));
        r->train_seconds[seed - 1] += cli_now_seconds() - t0;
        VKQ_TRY(evaluate(d, model, VAL, 0, &r->curve[seed - 1][p]));
    }
    VKQ_TRY(evaluate(d, model, TEST, 0, &r->test[seed - 1]));
    if (a == 0)
        VKQ_TRY(evaluate(d, model, TEST, 1, &d->sft_alone[seed - 1]));
    snprintf(log, sizeof log, "%s/log.jsonl", run_dir);
    r->losses[seed - 1] = cJSON_CreateArray();
    return each_json_line(log, add_loss, r->losses[seed - 1]);
}

/* ---- DCE as a detector, under a fixed model -------------------------------------------- */

typedef struct detection {
    const demo *d;
    cJSON *out;
    int examples; /* keep the first EXAMPLES samples' tokens, DCE and flags */
} detection;

/* The decisive-byte flags of val sample i's n response tokens. */
static vkq_status flags_of(const demo *d, uint32_t i, uint8_t *flags, uint32_t n)
{
    const vkq_synth_sample *x = &d->truth[VAL].samples[i];
    uint32_t max = (uint32_t)strlen(x->target) + 1, count = 0;
    vkq_synth_span *decisive = malloc(max * sizeof *decisive);
    if (!decisive)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_status s = vkq_synth_decisive_spans(x->target, x->spans, x->n_spans, decisive, max,
                                            &count);
    if (s == VKQ_OK)
        s = vkq_synth_token_flags(d->tok, x->target, decisive, count, flags, n);
    free(decisive);
    return s;
}

/* The response tokens of a target as text pieces: the dummy-prefix space first, EOS last. */
static cJSON *pieces_of(const vkq_tokenizer *tok, const char *target, uint32_t n)
{
    uint32_t capacity = (uint32_t)strlen(target) + 3, count = 0;
    int32_t *ids = malloc(capacity * sizeof *ids);
    cJSON *out = cJSON_CreateArray();
    if (ids && vkq_tokenizer_encode(tok, target, 0, 0, ids, capacity, &count) == VKQ_OK)
        for (uint32_t i = 0; i + 1 < n && i < count; i++) {
            const char *piece = vkq_tokenizer_decode(tok, i ? ids[i - 1] : VKQ_TOKEN_UNK, ids[i]);
            cJSON_AddItemToArray(out, cJSON_CreateString(piece ? piece : ""));
        }
    cJSON_AddItemToArray(out, cJSON_CreateString(""));
    free(ids);
    return out;
}

static void add_example(const detection *det, uint32_t i, const float *dce, const uint8_t *flags,
                        uint32_t n)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "target", det->d->truth[VAL].samples[i].target);
    cJSON_AddItemToObject(e, "tokens", pieces_of(det->d->tok, det->d->truth[VAL].samples[i].target, n));
    cJSON *v = cJSON_AddArrayToObject(e, "dce"), *f = cJSON_AddArrayToObject(e, "decisive");
    for (uint32_t k = 0; k < n; k++) {
        cJSON_AddItemToArray(v, cJSON_CreateNumber(dce[k]));
        cJSON_AddItemToArray(f, cJSON_CreateNumber(flags[k]));
    }
    cJSON_AddItemToArray(cJSON_GetObjectItem(det->out, "examples"), e);
}

/* Precision and recall of DCE > delta against the decisive tokens, from one probe line. */
static vkq_status add_detection(const cJSON *o, void *user)
{
    detection *det = user;
    const cJSON *samples = cJSON_GetObjectItem(o, "dce");
    uint32_t n = (uint32_t)cJSON_GetArraySize(samples), total = 0, at = 0;
    if (n != det->d->truth[VAL].count)
        return vkq_fail(VKQ_ERR_FORMAT, "the probe has %u samples, the truth %u", n,
                        det->d->truth[VAL].count);
    for (uint32_t i = 0; i < n; i++)
        total += (uint32_t)cJSON_GetArraySize(cJSON_GetArrayItem(samples, (int)i));
    float *dce = malloc(total * sizeof *dce);
    uint8_t *flags = malloc(total);
    vkq_status s = dce && flags ? VKQ_OK : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    uint32_t flagged = 0;
    for (uint32_t i = 0; i < n && s == VKQ_OK; i++) {
        const cJSON *values = cJSON_GetArrayItem(samples, (int)i);
        uint32_t k = (uint32_t)cJSON_GetArraySize(values);
        for (uint32_t j = 0; j < k; j++)
            dce[at + j] = (float)cJSON_GetNumberValue(cJSON_GetArrayItem(values, (int)j));
        s = flags_of(det->d, i, flags + at, k);
        for (uint32_t j = 0; s == VKQ_OK && j < k; j++)
            flagged += flags[at + j];
        if (s == VKQ_OK && det->examples && i < EXAMPLES)
            add_example(det, i, dce + at, flags + at, k);
        at += k;
    }
    double precision = 0, recall = 0;
    if (s == VKQ_OK)
        s = vkq_detection_scores(dce, flags, total, det->d->delta, &precision, &recall);
    if (s == VKQ_OK) {
        cJSON_AddNumberToObject(det->out, "precision", precision);
        cJSON_AddNumberToObject(det->out, "recall", recall);
        cJSON_AddNumberToObject(det->out, "tokens", total);
        cJSON_AddNumberToObject(det->out, "decisive", flagged);
    }
    free(dce);
    free(flags);
    return s;
}

/* The model's DCE of every val response token, by the trainer's probe after one step at an
 * lr so small (1e-30, no decay) that no weight moves: the run's model.bin equals the model
 * given, which test_demo checks. */
static vkq_status detect(demo *d, const char *label, const char *model, int examples,
                         cJSON *list)
{
    char run_dir[PATH], probe[PATH + 16];
    snprintf(run_dir, sizeof run_dir, "%s/detect/%s", d->out, label);
    VKQ_TRY(vkq_make_dirs(run_dir));
    vkq_train_config c;
    run_config(d, &arms[0], 1, run_dir, &c);
    snprintf(c.model, sizeof c.model, "%s", model);
    snprintf(c.val, sizeof c.val, "%s/data/val.jsonl", d->out);
    c.steps = 1;
    c.lr = 1e-30f;
    c.warmup = 0.0f;
    VKQ_TRY(vkq_train_run(d->ctx, &c, NULL, NULL, NULL));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(list, o);
    cJSON_AddStringToObject(o, "model", label);
    cJSON_AddNumberToObject(o, "delta", d->delta);
    cJSON_AddArrayToObject(o, "examples");
    detection det = {d, o, examples};
    snprintf(probe, sizeof probe, "%s/probe.jsonl", run_dir);
    return each_json_line(probe, add_detection, &det);
}

/* ---- statistics -------------------------------------------------------------------------- */

/* The [seed][item] matrix of one metric over the first n evaluations, minus those of minus
 * when it is not NULL (a paired difference). */
static double *matrix(const scores *const *evals, const scores *const *minus, uint32_t n,
                      uint32_t items, int metric)
{
    double *m = malloc((size_t)n * items * sizeof *m);
    for (uint32_t s = 0; m && s < n; s++)
        for (uint32_t i = 0; i < items; i++)
            m[s * items + i] = evals[s]->item[metric][i] -
                               (minus ? minus[s]->item[metric][i] : 0.0);
    return m;
}

static vkq_status interval(const scores *const *evals, const scores *const *minus, uint32_t n,
                           uint32_t items, int metric, vkq_interval *out)
{
    double *m = matrix(evals, minus, n, items, metric);
    if (!m)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_status s = vkq_bootstrap_mean(m, n, items, RESAMPLES, 20250101u + (uint64_t)metric, out);
    free(m);
    return s;
}

static cJSON *interval_json(const vkq_interval *v)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "mean", v->mean);
    cJSON_AddNumberToObject(o, "lo", v->lo);
    cJSON_AddNumberToObject(o, "hi", v->hi);
    return o;
}

/* The test evaluations of seeds 1..n of one arm, as a list of pointers. */
static void test_list(const demo *d, uint32_t a, const scores **out)
{
    for (uint32_t s = 0; s < d->seeds; s++)
        out[s] = &d->runs[a].test[s];
}

static void curve_list(const demo *d, uint32_t a, uint32_t p, const scores **out)
{
    for (uint32_t s = 0; s < d->seeds; s++)
        out[s] = &d->runs[a].curve[s][p];
}

typedef struct row {
    const char *name;
    vkq_interval v[METRICS];
    double bleu;
} row;

static vkq_status make_row(const demo *d, const char *name, const scores **evals, uint32_t n,
                           row *out)
{
    out->name = name;
    out->bleu = 0;
    for (uint32_t s = 0; s < n; s++)
        out->bleu += evals[s]->bleu / n;
    for (int k = 0; k < METRICS; k++)
        VKQ_TRY(interval(evals, NULL, n, d->truth[TEST].count, k, &out->v[k]));
    return VKQ_OK;
}

/* base without and with history, SFT without history, then every arm. */
static vkq_status make_rows(const demo *d, row *rows, uint32_t *n)
{
    const scores *list[MAX_SEEDS] = {&d->base_test_alone};
    VKQ_TRY(make_row(d, "base, no history", list, 1, &rows[0]));
    list[0] = &d->base_test;
    VKQ_TRY(make_row(d, "base", list, 1, &rows[1]));
    for (uint32_t s = 0; s < d->seeds; s++)
        list[s] = &d->sft_alone[s];
    VKQ_TRY(make_row(d, "sft, no history", list, d->seeds, &rows[2]));
    *n = 3;
    for (uint32_t a = 0; a < d->n_arms; a++) {
        test_list(d, a, list);
        VKQ_TRY(make_row(d, arms[a].name, list, d->seeds, &rows[(*n)++]));
    }
    return VKQ_OK;
}

static void print_rows(const demo *d, const row *rows, uint32_t n)
{
    printf("\ntest split, %u users; mean [95 %% interval over %u seeds and the test items]\n",
           d->truth[TEST].count, d->seeds);
    printf("%-18s %-22s %-22s %-22s %s\n", "", metric_names[0], metric_names[1],
           metric_names[2], "BLEU");
    for (uint32_t r = 0; r < n; r++) {
        printf("%-18s", rows[r].name);
        for (int k = 0; k < METRICS; k++) {
            char cell[48];
            snprintf(cell, sizeof cell, "%.3f [%.3f, %.3f]", rows[r].v[k].mean, rows[r].v[k].lo,
                     rows[r].v[k].hi);
            printf(" %-22s", cell);
        }
        printf(" %.2f\n", rows[r].bleu);
    }
}

static cJSON *rows_json(const row *rows, uint32_t n)
{
    cJSON *list = cJSON_CreateArray();
    for (uint32_t r = 0; r < n; r++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(list, o);
        cJSON_AddStringToObject(o, "name", rows[r].name);
        for (int k = 0; k < METRICS; k++)
            cJSON_AddItemToObject(o, metric_keys[k], interval_json(&rows[r].v[k]));
        cJSON_AddNumberToObject(o, "bleu", rows[r].bleu);
    }
    return list;
}

/* ---- learning curves and the verdict ----------------------------------------------------- */

static vkq_status curves_json(const demo *d, cJSON *root)
{
    cJSON *curves = cJSON_AddArrayToObject(root, "curves");
    for (uint32_t a = 0; a < d->n_arms; a++) {
        cJSON *c = cJSON_CreateObject(), *points;
        cJSON_AddItemToArray(curves, c);
        cJSON_AddStringToObject(c, "arm", arms[a].name);
        points = cJSON_AddArrayToObject(c, "points");
        for (uint32_t p = 0; p <= d->points; p++) {
            const scores *list[MAX_SEEDS] = {&d->base_val};
            if (p > 0)
                curve_list(d, a, p - 1, list);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToArray(points, o);
            cJSON_AddNumberToObject(o, "step", p ? point_step(d, p - 1) : 0);
            for (int k = STYLE; k <= ROUGE1; k++) {
                vkq_interval v;
                VKQ_TRY(interval(list, NULL, p ? d->seeds : 1, d->truth[VAL].count, k, &v));
                cJSON_AddItemToObject(o, metric_keys[k], interval_json(&v));
            }
        }
    }
    return VKQ_OK;
}

static void print_curves(const demo *d, const cJSON *curves)
{
    printf("\nvalidation split during training (style accuracy, mean [95 %% interval]):\n%-6s",
           "step");
    const cJSON *c;
    cJSON_ArrayForEach(c, curves) printf(" %-22s", cJSON_GetObjectItem(c, "arm")->valuestring);
    printf("\n");
    for (uint32_t p = 0; p <= d->points; p++) {
        printf("%-6u", p ? point_step(d, p - 1) : 0);
        cJSON_ArrayForEach(c, curves)
        {
            const cJSON *v = cJSON_GetObjectItem(
                cJSON_GetArrayItem(cJSON_GetObjectItem(c, "points"), (int)p), "style_accuracy");
            char cell[48];
            snprintf(cell, sizeof cell, "%.3f [%.3f, %.3f]",
                     cJSON_GetNumberValue(cJSON_GetObjectItem(v, "mean")),
                     cJSON_GetNumberValue(cJSON_GetObjectItem(v, "lo")),
                     cJSON_GetNumberValue(cJSON_GetObjectItem(v, "hi")));
            printf(" %-22s", cell);
        }
        printf("\n");
    }
}

static const char *reading(const vkq_interval *v)
{
    return v->lo > 0 ? "NextQuill better" : v->hi < 0 ? "SFT better" : "no difference shown";
}

/* NextQuill minus SFT, paired by seed and item, early (first curve point, val) and at the
 * end (test). */
static vkq_status comparisons(const demo *d, cJSON *root, char *verdict, size_t size)
{
    cJSON *list = cJSON_AddArrayToObject(root, "comparisons");
    const scores *nq[MAX_SEEDS], *sft[MAX_SEEDS];
    size_t at = 0;
    for (int when = 0; when < 2; when++) {
        uint32_t items = d->truth[when ? TEST : VAL].count;
        if (when) {
            test_list(d, 1, nq);
            test_list(d, 0, sft);
        } else {
            curve_list(d, 1, 0, nq);
            curve_list(d, 0, 0, sft);
        }
        for (int k = STYLE; k <= ROUGE1; k++) {
            vkq_interval v;
            VKQ_TRY(interval(nq, sft, d->seeds, items, k, &v));
            cJSON *o = interval_json(&v);
            cJSON_AddItemToArray(list, o);
            cJSON_AddStringToObject(o, "metric", metric_keys[k]);
            char when_text[64];
            snprintf(when_text, sizeof when_text, when ? "end (step %u, test)" : "step %u (val)",
                     when ? d->steps : point_step(d, 0));
            cJSON_AddStringToObject(o, "when", when_text);
            cJSON_AddStringToObject(o, "reading", reading(&v));
            at += (size_t)snprintf(verdict + at, at < size ? size - at : 0,
                                   "%s%s at %s: %+.3f [%+.3f, %+.3f], %s", at ? "; " : "",
                                   metric_names[k], when_text, v.mean, v.lo, v.hi, reading(&v));
        }
    }
    return VKQ_OK;
}

/* Whether SFT learnt the styles: at least double the base's style accuracy and above SFT
 * without history (paired interval above 0). Without that the comparison says nothing. */
static vkq_status learnt(const demo *d, const row *rows, int *yes, vkq_interval *gain)
{
    const scores *with[MAX_SEEDS], *without[MAX_SEEDS];
    test_list(d, 0, with);
    for (uint32_t s = 0; s < d->seeds; s++)
        without[s] = &d->sft_alone[s];
    VKQ_TRY(interval(with, without, d->seeds, d->truth[TEST].count, STYLE, gain));
    *yes = rows[3].v[STYLE].mean >= 2 * rows[1].v[STYLE].mean && gain->lo > 0;
    return VKQ_OK;
}

static vkq_status verdict(const demo *d, const row *rows, cJSON *root)
{
    int yes;
    vkq_interval gain;
    VKQ_TRY(learnt(d, rows, &yes, &gain));
    char text[2048];
    if (!yes) {
        snprintf(text, sizeof text,
                 "No verdict: SFT did not learn the styles (style accuracy %.3f against the "
                 "base's %.3f; with minus without history %+.3f [%+.3f, %+.3f]), so the "
                 "comparison says nothing.",
                 rows[3].v[STYLE].mean, rows[1].v[STYLE].mean, gain.mean, gain.lo, gain.hi);
        cJSON_AddArrayToObject(root, "comparisons");
    } else {
        char detail[1536];
        VKQ_TRY(comparisons(d, root, detail, sizeof detail));
        snprintf(text, sizeof text,
                 "SFT learnt the styles (%.3f against the base's %.3f, and %+.3f [%+.3f, "
                 "%+.3f] over SFT without history). NextQuill minus SFT, paired by seed and "
                 "item, 95 %% bootstrap interval: %s.",
                 rows[3].v[STYLE].mean, rows[1].v[STYLE].mean, gain.mean, gain.lo, gain.hi,
                 detail);
    }
    cJSON_AddStringToObject(root, "verdict", text);
    printf("\nverdict: %s\n", text);
    return VKQ_OK;
}

/* ---- results ----------------------------------------------------------------------------- */

static void add_config(const demo *d, cJSON *root)
{
    cJSON *c = cJSON_AddObjectToObject(root, "config");
    cJSON_AddStringToObject(c, "base", d->quick ? "a tiny random model (--quick)" : d->model);
    cJSON_AddNumberToObject(c, "users", d->users);
    cJSON_AddNumberToObject(c, "per_user", d->per_user);
    cJSON_AddNumberToObject(c, "steps", d->steps);
    cJSON_AddNumberToObject(c, "batch", d->batch);
    cJSON_AddNumberToObject(c, "lr", d->lr);
    cJSON_AddNumberToObject(c, "warmup", d->warmup);
    cJSON_AddNumberToObject(c, "delta", d->delta);
    cJSON_AddNumberToObject(c, "history_k", d->history_k);
    cJSON_AddNumberToObject(c, "max_new_tokens", d->max_new_tokens);
    char model[128];
    snprintf(model, sizeof model, "dim %u, hidden %u, %u layers, %u heads (%u kv), vocab %u",
             d->model_config.dim, d->model_config.hidden_dim, d->model_config.n_layers,
             d->model_config.n_heads, d->model_config.n_kv_heads, d->model_config.vocab_size);
    cJSON_AddStringToObject(c, "model", model);
    cJSON_AddStringToObject(c, "evaluation",
                            "greedy, no repetition penalty, up to the longest target's tokens");
}

static cJSON *results_header(const demo *d)
{
    cJSON *root = cJSON_CreateObject();
    char date[32], machine[128];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    snprintf(machine, sizeof machine, "%ld CPU cores", sysconf(_SC_NPROCESSORS_ONLN));
    cJSON_AddStringToObject(root, "vkquill_version", "0.1.0");
    cJSON_AddStringToObject(root, "date", date);
    cJSON_AddStringToObject(root, "machine", machine);
    cJSON_AddStringToObject(root, "device", vkq_ctx_device(d->ctx)->name);
    cJSON_AddStringToObject(root, "summary",
                            "Synthetic users with hidden style preferences (opener, favourite "
                            "adjective, punctuation, sign-off, length) review items; only their "
                            "history reveals the style. From one pre-trained base, every method "
                            "is fine-tuned once per seed with the same initial weights and data "
                            "order, then generates the held-out last review of every user.");
    add_config(d, root);
    return root;
}

/* The per-run part the report reads: methods among sft, mce, dce and nextquill. */
static void add_runs(const demo *d, cJSON *root)
{
    cJSON *methods = cJSON_AddArrayToObject(root, "methods");
    cJSON *seeds = cJSON_AddArrayToObject(root, "seeds");
    cJSON *runs = cJSON_AddArrayToObject(root, "runs");
    for (uint32_t s = 1; s <= d->seeds; s++)
        cJSON_AddItemToArray(seeds, cJSON_CreateNumber(s));
    for (uint32_t a = 0; a < d->n_arms; a++) {
        if (strcmp(arms[a].name, arms[a].method) != 0)
            continue;
        cJSON_AddItemToArray(methods, cJSON_CreateString(arms[a].name));
        for (uint32_t s = 0; s < d->seeds; s++) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddItemToArray(runs, r);
            cJSON_AddStringToObject(r, "method", arms[a].name);
            cJSON_AddNumberToObject(r, "seed", s + 1);
            cJSON_AddNumberToObject(r, "train_seconds", d->runs[a].train_seconds[s]);
            cJSON_AddItemToObject(r, "losses", cJSON_Duplicate(d->runs[a].losses[s], 1));
        }
    }
}

static vkq_status write_text(const char *path, FILE *f, void *text)
{
    return vkq_write_bytes(path, f, text, 1, strlen(text));
}

static vkq_status write_results(const demo *d, cJSON *root)
{
    char path[PATH], html[PATH];
    path_of(path, d, "results.json");
    char *text = cJSON_Print(root);
    if (!text)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_status s = vkq_write_atomic(path, write_text, text);
    free(text);
    VKQ_TRY(s);
    path_of(html, d, "report.html");
    return vkq_report_write(path, html);
}

static void print_detectors(const cJSON *list)
{
    printf("\nDCE > delta as a detector of the tokens the preference decides (val split):\n");
    const cJSON *o;
    cJSON_ArrayForEach(o, list)
    printf("  under %-10s precision %.3f, recall %.3f (%g of %g tokens decisive)\n",
           cJSON_GetObjectItem(o, "model")->valuestring,
           cJSON_GetNumberValue(cJSON_GetObjectItem(o, "precision")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(o, "recall")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(o, "decisive")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(o, "tokens")));
}

static vkq_status train_all(demo *d)
{
    uint32_t total = d->n_arms * d->seeds, index = 0;
    for (uint32_t s = 1; s <= d->seeds; s++)
        for (uint32_t a = 0; a < d->n_arms; a++)
            VKQ_TRY(run_one(d, a, s, ++index, total));
    if (d->tty)
        fputc('\n', stderr);
    return VKQ_OK;
}

static vkq_status summarise(demo *d, cJSON *root)
{
    row rows[ARMS + 3];
    uint32_t n;
    VKQ_TRY(make_rows(d, rows, &n));
    print_rows(d, rows, n);
    cJSON_AddItemToObject(root, "rows", rows_json(rows, n));
    VKQ_TRY(curves_json(d, root));
    print_curves(d, cJSON_GetObjectItem(root, "curves"));
    cJSON *detectors = cJSON_AddArrayToObject(root, "detectors");
    char sft_model[PATH];
    snprintf(sft_model, sizeof sft_model, "%s/runs/sft-seed1/model.bin", d->out);
    VKQ_TRY(detect(d, "base", d->init_model, 0, detectors));
    VKQ_TRY(detect(d, "sft", sft_model, 1, detectors));
    print_detectors(detectors);
    add_runs(d, root);
    return verdict(d, rows, root);
}

/* ---- the learning-rate and warm-up sweep ------------------------------------------------ */

static const float sweep_lrs[] = {1e-3f, 2e-3f, 4e-3f, 8e-3f, 1.6e-2f};
static const float sweep_warmups[] = {0.05f, 0.2f};
enum {
    SWEEP_LRS = sizeof sweep_lrs / sizeof *sweep_lrs,
    SWEEP_WARMUPS = sizeof sweep_warmups / sizeof *sweep_warmups,
};

/* One training of arm a (seed 1) with lr and warm-up, scored on the val split at the end. */
static vkq_status sweep_point(demo *d, uint32_t a, float lr, float warmup, uint32_t index,
                              uint32_t total, cJSON *list)
{
    char run_dir[PATH], model[PATH + 16];
    snprintf(run_dir, sizeof run_dir, "%s/sweep/%s-lr%g-warmup%g", d->out, arms[a].name, lr,
             warmup);
    VKQ_TRY(vkq_make_dirs(run_dir));
    vkq_train_config c;
    run_config(d, &arms[a], 1, run_dir, &c);
    c.lr = lr;
    c.warmup = warmup;
    progress_line line = {d, arms[a].name, 1, index, total, d->steps, 0};
    VKQ_TRY(vkq_train_run(d->ctx, &c, show_progress, &line, NULL));
    snprintf(model, sizeof model, "%s/model.bin", run_dir);
    scores val = {0};
    vkq_status s = evaluate(d, model, VAL, 0, &val);
    double mean[2] = {0, 0};
    for (uint32_t i = 0; s == VKQ_OK && i < d->truth[VAL].count; i++)
        for (int k = STYLE; k <= ROUGE1; k++)
            mean[k] += val.item[k][i] / d->truth[VAL].count;
    scores_free(&val);
    VKQ_TRY(s);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(list, o);
    cJSON_AddStringToObject(o, "arm", arms[a].name);
    cJSON_AddNumberToObject(o, "lr", lr);
    cJSON_AddNumberToObject(o, "warmup", warmup);
    cJSON_AddNumberToObject(o, "style_accuracy", mean[STYLE]);
    cJSON_AddNumberToObject(o, "rouge1", mean[ROUGE1]);
    printf("%-10s lr %-7g warm-up %-5g val style accuracy %.3f, ROUGE-1 %.3f\n", arms[a].name,
           lr, warmup, mean[STYLE], mean[ROUGE1]);
    fflush(stdout);
    return VKQ_OK;
}

/* Every lr and warm-up of the grid for sft and nextquill, seed 1, into DIR/sweep.json, which
 * a later demo into the same directory shows in its report. */
static vkq_status run_sweep(demo *d)
{
    VKQ_TRY(prepare(d));
    cJSON *list = cJSON_CreateArray();
    uint32_t total = DEFAULT_ARMS * SWEEP_LRS * SWEEP_WARMUPS, index = 0;
    vkq_status s = VKQ_OK;
    for (uint32_t a = 0; a < DEFAULT_ARMS && s == VKQ_OK; a++)
        for (size_t l = 0; l < SWEEP_LRS && s == VKQ_OK; l++)
            for (size_t w = 0; w < SWEEP_WARMUPS && s == VKQ_OK; w++)
                s = sweep_point(d, a, sweep_lrs[l], sweep_warmups[w], ++index, total, list);
    char path[PATH], *text = s == VKQ_OK ? cJSON_Print(list) : NULL;
    path_of(path, d, "sweep.json");
    if (s == VKQ_OK)
        s = text ? vkq_write_atomic(path, write_text, text)
                 : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    free(text);
    cJSON_Delete(list);
    return s;
}

/* The sweep that chose the defaults: a sweep into the same directory, else the one beside the
 * base's model file (assets/base/sweep.json for the committed base), else none. */
static void sweep_path(const demo *d, char *path)
{
    path_of(path, d, "sweep.json");
    if (access(path, F_OK) == 0 || d->quick)
        return;
    snprintf(path, PATH, "%.*ssweep.json", (int)vkq_dir_part(d->model), d->model);
}

static vkq_status add_sweep(const demo *d, cJSON *root)
{
    char path[PATH];
    sweep_path(d, path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return VKQ_OK;
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&text, &cap, '\0', f); /* the whole file: JSON holds no NUL */
    fclose(f);
    cJSON *sweep = n > 0 ? cJSON_Parse(text) : NULL;
    free(text);
    if (cJSON_IsArray(sweep)) {
        cJSON_AddItemToObject(root, "sweep", sweep);
        return VKQ_OK;
    }
    cJSON_Delete(sweep);
    return vkq_fail(VKQ_ERR_FORMAT, "%s: not a sweep (a JSON array); remove it or rerun "
                                    "demo --sweep", path);
}

static vkq_status run_demo(demo *d)
{
    VKQ_TRY(prepare(d));
    cJSON *root = results_header(d);
    vkq_status s = add_sweep(d, root); /* a bad sweep.json fails before any training */
    if (s == VKQ_OK)
        s = evaluate(d, d->init_model, TEST, 0, &d->base_test);
    if (s == VKQ_OK)
        s = evaluate(d, d->init_model, TEST, 1, &d->base_test_alone);
    if (s == VKQ_OK)
        s = evaluate(d, d->init_model, VAL, 0, &d->base_val);
    if (s == VKQ_OK)
        s = train_all(d);
    if (s == VKQ_OK)
        s = summarise(d, root);
    if (s == VKQ_OK)
        s = write_results(d, root);
    if (s == VKQ_OK)
        printf("report: %s/report.html (%.0f s)\n", d->out, cli_now_seconds() - d->start);
    cJSON_Delete(root);
    return s;
}

static void demo_free(demo *d)
{
    vkq_tokenizer_free(d->tok);
    for (int k = VAL; k <= TEST; k++)
        vkq_synth_truth_free(&d->truth[k]);
    scores_free(&d->base_test);
    scores_free(&d->base_test_alone);
    scores_free(&d->base_val);
    for (uint32_t s = 0; s < MAX_SEEDS; s++) {
        scores_free(&d->sft_alone[s]);
        for (uint32_t a = 0; a < ARMS; a++) {
            scores_free(&d->runs[a].test[s]);
            for (uint32_t p = 0; p < MAX_POINTS; p++)
                scores_free(&d->runs[a].curve[s][p]);
            cJSON_Delete(d->runs[a].losses[s]);
        }
    }
}

/* ---- options ----------------------------------------------------------------------------- */

static vkq_status check_options(const demo *d)
{
    if (d->seeds < 2 || d->seeds > MAX_SEEDS)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "demo: --seeds must be 2 to %d", MAX_SEEDS);
    if (d->points < 1 || d->points > MAX_POINTS || d->points > d->steps)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "demo: --points must be 1 to %d and at most --steps", MAX_POINTS);
    if (d->users < 2 || d->per_user < 3)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "demo: --users must be at least 2 and --per-user at least 3");
    return VKQ_OK;
}

static vkq_status parse(int argc, char **argv, demo *d)
{
    /* history_k 1: every item of a user shows the whole style. lr and warm-up: the sweep of
     * docs/demo.md. */
    *d = (demo){.out = "runs/demo", .model = "assets/base/model.bin",
                .tokenizer = "assets/base/tokenizer.bin", .users = 48, .per_user = 8,
                .steps = 120, .seeds = 3, .batch = 8, .history_k = 1, .points = 4,
                .lr = 4e-3f, .warmup = 0.05f, .delta = 0.05f};
    cli_option opts[] = {{"--out", CLI_STRING, &d->out},
                         {"--model", CLI_STRING, &d->model},
                         {"--tokenizer", CLI_STRING, &d->tokenizer},
                         {"--users", CLI_U32, &d->users},
                         {"--per-user", CLI_U32, &d->per_user},
                         {"--steps", CLI_U32, &d->steps},
                         {"--seeds", CLI_U32, &d->seeds},
                         {"--batch", CLI_U32, &d->batch},
                         {"--points", CLI_U32, &d->points},
                         {"--lr", CLI_FLOAT, &d->lr},
                         {"--warmup", CLI_FLOAT, &d->warmup},
                         {"--delta", CLI_FLOAT, &d->delta},
                         {"--history-k", CLI_U32, &d->history_k},
                         {"--full", CLI_FLAG, &d->full},
                         {"--sweep", CLI_FLAG, &d->sweep},
                         {"--quick", CLI_FLAG, &d->quick}};
    uint32_t seeds_given = d->seeds;
    VKQ_TRY(cli_parse("demo", argc, argv, 2, opts, sizeof opts / sizeof opts[0]));
    d->n_arms = d->full ? ARMS : DEFAULT_ARMS;
    if (d->full && d->seeds == seeds_given)
        d->seeds = 5;
    if (d->quick) { /* a miniature for tests: seconds, not minutes */
        d->users = 4;
        d->per_user = 4;
        d->steps = 2;
        d->seeds = 2;
        d->points = 2;
    }
    return check_options(d);
}

int cmd_demo(int argc, char **argv)
{
    demo d;
    vkq_status s = parse(argc, argv, &d);
    if (s != VKQ_OK)
        return cli_fail(s);
    d.tty = isatty(STDERR_FILENO);
    d.start = cli_now_seconds();
    s = vkq_ctx_create(NULL, &d.ctx);
    if (s == VKQ_OK)
        s = d.sweep ? run_sweep(&d) : run_demo(&d);
    demo_free(&d);
    if (d.ctx) {
        vkq_ctx_print_profile(d.ctx, stderr);
        vkq_status e = vkq_ctx_destroy(d.ctx);
        s = s == VKQ_OK ? e : s;
    }
    return s == VKQ_OK ? 0 : cli_fail(s);
}
