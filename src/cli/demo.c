/* vkquill demo: the synthetic personalization benchmark end to end. It generates users with
 * hidden preferences, trains one small model per method (sft, mce, dce, nextquill) and seed
 * from the same initialisation, evaluates each, measures DCE as a detector of the
 * preference-bearing tokens over training, and writes results.json and report.html. */
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
#include "vkquill/eval.h"
#include "vkquill/llama2c.h"
#include "vkquill/report.h"
#include "vkquill/synth.h"
#include "vkquill/train.h"

static const char *const methods[] = {"sft", "mce", "dce", "nextquill"};
enum { METHODS = 4, MAX_SEEDS = 8, PATH = 1024 };

typedef struct demo {
    const char *out;
    uint32_t users, per_user, steps, seeds, batch, probe_every, history_k;
    uint32_t max_new_tokens; /* the longest test target: found in prepare() */
    float lr, delta;
    int quick;
    vkq_llama_config model;
    vkq_ctx *ctx;
    vkq_tokenizer *tok;
    vkq_synth_truth val_truth, test_truth;
    cJSON *runs, *config; /* inside the results document */
    int tty;
    double start;
} demo;

static void path_of(char *out, const demo *d, const char *name)
{
    snprintf(out, PATH, "%s/%s", d->out, name);
}

/* Evaluation generates as many tokens as the longest test target takes, so none is cut. */
static vkq_status longest_target(demo *d, const char *test_path)
{
    vkq_dataset test;
    VKQ_TRY(vkq_dataset_load_jsonl(test_path, 0, &test));
    vkq_status s = vkq_longest_target_tokens(d->tok, &test, &d->max_new_tokens);
    vkq_dataset_free(&test);
    return s;
}

/* The same initial weights and byte-level tokenizer for every method. */
static vkq_status prepare(demo *d)
{
    char path[PATH];
    VKQ_TRY(vkq_make_dirs(d->out));
    path_of(path, d, "data");
    vkq_synth_options so = {d->users, d->per_user, 1};
    VKQ_TRY(vkq_synth_write(&so, path));
    path_of(path, d, "tokenizer.bin");
    VKQ_TRY(vkq_tokenizer_write_byte_level(path));
    VKQ_TRY(vkq_tokenizer_load(path, VKQ_BYTE_TOKENIZER_VOCAB, &d->tok));
    vkq_llama_tensors l;
    vkq_llama_tensors_of(&d->model, &l);
    float *params = malloc(l.total * sizeof *params);
    if (!params)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_llama_init_random(&d->model, 1, params);
    path_of(path, d, "init.bin");
    vkq_status s = vkq_llama2c_write(path, &d->model, params);
    free(params);
    path_of(path, d, "data/test.jsonl");
    if (s == VKQ_OK)
        s = longest_target(d, path);
    path_of(path, d, "data/truth.jsonl");
    if (s == VKQ_OK)
        s = vkq_synth_truth_load(path, "val", &d->val_truth);
    if (s == VKQ_OK)
        s = vkq_synth_truth_load(path, "test", &d->test_truth);
    return s;
}

static void run_config(const demo *d, const char *method, uint32_t seed, const char *run_dir,
                       vkq_train_config *c)
{
    vkq_train_config_defaults(c);
    snprintf(c->model, sizeof c->model, "%s/init.bin", d->out);
    snprintf(c->tokenizer, sizeof c->tokenizer, "%s/tokenizer.bin", d->out);
    snprintf(c->data, sizeof c->data, "%s/data/train.jsonl", d->out);
    snprintf(c->val, sizeof c->val, "%s/data/val.jsonl", d->out);
    snprintf(c->out, sizeof c->out, "%s", run_dir);
    snprintf(c->method, sizeof c->method, "%s", method);
    c->seed = seed;
    c->steps = d->steps;
    c->batch = d->batch;
    c->lr = d->lr;
    c->delta = d->delta;
    c->weight_decay = 0.0f;
    c->warmup = 0.05f;
    c->history_k = d->history_k;
    c->max_prompt_tokens = 256;
    c->max_target_tokens = 96;
    c->probe_every = d->probe_every;
    c->log_every = 1;
}

