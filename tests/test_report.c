/* The HTML report from hand-chosen results: page structure, the ablation cells and verdicts worked
 * out by hand (mean over the seeds, spread = half the range), escaping, and the one-line errors
 * of malformed results, which leave no page behind. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <cmocka.h>

#include "vkquill/report.h"

#define PM " \xc2\xb1 "

static const char *const method_keys[] = {"sft", "mce", "dce", "nextquill"};

/* [method][seed][style_accuracy, rouge1, rougeL, bleu] for seeds 1 and 2. By hand:
 *   style    SFT 0.470 ± 0.030, MCE 0.410 ± 0.010, DCE 0.460 ± 0.010, NextQuill 0.550 ± 0.030
 *   ROUGE-L  SFT 0.480 ± 0.020, MCE 0.500 ± 0.020, DCE 0.515 ± 0.015, NextQuill 0.560 ± 0.020
 *   BLEU     NextQuill 15.50 ± 0.50, the best. */
static const double base_metrics[4][2][4] = {
    {{0.44, 0.50, 0.46, 10.0}, {0.50, 0.54, 0.50, 12.0}},
    {{0.40, 0.52, 0.48, 11.0}, {0.42, 0.56, 0.52, 13.0}},
    {{0.45, 0.53, 0.50, 12.0}, {0.47, 0.55, 0.53, 14.5}},
    {{0.52, 0.58, 0.54, 15.0}, {0.58, 0.60, 0.58, 16.0}},
};

typedef struct fixture {
    char dir[64], json[96], html[96], tmp[100];
    double metrics[4][2][4];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/vkq-report-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->json, sizeof f->json, "%s/results.json", f->dir);
    snprintf(f->html, sizeof f->html, "%s/report.html", f->dir);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp", f->html);
    memcpy(f->metrics, base_metrics, sizeof f->metrics);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    remove(f->json);
    remove(f->html);
    remove(f->tmp);
    int status = rmdir(f->dir); /* fails if anything else was left behind */
    free(f);
    return status;
}

/* ---- building results ---- */

static cJSON *point(double step, const char *a, double va, const char *b, double vb)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "step", step);
    cJSON_AddNumberToObject(p, a, va);
    cJSON_AddNumberToObject(p, b, vb);
    return p;
}

static cJSON *make_run(int m, int seed, const double metrics[4], int detections)
{
    cJSON *run = cJSON_CreateObject();
    cJSON_AddStringToObject(run, "method", method_keys[m]);
    cJSON_AddNumberToObject(run, "seed", seed);
    cJSON_AddNumberToObject(run, "train_seconds", 40 + m + seed);
    cJSON *losses = cJSON_AddArrayToObject(run, "losses");
    for (int step = 1; step <= 3; step++) {
        double loss = 5.0 - 0.6 * step - 0.2 * m + 0.05 * seed;
        cJSON *p = point(step, "loss", loss, "loss_n", loss);
        cJSON_AddNumberToObject(p, "loss_p", m % 2 ? 0.3 : 0.0);
        cJSON_AddItemToArray(losses, p);
    }
    cJSON *detection = cJSON_AddArrayToObject(run, "dce_detection");
    for (int i = 1; i <= detections; i++)
        cJSON_AddItemToArray(detection, point(2 * i, "precision", 0.3 + 0.1 * i + 0.05 * m,
                                              "recall", 0.2 + 0.1 * i + 0.02 * seed));
    cJSON *scores = cJSON_AddObjectToObject(run, "metrics");
    static const char *const names[] = {"style_accuracy", "rouge1", "rougeL", "bleu"};
    for (int k = 0; k < 4; k++)
        cJSON_AddNumberToObject(scores, names[k], metrics[k]);
    return run;
}

