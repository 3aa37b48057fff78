/* A miniature of the demo (vkquill demo --quick): the report's structure, and DCE precision
 * and recall recomputed here, independently, from the probe log and the recorded truth.
 * With the byte-level tokenizer the response tokens of a target are the dummy-prefix space,
 * one token per target byte, then EOS. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                        \
    do {                                        \
        if (!(cond)) {                          \
            printf("FAIL: " __VA_ARGS__);       \
            printf("\n");                       \
            failures++;                         \
        }                                       \
    } while (0)

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    if (text && fread(text, 1, (size_t)n, f) == (size_t)n)
        text[n] = '\0';
    else {
        free(text);
        text = NULL;
    }
    fclose(f);
    return text;
}

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

static int preference_byte(const cJSON *truth, int byte)
{
    const cJSON *span;
    cJSON_ArrayForEach(span, cJSON_GetObjectItem(truth, "spans"))
    {
        int start = cJSON_GetArrayItem(span, 0)->valueint, end = cJSON_GetArrayItem(span, 1)->valueint;
        if (byte >= start && byte < end)
            return 1;
    }
    return 0;
}

/* Precision and recall of DCE > delta at one probe line. */
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
            int flag = k >= 1 && k < n - 1 && preference_byte(t, k - 1);
            int above = cJSON_GetArrayItem(tokens, k)->valuedouble > delta;
            hits += flag && above;
            detected += above;
            flagged += flag;
        }
    }
    *precision = detected ? (double)hits / detected : 0.0;
    *recall = flagged ? (double)hits / flagged : 0.0;
}

static void check_detection(const char *dir, const cJSON *run, const cJSON *truth, double delta)
{
    char path[700], name[64];
    snprintf(name, sizeof name, "%s-seed%d", cJSON_GetObjectItem(run, "method")->valuestring,
             cJSON_GetObjectItem(run, "seed")->valueint);
    snprintf(path, sizeof path, "%s/runs/%s/probe.jsonl", dir, name);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "%s missing", path);
    const cJSON *series = cJSON_GetObjectItem(run, "dce_detection");
    char *line = NULL;
    size_t cap = 0;
    int i = 0;
    while (f && getline(&line, &cap, f) > 0) {
        cJSON *probe = cJSON_Parse(line);
        const cJSON *entry = cJSON_GetArrayItem(series, i++);
        double p, r;
        recompute(probe, truth, delta, &p, &r);
        CHECK(entry && fabs(cJSON_GetObjectItem(entry, "precision")->valuedouble - p) < 1e-9 &&
                  fabs(cJSON_GetObjectItem(entry, "recall")->valuedouble - r) < 1e-9,
              "%s step %d: detection differs from the recomputation (%g, %g)", name,
              cJSON_GetObjectItem(probe, "step")->valueint, p, r);
        cJSON_Delete(probe);
    }
    CHECK(i > 0 && i == cJSON_GetArraySize(series), "%s: %d probe lines for %d series entries",
          name, i, cJSON_GetArraySize(series));
    free(line);
    if (f)
        fclose(f);
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
    char *text = read_file(path);
    cJSON *resolved = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(resolved != NULL, "%s missing", path);
    const char *keys[] = {"lr", "delta", "history_k", "alpha"};
    const cJSON *own = cJSON_GetObjectItem(run, "config");
    for (int i = 0; resolved && i < 4; i++) {
        double want = cJSON_GetNumberValue(cJSON_GetObjectItem(resolved, keys[i]));
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(own, keys[i])) == want &&
                  cJSON_GetNumberValue(cJSON_GetObjectItem(config, keys[i])) == want,
              "%s: results.json's %s differs from config.json's %g", path, keys[i], want);
    }
    CHECK(resolved && (float)cJSON_GetObjectItem(resolved, "lr")->valuedouble == 0.003f &&
              (float)cJSON_GetObjectItem(resolved, "delta")->valuedouble == 0.02f &&
              cJSON_GetObjectItem(resolved, "history_k")->valueint == 2,
          "%s: the runs did not get --lr 0.003 --delta 0.02 --history-k 2", path);
    cJSON_Delete(resolved);
}

static void check_report(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/report.html", dir);
    char *html = read_file(path);
    CHECK(html != NULL, "no report.html");
    if (!html)
        return;
    const char *methods[] = {"sft", "mce", "dce", "nextquill"};
    const char *at = strstr(html, "<table");
    for (int i = 0; i < 4 && at; i++) {
        at = strstr(at, methods[i]);
        CHECK(at != NULL, "the table lacks %s in order", methods[i]);
    }
    int svgs = 0;
    for (const char *p = html; (p = strstr(p, "<svg")); p++)
        svgs++;
    CHECK(svgs >= 3, "%d charts", svgs);
    CHECK(!strstr(html, "<script") && !strstr(html, "src=\"http"), "the report is not self-contained");
    free(html);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_demo VKQUILL\n");
        return 2;
    }
    char dir[] = "/tmp/vkq-demo-XXXXXX", cmd[1024];
    if (!mkdtemp(dir))
        return 1;
    snprintf(cmd, sizeof cmd, "%s demo --quick --lr 0.003 --delta 0.02 --history-k 2 --out %s/demo > %s/stdout", argv[1], dir, dir);
    CHECK(system(cmd) == 0, "%s failed", cmd);
    char demo_dir[512], path[600];
    snprintf(demo_dir, sizeof demo_dir, "%s/demo", dir);
    snprintf(path, sizeof path, "%s/results.json", demo_dir);
    char *text = read_file(path);
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
        check_detection(demo_dir, run, truth, delta);
        check_resolved_options(demo_dir, run, config);
        const cJSON *m = cJSON_GetObjectItem(run, "metrics");
        double style = cJSON_GetObjectItem(m, "style_accuracy")->valuedouble;
        CHECK(style >= 0 && style <= 1, "style accuracy %g", style);
    }
    CHECK(runs == 4, "%d runs, not one per method", runs);
    check_report(demo_dir);
    cJSON_Delete(truth);
    cJSON_Delete(results);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "could not remove %s", dir);
    printf("%s\n", failures ? "demo miniature: FAILED" : "demo miniature: ok");
    return failures != 0;
}
