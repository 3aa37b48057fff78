/* The HTML report from hand-chosen results: page structure, the cells with their intervals, the
 * verdict and comparisons as given, curves with whiskers, the DCE detector table and shaded
 * tokens, the optional sweep, escaping, and the one-line errors of malformed results, which
 * leave no page behind. */
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

#include "support.h"
#include "vkquill/report.h"


static const char *const method_keys[] = {"sft", "mce", "dce", "nextquill"};

/* Rows: name, then mean, lo, hi of style accuracy, ROUGE-1 and ROUGE-L, then BLEU. */
typedef struct row_values {
    const char *name;
    double v[3][3], bleu;
} row_values;

static const row_values base_rows[] = {
    {"base, no history", {{0.080, 0.060, 0.100}, {0.100, 0.090, 0.110}, {0.090, 0.080, 0.100}}, 0.1},
    {"base", {{0.120, 0.100, 0.140}, {0.150, 0.140, 0.160}, {0.140, 0.130, 0.150}}, 0.4},
    {"sft, no history", {{0.200, 0.180, 0.220}, {0.400, 0.380, 0.420}, {0.380, 0.360, 0.400}}, 5.0},
    {"sft", {{0.620, 0.580, 0.660}, {0.700, 0.680, 0.720}, {0.650, 0.630, 0.670}}, 20.0},
    {"mce", {{0.600, 0.560, 0.640}, {0.690, 0.670, 0.710}, {0.640, 0.620, 0.660}}, 19.0},
    {"dce", {{0.610, 0.570, 0.650}, {0.705, 0.690, 0.720}, {0.655, 0.640, 0.670}}, 19.5},
    {"nextquill", {{0.640, 0.600, 0.680}, {0.690, 0.670, 0.710}, {0.660, 0.640, 0.680}}, 21.0},
};
enum { ROWS = sizeof base_rows / sizeof base_rows[0] };

typedef struct fixture {
    char dir[TEST_DIR_SIZE], json[TEST_DIR_SIZE + 16], html[TEST_DIR_SIZE + 16],
        tmp[TEST_DIR_SIZE + 20];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    if (test_make_temp_dir(f->dir, "report") != 0)
        return -1;
    snprintf(f->json, sizeof f->json, "%s/results.json", f->dir);
    snprintf(f->html, sizeof f->html, "%s/report.html", f->dir);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp", f->html);
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

static cJSON *make_run(int m, int seed)
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
    return run;
}

static cJSON *interval(double mean, double lo, double hi)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "mean", mean);
    cJSON_AddNumberToObject(o, "lo", lo);
    cJSON_AddNumberToObject(o, "hi", hi);
    return o;
}

static const char *const metric_keys[] = {"style_accuracy", "rouge1", "rougeL"};

static cJSON *make_rows(void)
{
    cJSON *rows = cJSON_CreateArray();
    for (int r = 0; r < ROWS; r++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", base_rows[r].name);
        for (int k = 0; k < 3; k++)
            cJSON_AddItemToObject(o, metric_keys[k], interval(base_rows[r].v[k][0],
                                                             base_rows[r].v[k][1],
                                                             base_rows[r].v[k][2]));
        cJSON_AddNumberToObject(o, "bleu", base_rows[r].bleu);
        cJSON_AddItemToArray(rows, o);
    }
    return rows;
}

static cJSON *make_comparison(const char *metric, const char *when, double mean, double lo,
                              double hi, const char *reading)
{
    cJSON *o = interval(mean, lo, hi);
    cJSON_AddStringToObject(o, "metric", metric);
    cJSON_AddStringToObject(o, "when", when);
    cJSON_AddStringToObject(o, "reading", reading);
    return o;
}

/* Curves for sft and nextquill at steps 0, 10, 20. */
static cJSON *make_curves(void)
{
    static const char *const arms[] = {"sft", "nextquill"};
    cJSON *curves = cJSON_CreateArray();
    for (int a = 0; a < 2; a++) {
        cJSON *c = cJSON_CreateObject(), *points = cJSON_AddArrayToObject(c, "points");
        cJSON_AddStringToObject(c, "arm", arms[a]);
        for (int i = 0; i < 3; i++) {
            cJSON *p = cJSON_CreateObject();
            cJSON_AddNumberToObject(p, "step", 10 * i);
            double v = 0.1 + 0.2 * i + 0.05 * a;
            cJSON_AddItemToObject(p, "style_accuracy", interval(v, v - 0.03, v + 0.03));
            cJSON_AddItemToObject(p, "rouge1", interval(v + 0.1, v + 0.08, v + 0.12));
            cJSON_AddItemToArray(points, p);
        }
        cJSON_AddItemToArray(curves, c);
    }
    return curves;
}