/* Results for the methods listed (indices) and seeds 1..seed_count (at most 2). */
static cJSON *make_results(const fixture *f, const int *methods, int method_count, int seed_count,
                           const char *summary, int detections)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "vkquill_version", "0.1.0-test");
    cJSON_AddStringToObject(root, "date", "2026-11-25T19:30:00Z");
    cJSON_AddStringToObject(root, "machine", "2 cores, 8 GiB");
    cJSON_AddStringToObject(root, "device", "llvmpipe (LLVM 15.0.6, 256 bits)");
    cJSON_AddStringToObject(root, "summary", summary);
    cJSON *config = cJSON_AddObjectToObject(root, "config");
    cJSON_AddNumberToObject(config, "users", 24);
    cJSON_AddStringToObject(config, "note", "a<b");
    cJSON *list = cJSON_AddArrayToObject(root, "methods");
    for (int i = 0; i < method_count; i++)
        cJSON_AddItemToArray(list, cJSON_CreateString(method_keys[methods[i]]));
    cJSON *seeds = cJSON_AddArrayToObject(root, "seeds");
    for (int s = 1; s <= seed_count; s++)
        cJSON_AddItemToArray(seeds, cJSON_CreateNumber(s));
    cJSON *runs = cJSON_AddArrayToObject(root, "runs");
    for (int i = 0; i < method_count; i++)
        for (int s = 0; s < seed_count; s++)
            cJSON_AddItemToArray(runs, make_run(methods[i], s + 1, f->metrics[methods[i]][s],
                                                detections));
    return root;
}

static const int all_methods[] = {0, 1, 2, 3};

static cJSON *full_results(const fixture *f)
{
    return make_results(f, all_methods, 4, 2, "Tiny run <b>& friends", 2);
}

static void write_text(const char *path, const char *content)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(content, 1, strlen(content), file), strlen(content));
    assert_int_equal(fclose(file), 0);
}

static void write_json(const char *path, cJSON *root)
{
    char *content = cJSON_Print(root);
    assert_non_null(content);
    write_text(path, content);
    free(content);
    cJSON_Delete(root);
}

static char *read_text(const char *path)
{
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    char *content = calloc(1, 1 << 20);
    assert_non_null(content);
    size_t n = fread(content, 1, (1 << 20) - 1, file);
    assert_true(n > 0 && n < (1 << 20) - 1);
    fclose(file);
    return content;
}

/* The page for these results, which must be written. */
static char *page_for(const fixture *f, cJSON *root)
{
    write_json(f->json, root);
    if (vkq_report_write(f->json, f->html) != VKQ_OK)
        fail_msg("report: %s", vkq_last_error());
    return read_text(f->html);
}

