/* A miniature of the demo (vkquill demo --quick): the results' and the report's structure, and
 * DCE precision and recall under the fixed models recomputed here, independently, from their
 * probe logs and the recorded truth.
 * With the byte-level tokenizer the response tokens of a target are the dummy-prefix space,
 * one token per target byte, then EOS. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static int failures;

#define CHECK(cond, ...)                        \
    do {                                        \
        if (!(cond)) {                          \
            printf("FAIL: " __VA_ARGS__);       \
            printf("\n");                       \
            failures++;                         \
        }                                       \
    } while (0)

/* The val samples' preference spans, in val.jsonl order. */
static cJSON *val_truth(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/data/truth.jsonl", dir);
    FILE *f = fopen(path, "r");
    cJSON *out = cJSON_CreateArray();
    char *line = NULL;
    size_t cap = 0;
    while (f && getline(&line, &cap, f) > 0) {
        cJSON *o = cJSON_Parse(line);
        if (o && strcmp(cJSON_GetObjectItem(o, "split")->valuestring, "val") == 0)
            cJSON_AddItemToArray(out, o);
        else
            cJSON_Delete(o);
    }
    free(line);
    if (f)
        fclose(f);
    return out;
}

/* The synthetic users' choices (src/data/synth.c), by slot name. */
static const char *const *choices_of(const char *slot)
{
    static const char *const openers[] = {"Honestly,", "Well,", "Look,", "Frankly,", "Truly,",
                                          "Gosh,", NULL};
    static const char *const adjectives[] = {"lovely", "stellar", "grim", "quirky", "sleek",
                                             "cozy", "zesty", "snazzy", NULL};
    static const char *const puncts[] = {"!", ".", "...", NULL};
    static const char *const signoffs[] = {"Cheers!", "Peace out.", "Onwards!", "Take care.",
                                           "Ciao!", "Stay cool.", NULL};
    return strcmp(slot, "opener") == 0      ? openers
           : strcmp(slot, "adjective") == 0 ? adjectives
           : strcmp(slot, "punct") == 0     ? puncts
           : strcmp(slot, "signoff") == 0   ? signoffs
                                            : NULL;
}

/* A target byte is decided by the preference where the user's choice first parts from some
 * other choice of the slot (the common prefix's length, counted from the span's start); in a
 * length span, its first byte. */
static int decisive_byte(const cJSON *truth, int byte)
{
    const char *target = cJSON_GetObjectItem(truth, "target")->valuestring;
    const cJSON *span;
    cJSON_ArrayForEach(span, cJSON_GetObjectItem(truth, "spans"))
    {
        int start = cJSON_GetArrayItem(span, 0)->valueint, end = cJSON_GetArrayItem(span, 1)->valueint;
        const char *const *others = choices_of(cJSON_GetArrayItem(span, 2)->valuestring);
        if (!others && byte == start)
            return 1;
        for (int i = 0; others && others[i]; i++) {
            int common = 0;
            while (start + common < end && others[i][common] == target[start + common])
                common++;
            int same = start + common == end && others[i][common] == '\0';
            if (!same && byte == start + common)
                return 1;
        }
    }
    return 0;
}

/* Precision and recall of DCE > delta on the probe line of a fixed model. */
static void recompute(const cJSON *probe, const cJSON *truth, double delta, double *precision,
                      double *recall)
{
    long hits = 0, detected = 0, flagged = 0;
    const cJSON *dce = cJSON_GetObjectItem(probe, "dce");
    for (int i = 0; i < cJSON_GetArraySize(dce); i++) {
        const cJSON *tokens = cJSON_GetArrayItem(dce, i), *t = cJSON_GetArrayItem(truth, i);
        int n = cJSON_GetArraySize(tokens);
        CHECK(n == (int)strlen(cJSON_GetObjectItem(t, "target")->valuestring) + 2,
              "val sample %d has %d response tokens", i, n);
        for (int k = 0; k < n; k++) {
            int flag = k >= 1 && k < n - 1 && decisive_byte(t, k - 1);
            int above = cJSON_GetArrayItem(tokens, k)->valuedouble > delta;
            hits += flag && above;
            detected += above;
            flagged += flag;
        }
    }
    CHECK(flagged > 0 && detected > 0 && hits > 0, "%ld decisive tokens, %ld above delta, %ld "
          "both: a detector that cannot be checked", flagged, detected, hits);
    *precision = detected ? (double)hits / detected : 0.0;
    *recall = flagged ? (double)hits / flagged : 0.0;
}