typedef struct progress_line {
    const demo *d;
    const char *method;
    uint32_t seed, index, total;
} progress_line;

static void show_progress(const vkq_train_progress *p, void *user)
{
    const progress_line *l = user;
    if (p->memory_only)
        return;
    double elapsed = cli_now_seconds() - l->d->start;
    if (l->d->tty)
        fprintf(stderr, "\rdemo [%u/%u] %-9s seed %u: step %3u/%u loss %.3f  %.0f tok/s  %.0fs ",
                l->index, l->total, l->method, l->seed, p->step, p->steps, p->loss,
                p->tokens_per_s, elapsed);
    else if (p->step == p->steps)
        fprintf(stderr, "demo [%u/%u] %s seed %u: %u steps, loss %.3f, %.0fs elapsed\n",
                l->index, l->total, l->method, l->seed, p->steps, p->loss, elapsed);
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
    const char *keys[] = {"step", "loss", "loss_n", "loss_p"};
    for (int i = 0; i < 4; i++)
        cJSON_AddNumberToObject(entry, keys[i],
                                cJSON_GetNumberValue(cJSON_GetObjectItem(o, keys[i])));
    cJSON_AddItemToArray(user, entry);
    return VKQ_OK;
}

typedef struct detection {
    const demo *d;
    cJSON *series;
    float delta;
} detection;

/* Precision and recall of DCE > delta against the recorded preference-bearing tokens. */
static vkq_status add_detection(const cJSON *o, void *user)
{
    const detection *det = user;
    const vkq_synth_truth *truth = &det->d->val_truth;
    const cJSON *samples = cJSON_GetObjectItem(o, "dce");
    uint32_t n = (uint32_t)cJSON_GetArraySize(samples), total = 0, at = 0;
    if (n != truth->count)
        return vkq_fail(VKQ_ERR_FORMAT, "the probe has %u samples, the truth %u", n, truth->count);
    for (uint32_t i = 0; i < n; i++)
        total += (uint32_t)cJSON_GetArraySize(cJSON_GetArrayItem(samples, (int)i));
    float *dce = malloc(total * sizeof *dce);
    uint8_t *flags = malloc(total);
    vkq_status s = dce && flags ? VKQ_OK : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t i = 0; i < n && s == VKQ_OK; i++) {
        const cJSON *values = cJSON_GetArrayItem(samples, (int)i);
        uint32_t k = (uint32_t)cJSON_GetArraySize(values);
        for (uint32_t j = 0; j < k; j++)
            dce[at + j] = (float)cJSON_GetNumberValue(cJSON_GetArrayItem(values, (int)j));
        const vkq_synth_sample *x = &truth->samples[i];
        s = vkq_synth_token_flags(det->d->tok, x->target, x->spans, x->n_spans, flags + at, k);
        at += k;
    }
    double precision = 0, recall = 0;
    if (s == VKQ_OK)
        s = vkq_detection_scores(dce, flags, total, det->delta, &precision, &recall);
    if (s == VKQ_OK) {
        cJSON *entry = cJSON_CreateObject();
        cJSON_AddNumberToObject(entry, "step",
                                cJSON_GetNumberValue(cJSON_GetObjectItem(o, "step")));
        cJSON_AddNumberToObject(entry, "precision", precision);
        cJSON_AddNumberToObject(entry, "recall", recall);
        cJSON_AddItemToArray(det->series, entry);
    }
    free(dce);
    free(flags);
    return s;
}