/* One detector with one example: " Hi!" and EOS, the H decisive. */
static cJSON *make_detectors(void)
{
    cJSON *list = cJSON_CreateArray(), *d = cJSON_CreateObject();
    cJSON_AddItemToArray(list, d);
    cJSON_AddStringToObject(d, "model", "sft");
    cJSON_AddNumberToObject(d, "delta", 0.05);
    cJSON_AddNumberToObject(d, "precision", 0.25);
    cJSON_AddNumberToObject(d, "recall", 0.75);
    cJSON_AddNumberToObject(d, "tokens", 400);
    cJSON_AddNumberToObject(d, "decisive", 40);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(d, "examples"), e);
    cJSON_AddStringToObject(e, "target", "Hi!");
    static const char *const tokens[] = {" ", "H", "i", "<", ""};
    static const double dce[] = {0.0, 0.25, -0.5, 0.01, 0.0};
    static const int decisive[] = {0, 1, 0, 0, 0};
    cJSON *t = cJSON_AddArrayToObject(e, "tokens"), *v = cJSON_AddArrayToObject(e, "dce");
    cJSON *f = cJSON_AddArrayToObject(e, "decisive");
    for (int i = 0; i < 5; i++) {
        cJSON_AddItemToArray(t, cJSON_CreateString(tokens[i]));
        cJSON_AddItemToArray(v, cJSON_CreateNumber(dce[i]));
        cJSON_AddItemToArray(f, cJSON_CreateNumber(decisive[i]));
    }
    return list;
}

/* Results for the methods listed (indices) and seeds 1..seed_count. */
static cJSON *make_results(const int *methods, int method_count, int seed_count,
                           const char *summary)
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
            cJSON_AddItemToArray(runs, make_run(methods[i], s + 1));
    cJSON_AddItemToObject(root, "rows", make_rows());
    cJSON_AddStringToObject(root, "verdict", "SFT learnt the styles <yes>.");
    cJSON *comparisons = cJSON_AddArrayToObject(root, "comparisons");
    cJSON_AddItemToArray(comparisons, make_comparison("style_accuracy", "step 10 (val)", -0.05,
                                                      -0.09, -0.01, "SFT better"));
    cJSON_AddItemToArray(comparisons, make_comparison("rouge1", "end (step 20, test)", 0.01,
                                                      -0.02, 0.04, "no difference shown"));
    cJSON_AddItemToObject(root, "curves", make_curves());
    cJSON_AddItemToObject(root, "detectors", make_detectors());
    return root;
}

static const int all_methods[] = {0, 1, 2, 3};

static cJSON *full_results(void)
{
    return make_results(all_methods, 4, 2, "Tiny run <b>& friends");
}

static void write_json(const char *path, cJSON *root)
{
    char *content = cJSON_Print(root);
    assert_non_null(content);
    test_write_text(path, content);
    free(content);
    cJSON_Delete(root);
}

/* The page for these results, which must be written. */
static char *page_for(const fixture *f, cJSON *root)
{
    write_json(f->json, root);
    if (vkq_report_write(f->json, f->html) != VKQ_OK)
        fail_msg("report: %s", vkq_last_error());
    char *page = test_read_file(f->html, NULL);
    assert_non_null(page);
    return page;
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

#define CI(a, b) " <span class=\"ci\">[" a ", " b "]</span>"

static void test_structure(void **state)
{
    fixture *f = *state;
    char *page = page_for(f, full_results());
    assert_int_equal(test_count_entries(f->dir), 2); /* results.json and report.html, no temporary */
    assert_self_contained(page);
    const char *table = strstr(page, "<table"), *end = strstr(page, "</table>");
    const char *rows[] = {">base, no history<", ">base<", ">SFT, no history<", ">SFT<", ">MCE<",
                          ">DCE<", ">NextQuill<"};
    const char *at = table;
    for (int i = 0; i < ROWS; i++) {
        const char *row = strstr(at, rows[i]);
        assert_true(row && row < end);
        at = row;
    }
    assert_contains(page, "<td><b>0.640" CI("0.600", "0.680") "</b></td>"); /* best style */
    assert_contains(page, "<td>0.620" CI("0.580", "0.660") "</td>");        /* SFT style */
    assert_contains(page, "<td><b>0.705" CI("0.690", "0.720") "</b></td>"); /* DCE ROUGE-1 */
    assert_contains(page, "<td class=\"aside\">21.00</td>");                /* NextQuill BLEU */
    assert_contains(page, "95 % bootstrap interval");
    assert_true(count(page, "<svg") >= 4);
    /* 2 curve charts x 2 arms, and the loss chart x 4 methods */
    assert_int_equal(count(page, "<polyline"), 8);
    assert_true(count(page, "fill=\"url(#bars-") >= 3 * ROWS);
    assert_contains(page, "0.1.0-test");
    assert_contains(page, "llvmpipe (LLVM 15.0.6, 256 bits)");
    assert_null(strstr(page, "sweep")); /* none was given */
    free(page);
}

static void test_escaping(void **state)
{
    fixture *f = *state;
    char *page = page_for(f, full_results());
    assert_contains(page, "Tiny run &lt;b&gt;&amp; friends");
    assert_null(strstr(page, "<b>&"));
    assert_contains(page, "<dd>a&lt;b</dd>");
    assert_contains(page, "SFT learnt the styles &lt;yes&gt;.");
    free(page);
}

static void test_verdict_and_comparisons(void **state)
{
    fixture *f = *state;
    char *page = page_for(f, full_results());
    assert_contains(page, "<strong>Verdict.</strong> SFT learnt the styles");
    assert_contains(page, "<th scope=\"row\">style accuracy</th><td>step 10 (val)</td>"
                          "<td>-0.050 <span class=\"ci\">[-0.090, -0.010]</span></td>"
                          "<td>SFT better</td>");
    assert_contains(page, "<td>+0.010 <span class=\"ci\">[-0.020, +0.040]</span></td>"
                          "<td>no difference shown</td>");
    free(page);
}

/* DCE 0.25 of the decisive H is half the full shade, -0.5 full orange, EOS a glyph. */
static void test_detector(void **state)
{
    fixture *f = *state;
    char *page = page_for(f, full_results());
    assert_contains(page, "<td>0.250</td><td>0.750</td><td>40 of 400</td>");
    assert_contains(page, "<span class=\"tok decisive\" style=\"background:rgba(11,47,110,0.50)"
                          "\" title=\"DCE 0.250\">H</span>");
    assert_contains(page, "style=\"background:rgba(213,94,0,1.00)\" title=\"DCE -0.500\">i"
                          "</span>");
    assert_contains(page, ">&lt;</span>");
    assert_contains(page, ">&nbsp;</span>");
    assert_contains(page, ">&#x2403;</span>");
    free(page);
}

static void test_sweep(void **state)
{
    fixture *f = *state;
    cJSON *root = full_results(), *sweep = cJSON_AddArrayToObject(root, "sweep");
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "arm", "sft");
    cJSON_AddNumberToObject(s, "lr", 0.002);
    cJSON_AddNumberToObject(s, "warmup", 0.1);
    cJSON_AddNumberToObject(s, "style_accuracy", 0.5);
    cJSON_AddNumberToObject(s, "rouge1", 0.625);
    cJSON_AddItemToArray(sweep, s);
    char *page = page_for(f, root);
    assert_contains(page, "<th scope=\"row\">sft</th><td>0.002</td><td>0.1</td><td>0.500</td>"
                          "<td>0.625</td>");
    free(page);
}