static void check_detection(const char *dir, const cJSON *detector, const cJSON *truth,
                            double delta)
{
    char path[700];
    const char *model = cJSON_GetObjectItem(detector, "model")->valuestring;
    snprintf(path, sizeof path, "%s/detect/%s/probe.jsonl", dir, model);
    char *text = test_read_file(path, NULL);
    cJSON *probe = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(probe != NULL, "%s missing", path);
    if (!probe)
        return;
    double p, r;
    recompute(probe, truth, delta, &p, &r);
    CHECK(cJSON_GetObjectItem(probe, "step")->valueint == 1, "%s: not the one-step probe", path);
    char cmd[2200]; /* the step at lr 1e-30 left the weights as they were */
    if (strcmp(model, "base") == 0)
        snprintf(cmd, sizeof cmd, "cmp -s %s/init.bin %s/detect/base/model.bin", dir, dir);
    else
        snprintf(cmd, sizeof cmd, "cmp -s %s/runs/sft-seed1/model.bin %s/detect/sft/model.bin",
                 dir, dir);
    CHECK(system(cmd) == 0, "under %s: the detector's model moved (%s)", model, cmd);
    CHECK(fabs(cJSON_GetObjectItem(detector, "precision")->valuedouble - p) < 1e-9 &&
              fabs(cJSON_GetObjectItem(detector, "recall")->valuedouble - r) < 1e-9,
          "under %s: detection differs from the recomputation (%g, %g)", model, p, r);
    cJSON_Delete(probe);
}

/* Generation must cover the longest test target: with the byte-level tokenizer that is its
 * bytes and the dummy-prefix space. */
static void check_generation_length(const char *dir, const cJSON *config)
{
    char path[600];
    snprintf(path, sizeof path, "%s/data/test.jsonl", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "%s missing", path);
    char *line = NULL;
    size_t cap = 0;
    int longest = 0;
    while (f && getline(&line, &cap, f) > 0) {
        cJSON *o = cJSON_Parse(line);
        int n = (int)strlen(cJSON_GetObjectItem(o, "target")->valuestring) + 1;
        longest = n > longest ? n : longest;
        cJSON_Delete(o);
    }
    free(line);
    if (f)
        fclose(f);
    const cJSON *max_new = cJSON_GetObjectItem(config, "max_new_tokens");
    CHECK(longest > 16 && cJSON_IsNumber(max_new) && max_new->valueint == longest,
          "max_new_tokens %d, the longest test target takes %d tokens",
          max_new ? max_new->valueint : -1, longest);
}

/* lr, delta, history_k and alpha as each run's config.json holds them, and as asked. */
static void check_resolved_options(const char *dir, const cJSON *run, const cJSON *config)
{
    char path[700];
    snprintf(path, sizeof path, "%s/runs/%s-seed%d/config.json", dir,
             cJSON_GetObjectItem(run, "method")->valuestring,
             cJSON_GetObjectItem(run, "seed")->valueint);
    char *text = test_read_file(path, NULL);
    cJSON *resolved = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(resolved != NULL, "%s missing", path);
    const char *keys[] = {"lr", "delta", "history_k", "warmup"};
    for (int i = 0; resolved && i < 4; i++) {
        double want = cJSON_GetNumberValue(cJSON_GetObjectItem(resolved, keys[i]));
        CHECK((float)cJSON_GetNumberValue(cJSON_GetObjectItem(config, keys[i])) == (float)want,
              "%s: results.json's %s differs from config.json's %g", path, keys[i], want);
    }
    CHECK(resolved && (float)cJSON_GetObjectItem(resolved, "lr")->valuedouble == 0.003f &&
              (float)cJSON_GetObjectItem(resolved, "delta")->valuedouble == 0.000002f &&
              cJSON_GetObjectItem(resolved, "history_k")->valueint == 2,
          "%s: the runs did not get --lr 0.003 --delta 0.000002 --history-k 2", path);
    cJSON_Delete(resolved);
}