static int count(const char *haystack, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(haystack, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("the page lacks \"%s\"", needle);
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e = readdir(d); e; e = readdir(d))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* ---- the page ---- */

/* Nothing fetched from anywhere: no scripts, no links or sources, url() only to local ids. */
static void assert_self_contained(const char *page)
{
    assert_null(strstr(page, "<script"));
    assert_null(strstr(page, "http://"));
    assert_null(strstr(page, "https://"));
    assert_null(strstr(page, "src="));
    assert_null(strstr(page, "href="));
    assert_null(strstr(page, "@import"));
    for (const char *p = strstr(page, "url("); p; p = strstr(p + 1, "url("))
        assert_int_equal(p[4], '#');
}

static void test_structure(void **state)
{
    fixture *f = *state;
    char *page = page_for(f, full_results(f));
    assert_int_equal(entries(f->dir), 2); /* results.json and report.html, no temporary */
    assert_self_contained(page);
    assert_int_equal(count(page, "<table"), 1);
    const char *table = strstr(page, "<table"), *end = strstr(page, "</table>");
    const char *rows[] = {">SFT<", ">MCE<", ">DCE<", ">NextQuill<"};
    const char *at = table;
    for (int i = 0; i < 4; i++) {
        const char *row = strstr(at, rows[i]);
        assert_true(row && row < end);
        at = row;
    }
    assert_contains(page, "<td><b>0.550" PM "0.030</b></td>"); /* NextQuill style accuracy */
    assert_contains(page, "<td>0.470" PM "0.030</td>");        /* SFT style accuracy */
    assert_contains(page, "<td><b>0.560" PM "0.020</b></td>"); /* NextQuill ROUGE-L */
    assert_contains(page, "<td>0.515" PM "0.015</td>");        /* DCE ROUGE-L */
    assert_contains(page, "<td><b>15.50" PM "0.50</b></td>");  /* NextQuill BLEU */
    assert_contains(page, "half the range");
    assert_true(count(page, "<svg") >= 3);
    assert_int_equal(count(page, "<polyline"), 12); /* loss, precision, recall x 4 methods */
    assert_true(count(page, "<rect") >= 16);        /* 4 metrics x 4 methods */
    assert_contains(page, "0.1.0-test");
    assert_contains(page, "llvmpipe (LLVM 15.0.6, 256 bits)");
    free(page);
}

static void test_escaping(void **state)
{
    fixture *f = *state;
    char *page = page_for(f, full_results(f));
    assert_contains(page, "Tiny run &lt;b&gt;&amp; friends");
    assert_null(strstr(page, "<b>&"));
    assert_contains(page, "<dd>a&lt;b</dd>");
    free(page);
}

static void test_verdict_win(void **state)
{
    fixture *f = *state;
    char *page = page_for(f, full_results(f));
    assert_contains(page, "NextQuill has the best mean style accuracy here (0.550 vs 0.470 for "
                          "SFT).");
    assert_contains(page, "NextQuill has the best mean ROUGE-L here (0.560 vs 0.515 for DCE).");
    assert_null(strstr(page, "did not beat"));
    free(page);
}

static void test_verdict_loss(void **state)
{
    fixture *f = *state;
    f->metrics[3][0][0] = 0.40; /* NextQuill style accuracy 0.410 ± 0.010 */
    f->metrics[3][1][0] = 0.42;
    f->metrics[3][0][2] = 0.50; /* NextQuill ROUGE-L 0.515 ± 0.015, as DCE */
    f->metrics[3][1][2] = 0.53;
    char *page = page_for(f, full_results(f));
    assert_contains(page, "NextQuill did not beat SFT on style accuracy here (0.410 vs 0.470).");
    assert_contains(page, "NextQuill tied with DCE on ROUGE-L here (0.515 each).");
    assert_contains(page, "<td><b>0.470" PM "0.030</b></td>"); /* SFT now best */
    free(page);
}

/* A subset given out of order, one seed, no detection logged. */
static void test_subset(void **state)
{
    fixture *f = *state;
    const int methods[] = {2, 0};
    char *page = page_for(f, make_results(f, methods, 2, 1, "subset", 0));
    const char *sft = strstr(page, ">SFT<"), *dce = strstr(page, ">DCE<");
    assert_true(sft && dce && sft < dce);
    assert_null(strstr(page, ">MCE<"));
    assert_contains(page, "<td><b>0.450" PM "0.000</b></td>"); /* DCE style accuracy, seed 1 */
    assert_contains(page, "NextQuill was not among the methods run");
    assert_int_equal(count(page, "nothing was logged"), 2);
    free(page);

    const int alone[] = {3};
    page = page_for(f, make_results(f, alone, 1, 2, "alone", 1));
    assert_contains(page, "Only NextQuill was run");
    free(page);
}

/* ---- errors ---- */

static cJSON *run_at(cJSON *root, int i)
{
    return cJSON_GetArrayItem(cJSON_GetObjectItem(root, "runs"), i);
}

static void drop_summary(cJSON *root) { cJSON_DeleteItemFromObject(root, "summary"); }

static void bleu_text(cJSON *root)
{
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(run_at(root, 1), "metrics"), "bleu",
                              cJSON_CreateString("high"));
}

static void config_array(cJSON *root)
{
    cJSON_AddItemToObject(cJSON_GetObjectItem(root, "config"), "x", cJSON_CreateArray());
}