/* A subset given out of order, one seed: the loss chart has their lines only. */
static void test_subset(void **state)
{
    fixture *f = *state;
    const int methods[] = {2, 0};
    char *page = page_for(f, make_results(methods, 2, 1, "subset"));
    assert_int_equal(count(page, "<polyline"), 4 + 2);
    assert_contains(page, "DCE 43.0 s;"); /* train seconds 40 + method 2 + seed 1 */
    assert_null(strstr(page, "MCE 4"));
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
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "rows"), 1), "bleu",
                              cJSON_CreateString("high"));
}

static void interval_outside(cJSON *root)
{
    cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "rows"), 3);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(row, "rouge1"), "lo", cJSON_CreateNumber(0.9));
}

static void no_verdict(cJSON *root) { cJSON_DeleteItemFromObject(root, "verdict"); }

static void curve_step_back(cJSON *root)
{
    cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "curves"), 1);
    cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "points"), 2);
    cJSON_ReplaceItemInObject(p, "step", cJSON_CreateNumber(5));
}

static void short_dce(cJSON *root)
{
    cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "detectors"), 0);
    cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "examples"), 0);
    cJSON_DeleteItemFromArray(cJSON_GetObjectItem(e, "dce"), 4);
}

static void sweep_text(cJSON *root)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "arm", "sft");
    cJSON_AddStringToObject(s, "lr", "fast");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "sweep"), s);
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

static void short_losses(cJSON *root)
{
    cJSON_DeleteItemFromArray(cJSON_GetObjectItem(run_at(root, 1), "losses"), 1);
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
    {bleu_text, "\"rows[1].bleu\" must be a number"},
    {interval_outside, "\"rows[3].rouge1\" must have lo <= mean <= hi"},
    {no_verdict, "\"verdict\" is missing"},
    {curve_step_back, "\"curves[1].points[2].step\" must be greater than the step before it"},
    {short_dce, "\"detectors[0].examples[0]\" must have as many \"dce\" and \"decisive\" "
                "values as \"tokens\""},
    {sweep_text, "\"sweep[0].lr\" must be a number"},
    {config_array, "\"config.x\" must be a string, number or boolean"},
    {unknown_method, "\"methods[4]\" is not a method (sft, mce, dce, nextquill)"},
    {missing_run, "\"runs\" has no run for method nextquill seed 2"},
    {step_back, "\"runs[2].losses[1].step\" must be greater than the step before it"},
    {short_losses, "\"runs[1].losses\" steps differ from runs[0] (same method)"},
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
        cJSON *root = full_results();
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

    test_write_text(f->json, "{\n  \"date\": ,\n}\n"); /* the value is missing at line 2, column 11 */
    snprintf(message, sizeof message, "%s:2:11: malformed JSON", f->json);
    assert_error(f, VKQ_ERR_FORMAT, message);

    test_write_text(f->json, "[1, 2]");
    snprintf(message, sizeof message, "%s: the results must be a JSON object", f->json);
    assert_error(f, VKQ_ERR_FORMAT, message);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_structure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verdict_and_comparisons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detector, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
