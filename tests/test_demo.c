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
    snprintf(cmd, sizeof cmd, "%s demo --quick --out %s/demo > %s/stdout", argv[1], dir, dir);
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
    double delta = cJSON_GetObjectItem(cJSON_GetObjectItem(results, "config"), "delta")->valuedouble;
    cJSON_ArrayForEach(run, cJSON_GetObjectItem(results, "runs"))
    {
        runs++;
        check_detection(demo_dir, run, truth, delta);
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