static void unknown_method(cJSON *root)
{
    cJSON_AddItemToArray(cJSON_GetObjectItem(root, "methods"), cJSON_CreateString("ppo"));
}

static void missing_run(cJSON *root)
{
    cJSON_DeleteItemFromArray(cJSON_GetObjectItem(root, "runs"), 7);
}

static void step_back(cJSON *root)
{
    cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(run_at(root, 2), "losses"), 1);
    cJSON_ReplaceItemInObject(p, "step", cJSON_CreateNumber(1));
}

static void short_detection(cJSON *root)
{
    cJSON_DeleteItemFromArray(cJSON_GetObjectItem(run_at(root, 1), "dce_detection"), 1);
}

static void no_seeds(cJSON *root)
{
    cJSON_ReplaceItemInObject(root, "seeds", cJSON_CreateArray());
}

static void repeated_run(cJSON *root)
{
    cJSON_AddItemToArray(cJSON_GetObjectItem(root, "runs"), cJSON_Duplicate(run_at(root, 0), 1));
}

static void unknown_seed(cJSON *root)
{
    cJSON_ReplaceItemInObject(run_at(root, 3), "seed", cJSON_CreateNumber(9));
}

static void missing_loss_p(cJSON *root)
{
    cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(run_at(root, 5), "losses"), 2);
    cJSON_DeleteItemFromObject(p, "loss_p");
}

typedef struct error_case {
    void (*mutate)(cJSON *root);
    const char *message; /* after "FILE: " */
} error_case;

static const error_case error_cases[] = {
    {drop_summary, "\"summary\" is missing"},
    {bleu_text, "\"runs[1].metrics.bleu\" must be a number"},
    {config_array, "\"config.x\" must be a string, number or boolean"},
    {unknown_method, "\"methods[4]\" is not a method (sft, mce, dce, nextquill)"},
    {missing_run, "\"runs\" has no run for method nextquill seed 2"},
    {step_back, "\"runs[2].losses[1].step\" must be greater than the step before it"},
    {short_detection, "\"runs[1].dce_detection\" steps differ from runs[0] (same method)"},
    {no_seeds, "\"seeds\" must be a non-empty array"},
    {repeated_run, "\"runs[8]\" repeats method sft seed 1 (runs[0])"},
    {unknown_seed, "\"runs[3].seed\" is 9, not one of \"seeds\""},
    {missing_loss_p, "\"runs[5].losses[2].loss_p\" is missing"},
};

static void assert_error(const fixture *f, vkq_status want, const char *message)
{
    assert_int_equal(vkq_report_write(f->json, f->html), want);
    assert_string_equal(vkq_last_error(), message);
    assert_int_equal(access(f->html, F_OK), -1);
    assert_int_equal(access(f->tmp, F_OK), -1);
}

static void test_bad_fields(void **state)
{
    fixture *f = *state;
    char message[512];
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        cJSON *root = full_results(f);
        error_cases[i].mutate(root);
        write_json(f->json, root);
        snprintf(message, sizeof message, "%s: %s", f->json, error_cases[i].message);
        assert_error(f, VKQ_ERR_FORMAT, message);
    }
}

static void test_bad_files(void **state)
{
    fixture *f = *state;
    char message[512];
    snprintf(message, sizeof message, "%s: cannot open: No such file or directory", f->json);
    assert_error(f, VKQ_ERR_IO, message);

    write_text(f->json, "{\n  \"date\": ,\n}\n"); /* the value is missing at line 2, column 11 */
    snprintf(message, sizeof message, "%s:2:11: malformed JSON", f->json);
    assert_error(f, VKQ_ERR_FORMAT, message);

    write_text(f->json, "[1, 2]");
    snprintf(message, sizeof message, "%s: the results must be a JSON object", f->json);
    assert_error(f, VKQ_ERR_FORMAT, message);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_structure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verdict_win, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verdict_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