static vkq_status evaluate(demo *d, const vkq_train_config *c, cJSON *metrics)
{
    vkq_eval_config e;
    vkq_eval_config_defaults(&e);
    char model[PATH + 16], data[PATH + 32], out[PATH + 16];
    snprintf(model, sizeof model, "%s/model.bin", c->out);
    snprintf(data, sizeof data, "%s/data/test.jsonl", d->out);
    snprintf(out, sizeof out, "%s/eval", c->out);
    e.model = model;
    e.tokenizer = c->tokenizer;
    e.data = data;
    e.out = out;
    e.limits = (vkq_prompt_limits){.history_k = c->history_k,
                                   .max_prompt_tokens = c->max_prompt_tokens,
                                   .max_target_tokens = c->max_target_tokens};
    e.max_new_tokens = d->max_new_tokens;
    /* With a byte-level vocabulary the prompt has already used nearly every byte, so the
     * repetition penalty lowers nearly every byte but not the unseen EOS: greedy, no penalty. */
    e.repetition_penalty = 1.0f;
    e.batch = d->test_truth.count;
    vkq_text_scores scores;
    vkq_predictions preds = {0};
    VKQ_TRY(vkq_evaluate(d->ctx, &e, &scores, &preds));
    double style = 0;
    vkq_status s = vkq_style_accuracy(&d->test_truth, (const char *const *)preds.texts,
                                      preds.count, &style);
    vkq_predictions_free(&preds);
    VKQ_TRY(s);
    cJSON_AddNumberToObject(metrics, "style_accuracy", style);
    cJSON_AddNumberToObject(metrics, "rouge1", scores.rouge1);
    cJSON_AddNumberToObject(metrics, "rougeL", scores.rougeL);
    cJSON_AddNumberToObject(metrics, "bleu", scores.bleu);
    return VKQ_OK;
}

static vkq_status read_json_file(const char *path, cJSON **out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot open", path);
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&text, &cap, '\0', f); /* the whole file: JSON holds no NUL */
    fclose(f);
    *out = n > 0 ? cJSON_Parse(text) : NULL;
    free(text);
    return *out ? VKQ_OK : vkq_fail(VKQ_ERR_FORMAT, "%s: not a JSON document", path);
}

/* The options of a run that its results depend on, as the trainer resolved them in the run's
 * config.json. */