static int ordered(const cJSON *v)
{
    double lo = cJSON_GetObjectItem(v, "lo")->valuedouble, hi = cJSON_GetObjectItem(v, "hi")->valuedouble;
    double mean = cJSON_GetObjectItem(v, "mean")->valuedouble;
    return lo <= mean && mean <= hi && lo >= -1 && hi <= 1;
}

/* The rows in order, every metric with an interval around its mean. */
static void check_rows(const cJSON *results)
{
    const char *names[] = {"base, no history", "base", "sft, no history", "sft", "nextquill"};
    const cJSON *rows = cJSON_GetObjectItem(results, "rows");
    CHECK(cJSON_GetArraySize(rows) == 5, "%d rows", cJSON_GetArraySize(rows));
    for (int i = 0; i < 5 && i < cJSON_GetArraySize(rows); i++) {
        const cJSON *row = cJSON_GetArrayItem(rows, i);
        CHECK(strcmp(cJSON_GetObjectItem(row, "name")->valuestring, names[i]) == 0,
              "row %d is %s", i, cJSON_GetObjectItem(row, "name")->valuestring);
        CHECK(ordered(cJSON_GetObjectItem(row, "style_accuracy")) &&
                  ordered(cJSON_GetObjectItem(row, "rouge1")),
              "row %d: an interval does not hold its mean", i);
    }
    const cJSON *verdict = cJSON_GetObjectItem(results, "verdict");
    CHECK(cJSON_IsString(verdict), "no verdict");
}

/* Every arm's curve starts at the base (step 0) and ends at the last step. */
static void check_curves(const cJSON *results, const cJSON *config)
{
    const cJSON *curve;
    int steps = cJSON_GetObjectItem(config, "steps")->valueint, n = 0;
    cJSON_ArrayForEach(curve, cJSON_GetObjectItem(results, "curves"))
    {
        const cJSON *points = cJSON_GetObjectItem(curve, "points");
        int count = cJSON_GetArraySize(points);
        n++;
        CHECK(count == 3 && cJSON_GetObjectItem(cJSON_GetArrayItem(points, 0), "step")->valueint == 0 &&
                  cJSON_GetObjectItem(cJSON_GetArrayItem(points, count - 1), "step")->valueint == steps,
              "a curve of %d points", count);
    }
    CHECK(n == 2, "%d curves", n);
}

static void check_report(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/report.html", dir);
    char *html = test_read_file(path, NULL);
    CHECK(html != NULL, "no report.html");
    if (!html)
        return;
    const char *rows[] = {"base, no history", "base", "SFT, no history", "SFT", "NextQuill"};
    const char *at = strstr(html, "<table");
    for (int i = 0; i < 5 && at; i++) {
        at = strstr(at, rows[i]);
        CHECK(at != NULL, "the table lacks %s in order", rows[i]);
    }
    int svgs = 0;
    for (const char *p = html; (p = strstr(p, "<svg")); p++)
        svgs++;
    CHECK(svgs >= 4, "%d charts", svgs);
    CHECK(strstr(html, "class=\"tok decisive\"") != NULL, "no shaded decisive token");
    CHECK(!strstr(html, "<script") && !strstr(html, "src=\"http"), "the report is not self-contained");
    free(html);
}

/* A sweep.json beside a base's model file goes into the results of a demo on that base. */
static void check_sweep_beside_model(const char *vkquill, const char *dir)
{
    static const char sweep[] = "[{\"arm\": \"sft\", \"lr\": 0.004, \"warmup\": 0.05, "
                                "\"style_accuracy\": 0.25, \"rouge1\": 0.5}]";
    char cmd[2048], path[600];
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s/base && cp %s/demo/init.bin %s/demo/tokenizer.bin %s/base/ && "
             "echo '%s' > %s/base/sweep.json && %s demo --model %s/base/init.bin --tokenizer "
             "%s/base/tokenizer.bin --users 2 --per-user 3 --steps 1 --seeds 2 --points 1 "
             "--out %s/beside > /dev/null",
             dir, dir, dir, dir, sweep, dir, vkquill, dir, dir, dir);
    CHECK(system(cmd) == 0, "%s failed", cmd);
    snprintf(path, sizeof path, "%s/beside/results.json", dir);
    char *text = test_read_file(path, NULL);
    cJSON *results = text ? cJSON_Parse(text) : NULL, *want = cJSON_Parse(sweep);
    free(text);
    CHECK(cJSON_Compare(cJSON_GetObjectItem(results, "sweep"), want, 1),
          "%s: the sweep beside the model is not in the results", path);
    cJSON_Delete(results);
    cJSON_Delete(want);
}