static vkq_status add_resolved_options(const char *run_dir, cJSON *run, cJSON *config)
{
    char path[PATH + 16];
    snprintf(path, sizeof path, "%s/config.json", run_dir);
    cJSON *resolved;
    VKQ_TRY(read_json_file(path, &resolved));
    cJSON *own = cJSON_AddObjectToObject(run, "config");
    const char *keys[] = {"lr", "history_k", "alpha", "delta"};
    vkq_status s = VKQ_OK;
    for (int i = 0; i < 4 && s == VKQ_OK; i++) {
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(resolved, keys[i]);
        if (!cJSON_IsNumber(value))
            s = vkq_fail(VKQ_ERR_FORMAT, "%s: no number \"%s\"", path, keys[i]);
        else if (!cJSON_AddItemToObject(own, keys[i], cJSON_Duplicate(value, 0)) ||
                 (config && !cJSON_AddItemToObject(config, keys[i], cJSON_Duplicate(value, 0))))
            s = vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    cJSON_Delete(resolved);
    return s;
}

static vkq_status run_one(demo *d, const char *method, uint32_t seed, uint32_t index,
                          uint32_t total)
{
    char run_dir[PATH], path[PATH + 32];
    snprintf(run_dir, sizeof run_dir, "%s/runs/%s-seed%u", d->out, method, seed);
    VKQ_TRY(vkq_make_dirs(run_dir));
    vkq_train_config c;
    run_config(d, method, seed, run_dir, &c);
    progress_line line = {d, method, seed, index, total};
    double t0 = cli_now_seconds();
    VKQ_TRY(vkq_train_run(d->ctx, &c, show_progress, &line, NULL));
    double train_seconds = cli_now_seconds() - t0;
    cJSON *run = cJSON_CreateObject();
    cJSON_AddItemToArray(d->runs, run);
    cJSON_AddStringToObject(run, "method", method);
    cJSON_AddNumberToObject(run, "seed", seed);
    cJSON_AddNumberToObject(run, "train_seconds", train_seconds);
    VKQ_TRY(add_resolved_options(run_dir, run, index == 1 ? d->config : NULL));
    snprintf(path, sizeof path, "%s/log.jsonl", run_dir);
    VKQ_TRY(each_json_line(path, add_loss, cJSON_AddArrayToObject(run, "losses")));
    detection det = {d, cJSON_AddArrayToObject(run, "dce_detection"), c.delta};
    snprintf(path, sizeof path, "%s/probe.jsonl", run_dir);
    VKQ_TRY(each_json_line(path, add_detection, &det));
    return evaluate(d, &c, cJSON_AddObjectToObject(run, "metrics"));
}

/* The demo's own settings; the first run adds the trainer's resolved options. */
static void add_config(demo *d, cJSON *root)
{
    cJSON *c = d->config = cJSON_AddObjectToObject(root, "config");
    cJSON_AddNumberToObject(c, "users", d->users);
    cJSON_AddNumberToObject(c, "per_user", d->per_user);
    cJSON_AddNumberToObject(c, "steps", d->steps);
    cJSON_AddNumberToObject(c, "batch", d->batch);
    cJSON_AddNumberToObject(c, "max_new_tokens", d->max_new_tokens);
    char model[128];
    snprintf(model, sizeof model, "dim %u, hidden %u, %u layers, %u heads (%u kv), byte vocab",
             d->model.dim, d->model.hidden_dim, d->model.n_layers, d->model.n_heads,
             d->model.n_kv_heads);
    cJSON_AddStringToObject(c, "model", model);
    char evaluation[128];
    snprintf(evaluation, sizeof evaluation, "greedy, no repetition penalty, up to %u tokens (the longest test target)",
             d->max_new_tokens);
    cJSON_AddStringToObject(c, "evaluation", evaluation);
}

static cJSON *results_header(demo *d)
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
                            "history reveals the style. One small byte-level model per method and "
                            "seed is trained from the same initialisation on the same data, then "
                            "generates the held-out last review of every user.");
    add_config(d, root);
    cJSON *m = cJSON_AddArrayToObject(root, "methods");
    for (int i = 0; i < METHODS; i++)
        cJSON_AddItemToArray(m, cJSON_CreateString(methods[i]));
    cJSON *s = cJSON_AddArrayToObject(root, "seeds");
    for (uint32_t i = 1; i <= d->seeds; i++)
        cJSON_AddItemToArray(s, cJSON_CreateNumber(i));
    return root;
}

/* mean and half the range of one metric over the seeds of a method */
static void metric_stats(const cJSON *runs, const char *method, const char *metric, double *mean,
                         double *spread)
{
    double sum = 0, lo = INFINITY, hi = -INFINITY;
    int n = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, runs)
    {
        if (strcmp(cJSON_GetObjectItem(r, "method")->valuestring, method) != 0)
            continue;
        double v = cJSON_GetNumberValue(
            cJSON_GetObjectItem(cJSON_GetObjectItem(r, "metrics"), metric));
        sum += v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        n++;
    }
    *mean = n ? sum / n : NAN;
    *spread = n ? (hi - lo) / 2 : NAN;
}

static void print_table(const cJSON *runs, uint32_t seeds)
{
    const char *metrics[] = {"style_accuracy", "rouge1", "rougeL", "bleu"};
    printf("\n%-10s %-18s %-18s %-18s %-18s\n", "method", "style accuracy", "ROUGE-1", "ROUGE-L",
           "BLEU");
    for (int m = 0; m < METHODS; m++) {
        printf("%-10s", methods[m]);
        for (int k = 0; k < 4; k++) {
            double mean, spread;
            metric_stats(runs, methods[m], metrics[k], &mean, &spread);
            char cell[32];
            snprintf(cell, sizeof cell, k == 3 ? "%.2f ± %.2f" : "%.3f ± %.3f", mean, spread);
            printf(" %-19s", cell);
        }
        printf("\n");
    }
    printf("(mean ± half the range over %u seeds)\n", seeds);
}

static vkq_status write_text(const char *path, FILE *f, void *text)
{
    return vkq_write_bytes(path, f, text, 1, strlen(text));
}

static vkq_status write_results(const demo *d, cJSON *root)
{
    char path[PATH];
    path_of(path, d, "results.json");
    char *text = cJSON_Print(root);
    if (!text)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    vkq_status s = vkq_write_atomic(path, write_text, text);
    free(text);
    VKQ_TRY(s);
    char html[PATH];
    path_of(html, d, "report.html");
    return vkq_report_write(path, html);
}

static vkq_status run_demo(demo *d)
{
    VKQ_TRY(prepare(d));
    cJSON *root = results_header(d);
    d->runs = cJSON_AddArrayToObject(root, "runs");
    vkq_status s = VKQ_OK;
    uint32_t total = METHODS * d->seeds, index = 0;
    for (uint32_t seed = 1; seed <= d->seeds && s == VKQ_OK; seed++)
        for (int m = 0; m < METHODS && s == VKQ_OK; m++)
            s = run_one(d, methods[m], seed, ++index, total);
    if (d->tty)
        fputc('\n', stderr);
    if (s == VKQ_OK)
        s = write_results(d, root);
    if (s == VKQ_OK) {
        print_table(d->runs, d->seeds);
        printf("report: %s/report.html (%.0f s)\n", d->out, cli_now_seconds() - d->start);
    }
    cJSON_Delete(root);
    return s;
}

static vkq_status parse(int argc, char **argv, demo *d)
{
    *d = (demo){.out = "runs/demo", .users = 16, .per_user = 8, .steps = 160, .seeds = 2,
                .batch = 8, .probe_every = 40, .lr = 1e-2f, .delta = 0.05f,
                .history_k = 1}; /* every item of a user shows the whole style: one is enough */
    d->model = (vkq_llama_config){.dim = 64, .hidden_dim = 160, .n_layers = 2, .n_heads = 4,
                                  .n_kv_heads = 2, .vocab_size = VKQ_BYTE_TOKENIZER_VOCAB,
                                  .seq_len = 1024, .shared_classifier = 1, .norm_eps = 1e-5f,
                                  .rope_theta = 10000.0f};
    cli_option opts[] = {{"--out", CLI_STRING, &d->out},       {"--users", CLI_U32, &d->users},
                         {"--per-user", CLI_U32, &d->per_user}, {"--steps", CLI_U32, &d->steps},
                         {"--seeds", CLI_U32, &d->seeds},       {"--batch", CLI_U32, &d->batch},
                         {"--probe-every", CLI_U32, &d->probe_every},
                         {"--lr", CLI_FLOAT, &d->lr},           {"--delta", CLI_FLOAT, &d->delta},
                         {"--history-k", CLI_U32, &d->history_k},
                         {"--quick", CLI_FLAG, &d->quick}};
    VKQ_TRY(cli_parse("demo", argc, argv, 2, opts, sizeof opts / sizeof opts[0]));
    if (d->quick) { /* a miniature for tests: seconds, not minutes */
        d->users = 4;
        d->per_user = 4;
        d->steps = 4;
        d->seeds = 1;
        d->probe_every = 2;
        d->model.dim = 16;
        d->model.hidden_dim = 32;
        d->model.n_heads = 2;
        d->model.n_kv_heads = 1;
    }
    if (d->seeds > MAX_SEEDS)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "demo: --seeds is at most %d", MAX_SEEDS);
    return VKQ_OK;
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
        s = run_demo(&d);
    vkq_tokenizer_free(d.tok);
    vkq_synth_truth_free(&d.val_truth);
    vkq_synth_truth_free(&d.test_truth);
    if (d.ctx) {
        vkq_status e = vkq_ctx_destroy(d.ctx);
        s = s == VKQ_OK ? e : s;
    }
    return s == VKQ_OK ? 0 : cli_fail(s);
}