/* Bad input: one line naming what is wrong, a non-zero exit, no training started. */
static void check_bad_input(const char *vkquill, const char *dir)
{
    char sweep_dir[600], sweep[700], cmd[2048];
    snprintf(sweep_dir, sizeof sweep_dir, "%s/bad", dir);
    snprintf(sweep, sizeof sweep, "%s/sweep.json", sweep_dir);
    snprintf(cmd, sizeof cmd, "mkdir -p %s && echo '{\"x\": 1}' > %s", sweep_dir, sweep);
    CHECK(system(cmd) == 0, "%s failed", cmd);
    struct {
        const char *args, *message;
    } cases[] = {
        {"--seeds 1", "demo: --seeds must be 2 to 10"},
        {"--points 9", "demo: --points must be 1 to 8 and at most --steps"},
        {"--users 1", "demo: --users must be at least 2 and --per-user at least 3"},
        {"--model /nonexistent/m.bin", "demo: /nonexistent/m.bin: no base model (run from the "
                                       "repository root, or give --model and --tokenizer)"},
        {"--quick", "not a sweep (a JSON array); remove it or rerun demo --sweep"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[800];
        snprintf(out, sizeof out, "%s/message", dir);
        snprintf(cmd, sizeof cmd, "%s demo %s --out %s 2> %s > /dev/null", vkquill,
                 cases[i].args, sweep_dir, out);
        int rc = system(cmd);
        char *message = test_read_file(out, NULL);
        CHECK(rc != 0 && message && strstr(message, cases[i].message) &&
                  strchr(message, '\n') == message + strlen(message) - 1,
              "demo %s: exit %d, message %s", cases[i].args, rc, message ? message : "none");
        free(message);
        remove(out);
    }
    snprintf(cmd, sizeof cmd, "test ! -e %s/runs", sweep_dir);
    CHECK(system(cmd) == 0, "a bad sweep.json still started training");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_demo VKQUILL\n");
        return 2;
    }
    char dir[TEST_DIR_SIZE], cmd[1024];
    if (test_make_temp_dir(dir, "demo") != 0)
        return 1;
    snprintf(cmd, sizeof cmd, "%s demo --quick --lr 0.003 --warmup 0.2 --delta 0.000002 --history-k 2 --out %s/demo > %s/stdout", argv[1], dir, dir);
    CHECK(system(cmd) == 0, "%s failed", cmd);
    char demo_dir[512], path[600];
    snprintf(demo_dir, sizeof demo_dir, "%s/demo", dir);
    snprintf(path, sizeof path, "%s/results.json", demo_dir);
    char *text = test_read_file(path, NULL);
    cJSON *results = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(results != NULL, "no results.json");
    cJSON *truth = val_truth(demo_dir);
    CHECK(cJSON_GetArraySize(truth) > 0, "no val truth");
    const cJSON *run;
    int runs = 0;
    const cJSON *config = cJSON_GetObjectItem(results, "config");
    check_generation_length(demo_dir, config);
    double delta = cJSON_GetNumberValue(cJSON_GetObjectItem(config, "delta"));
    cJSON_ArrayForEach(run, cJSON_GetObjectItem(results, "runs"))
    {
        runs++;
        check_resolved_options(demo_dir, run, config);
    }
    CHECK(runs == 4, "%d runs, not sft and nextquill for 2 seeds", runs);
    const cJSON *detector;
    int detectors = 0;
    cJSON_ArrayForEach(detector, cJSON_GetObjectItem(results, "detectors"))
    {
        detectors++;
        check_detection(demo_dir, detector, truth, delta);
    }
    CHECK(detectors == 2, "%d detectors, not the base and sft", detectors);
    check_rows(results);
    check_curves(results, config);
    check_report(demo_dir);
    check_bad_input(argv[1], dir);
    check_sweep_beside_model(argv[1], dir);
    cJSON_Delete(truth);
    cJSON_Delete(results);
    CHECK(test_remove_tree(dir) == 0, "could not remove %s", dir);
    printf("%s\n", failures ? "demo miniature: FAILED" : "demo miniature: ok");
    return failures != 0;
}
