/* The demo's HTML report: validate the results JSON, summarise each method over its seeds, then
 * render one page (inline CSS and SVG) into memory and write it atomically. */
#include "vkquill/report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"

enum { SFT, MCE, DCE, NEXTQUILL, METHOD_COUNT };
enum { STYLE, ROUGE1, ROUGEL, BLEU, METRIC_COUNT, TRAIN_SECONDS = METRIC_COUNT, STAT_COUNT };
enum { LOSS, PRECISION, RECALL, CURVE_COUNT };

#define PLUS_MINUS "\xc2\xb1"
#define MIDDLE_DOT "\xc2\xb7"
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define MARKER_MAX 30 /* series with at most this many points get a marker on each point */

/* Methods differ in hue, lightness, dash pattern (lines) and fill pattern (bars). */
typedef struct method_style {
    const char *key, *label, *color, *dash, *hatch;
} method_style;

static const method_style method_styles[METHOD_COUNT] = {
    {"sft", "SFT", "#8a8a8a", "none", ""},
    {"mce", "MCE", "#3a9ad9", "9 4",
     "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#fff\" stroke-width=\"2.4\"/>"},
    {"dce", "DCE", "#d55e00", "2.5 3",
     "<circle cx=\"3\" cy=\"3\" r=\"1.4\" fill=\"#fff\"/>"},
    {"nextquill", "NextQuill", "#0b2f6e", "14 4 3 4", ""},
};

typedef struct stat_info {
    const char *key, *label;
    int decimals;
} stat_info;

static const stat_info stat_infos[STAT_COUNT] = {
    {"style_accuracy", "style accuracy", 3}, {"rouge1", "ROUGE-1", 3},
    {"rougeL", "ROUGE-L", 3},                {"bleu", "BLEU", 2},
    {"train_seconds", "train time (s)", 1},
};

typedef struct curve_info {
    const char *list, *value;
} curve_info;

static const curve_info curve_infos[CURVE_COUNT] = {
    {"losses", "loss"}, {"dce_detection", "precision"}, {"dce_detection", "recall"}};

static const char *const loss_fields[] = {"loss", "loss_n", "loss_p"};
static const char *const detection_fields[] = {"precision", "recall"};

/* A mean over the seeds at each logged step; x and y share one allocation (x). */
typedef struct curve {
    size_t n;
    double *x, *y;
} curve;

typedef struct method_result {
    int present;
    double mean[STAT_COUNT], spread[STAT_COUNT]; /* spread = (max - min) / 2 */
    curve curves[CURVE_COUNT];
} method_result;

typedef struct results {
    const char *file;
    cJSON *root;
    const char *version, *date, *machine, *device, *summary;
    const cJSON *config, *seeds, *runs;
    size_t seed_count;
    int *run_of; /* [method * seed_count + seed]: index into runs, -1 while none */
    method_result m[METHOD_COUNT];
} results;

/* ---- growing text ---- */

typedef struct text {
    char *data;
    size_t length, capacity;
    int out_of_memory;
} text;

static int reserve(text *t, size_t more)
{
    if (t->out_of_memory)
        return 0;
    if (t->length + more < t->capacity)
        return 1;
    size_t capacity = t->capacity ? t->capacity : 4096;
    while (capacity <= t->length + more)
        capacity *= 2;
    char *data = realloc(t->data, capacity);
    if (!data) {
        t->out_of_memory = 1;
        return 0;
    }
    t->data = data;
    t->capacity = capacity;
    return 1;
}

static void append(text *t, const char *bytes, size_t n)
{
    if (!reserve(t, n))
        return;
    memcpy(t->data + t->length, bytes, n);
    t->length += n;
    t->data[t->length] = '\0';
}

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(t, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(t->data + t->length, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->length += (size_t)n;
}

/* Text from the results, escaped for HTML element content and attribute values alike. */
static void put_escaped(text *t, const char *s)
{
    while (*s) {
        size_t plain = strcspn(s, "&<>\"'");
        append(t, s, plain);
        s += plain;
        switch (*s) {
        case '&': put(t, "&amp;"); break;
        case '<': put(t, "&lt;"); break;
        case '>': put(t, "&gt;"); break;
        case '"': put(t, "&quot;"); break;
        case '\'': put(t, "&#39;"); break;
        default: return;
        }
        s++;
    }
}

/* ---- reading and validating ---- */

static vkq_status read_file(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    text t = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        append(&t, chunk, n);
    append(&t, "", 0);
    int failed = ferror(f);
    fclose(f);
    if (failed || t.out_of_memory) {
        free(t.data);
        return failed ? vkq_fail(VKQ_ERR_IO, "%s: cannot read", path)
                      : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: out of host memory", path);
    }
    *out = t.data;
    return VKQ_OK;
}

static vkq_status malformed(const char *path, const char *json, const char *at)
{
    int line = 1, column = 1;
    for (const char *p = json; at && p < at && *p; p++, column++)
        if (*p == '\n') {
            line++;
            column = 0;
        }
    return vkq_fail(VKQ_ERR_FORMAT, "%s:%d:%d: malformed JSON", path, line, column);
}

static vkq_status load(results *r)
{
    char *json = NULL;
    VKQ_TRY(read_file(r->file, &json));
    const char *error_at = NULL;
    r->root = cJSON_ParseWithOpts(json, &error_at, 1);
    vkq_status s = VKQ_OK;
    if (!r->root)
        s = malformed(r->file, json, error_at);
    else if (!cJSON_IsObject(r->root))
        s = vkq_fail(VKQ_ERR_FORMAT, "%s: the results must be a JSON object", r->file);
    free(json);
    return s;
}

/* A field's place in the document, for errors: "runs[3].metrics.bleu". */
typedef struct field {
    const char *file;
    char path[160];
} field;

static field fit(field f, int n)
{
    if (n < 0 || (size_t)n >= sizeof f.path)
        memcpy(f.path + sizeof f.path - 4, "...", 4);
    return f;
}

static field member(const field *parent, const char *key)
{
    field f = {parent->file, ""};
    return fit(f, snprintf(f.path, sizeof f.path, "%s%s%s", parent->path,
                           parent->path[0] ? "." : "", key));
}

static field element(const field *parent, size_t index)
{
    field f = {parent->file, ""};
    return fit(f, snprintf(f.path, sizeof f.path, "%s[%zu]", parent->path, index));
}

static vkq_status bad(const field *f, const char *problem)
{
    return vkq_fail(VKQ_ERR_FORMAT, "%s: \"%s\" %s", f->file, f->path, problem);
}

typedef enum kind { STRING, NUMBER, OBJECT, ARRAY } kind;

static int is_kind(const cJSON *item, kind k)
{
    switch (k) {
    case STRING: return cJSON_IsString(item);
    case NUMBER: return cJSON_IsNumber(item) && isfinite(item->valuedouble);
    case OBJECT: return cJSON_IsObject(item);
    case ARRAY: return cJSON_IsArray(item);
    }
    return 0;
}

static vkq_status must_be(const field *f, kind k)
{
    static const char *const names[] = {"must be a string", "must be a number",
                                        "must be an object", "must be an array"};
    return bad(f, names[k]);
}

static vkq_status get(const field *parent, const cJSON *object, const char *key, kind k,
                      const cJSON **out)
{
    field f = member(parent, key);
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (!item)
        return bad(&f, "is missing");
    if (!is_kind(item, k))
        return must_be(&f, k);
    *out = item;
    return VKQ_OK;
}

static vkq_status get_text(const field *parent, const cJSON *object, const char *key,
                           const char **out)
{
    const cJSON *item = NULL;
    VKQ_TRY(get(parent, object, key, STRING, &item));
    *out = item->valuestring;
    return VKQ_OK;
}

static vkq_status get_number(const field *parent, const cJSON *object, const char *key,
                             double *out)
{
    const cJSON *item = NULL;
    VKQ_TRY(get(parent, object, key, NUMBER, &item));
    *out = item->valuedouble;
    return VKQ_OK;
}

/* A member already validated. */
static double number_of(const cJSON *object, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(object, key)->valuedouble;
}

static vkq_status get_list(const field *parent, const cJSON *object, const char *key,
                           const cJSON **out)
{
    VKQ_TRY(get(parent, object, key, ARRAY, out));
    field f = member(parent, key);
    return (*out)->child ? VKQ_OK : bad(&f, "must be a non-empty array");
}

static vkq_status read_config(results *r, const field *top)
{
    VKQ_TRY(get(top, r->root, "config", OBJECT, &r->config));
    field config = member(top, "config");
    for (const cJSON *item = r->config->child; item; item = item->next) {
        field f = member(&config, item->string);
        if (!cJSON_IsString(item) && !is_kind(item, NUMBER) && !cJSON_IsBool(item))
            return bad(&f, "must be a string, number or boolean");
    }
    return VKQ_OK;
}

static int method_index(const cJSON *item)
{
    for (int m = 0; cJSON_IsString(item) && m < METHOD_COUNT; m++)
        if (strcmp(item->valuestring, method_styles[m].key) == 0)
            return m;
    return -1;
}

static vkq_status read_methods(results *r, const field *top)
{
    const cJSON *list = NULL;
    VKQ_TRY(get_list(top, r->root, "methods", &list));
    field methods = member(top, "methods");
    size_t i = 0;
    for (const cJSON *item = list->child; item; item = item->next, i++) {
        field f = element(&methods, i);
        int m = method_index(item);
        if (m < 0)
            return bad(&f, "is not a method (sft, mce, dce, nextquill)");
        if (r->m[m].present)
            return vkq_fail(VKQ_ERR_FORMAT, "%s: \"%s\" repeats %s", f.file, f.path,
                            item->valuestring);
        r->m[m].present = 1;
    }
    return VKQ_OK;
}

static int seed_index(const results *r, double seed)
{
    int s = 0;
    for (const cJSON *item = r->seeds->child; item; item = item->next, s++)
        if (item->valuedouble == seed)
            return s;
    return -1;
}

static double seed_value(const results *r, size_t s)
{
    return cJSON_GetArrayItem(r->seeds, (int)s)->valuedouble;
}

static vkq_status read_seeds(results *r, const field *top)
{
    VKQ_TRY(get_list(top, r->root, "seeds", &r->seeds));
    field seeds = member(top, "seeds");
    for (const cJSON *item = r->seeds->child; item; item = item->next, r->seed_count++) {
        field f = element(&seeds, r->seed_count);
        if (!is_kind(item, NUMBER))
            return must_be(&f, NUMBER);
        if (seed_index(r, item->valuedouble) < (int)r->seed_count)
            return vkq_fail(VKQ_ERR_FORMAT, "%s: \"%s\" repeats %g", f.file, f.path,
                            item->valuedouble);
    }
    return VKQ_OK;
}

static vkq_status read_header(results *r)
{
    const field top = {r->file, ""};
    VKQ_TRY(get_text(&top, r->root, "vkquill_version", &r->version));
    VKQ_TRY(get_text(&top, r->root, "date", &r->date));
    VKQ_TRY(get_text(&top, r->root, "machine", &r->machine));
    VKQ_TRY(get_text(&top, r->root, "device", &r->device));
    VKQ_TRY(get_text(&top, r->root, "summary", &r->summary));
    VKQ_TRY(read_config(r, &top));
    VKQ_TRY(read_methods(r, &top));
    VKQ_TRY(read_seeds(r, &top));
    return get(&top, r->root, "runs", ARRAY, &r->runs);
}

/* A series of objects with an increasing "step" and the numbers named in values. */
static vkq_status check_series(const field *run, const cJSON *object, const char *key,
                               const char *const *values, size_t count)
{
    const cJSON *list = NULL;
    VKQ_TRY(get(run, object, key, ARRAY, &list));
    field series = member(run, key);
    size_t i = 0;
    double step = 0, previous = 0;
    for (const cJSON *point = list->child; point; point = point->next, i++, previous = step) {
        field f = element(&series, i);
        if (!cJSON_IsObject(point))
            return must_be(&f, OBJECT);
        VKQ_TRY(get_number(&f, point, "step", &step));
        field step_field = member(&f, "step");
        if (i > 0 && !(step > previous))
            return bad(&step_field, "must be greater than the step before it");
        for (size_t k = 0; k < count; k++)
            VKQ_TRY(get_number(&f, point, values[k], &(double){0}));
    }
    return VKQ_OK;
}

static vkq_status check_run_values(const field *f, const cJSON *run)
{
    double value = 0;
    const cJSON *metrics = NULL;
    VKQ_TRY(get_number(f, run, "train_seconds", &value));
    VKQ_TRY(check_series(f, run, "losses", loss_fields, COUNT(loss_fields)));
    VKQ_TRY(check_series(f, run, "dce_detection", detection_fields, COUNT(detection_fields)));
    VKQ_TRY(get(f, run, "metrics", OBJECT, &metrics));
    field metrics_field = member(f, "metrics");
    for (int k = 0; k < METRIC_COUNT; k++)
        VKQ_TRY(get_number(&metrics_field, metrics, stat_infos[k].key, &value));
    return VKQ_OK;
}

/* The run's method and seed, both listed at the top. */
static vkq_status run_key(const results *r, const field *f, const cJSON *run, int *m, int *s)
{
    const cJSON *method = NULL;
    double seed = 0;
    VKQ_TRY(get(f, run, "method", STRING, &method));
    VKQ_TRY(get_number(f, run, "seed", &seed));
    field method_field = member(f, "method"), seed_field = member(f, "seed");
    *m = method_index(method);
    if (*m < 0 || !r->m[*m].present)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: \"%s\" is %s, not one of \"methods\"", f->file,
                        method_field.path, method->valuestring);
    *s = seed_index(r, seed);
    if (*s < 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: \"%s\" is %g, not one of \"seeds\"", f->file,
                        seed_field.path, seed);
    return VKQ_OK;
}

static vkq_status check_complete(const results *r)
{
    for (int m = 0; m < METHOD_COUNT; m++)
        for (size_t s = 0; r->m[m].present && s < r->seed_count; s++)
            if (r->run_of[(size_t)m * r->seed_count + s] < 0)
                return vkq_fail(VKQ_ERR_FORMAT, "%s: \"runs\" has no run for method %s seed %g",
                                r->file, method_styles[m].key, seed_value(r, s));
    return VKQ_OK;
}

static vkq_status index_runs(results *r)
{
    size_t slots = METHOD_COUNT * r->seed_count;
    r->run_of = malloc(slots * sizeof *r->run_of);
    if (!r->run_of)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: out of host memory", r->file);
    for (size_t i = 0; i < slots; i++)
        r->run_of[i] = -1;
    const field top = {r->file, ""}, runs = member(&top, "runs");
    int i = 0;
    for (const cJSON *run = r->runs->child; run; run = run->next, i++) {
        field f = element(&runs, (size_t)i);
        int m = 0, s = 0;
        if (!cJSON_IsObject(run))
            return must_be(&f, OBJECT);
        VKQ_TRY(run_key(r, &f, run, &m, &s));
        VKQ_TRY(check_run_values(&f, run));
        int *slot = &r->run_of[(size_t)m * r->seed_count + (size_t)s];
        if (*slot >= 0)
            return vkq_fail(VKQ_ERR_FORMAT, "%s: \"%s\" repeats method %s seed %g (runs[%d])",
                            f.file, f.path, method_styles[m].key, seed_value(r, (size_t)s),
                            *slot);
        *slot = i;
    }
    return check_complete(r);
}

/* ---- summarising over seeds ---- */

static vkq_status steps_differ(const results *r, int run, int first, const char *list)
{
    return vkq_fail(VKQ_ERR_FORMAT, "%s: \"runs[%d].%s\" steps differ from runs[%d] (same method)",
                    r->file, run, list, first);
}

/* Adds this seed's share of the run's series to the mean curve, allocating it on seed 0. */
static vkq_status add_curve(const results *r, curve *c, int which, size_t seed, int run,
                            int first)
{
    const curve_info *info = &curve_infos[which];
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(r->runs, run),
                                                         info->list);
    size_t n = (size_t)cJSON_GetArraySize(list);
    if (seed == 0) {
        c->n = n;
        c->x = calloc(2 * n + 1, sizeof *c->x);
        if (!c->x)
            return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: out of host memory", r->file);
        c->y = c->x + n;
    } else if (n != c->n) {
        return steps_differ(r, run, first, info->list);
    }
    size_t i = 0;
    for (const cJSON *point = list->child; point; point = point->next, i++) {
        double step = number_of(point, "step");
        if (seed > 0 && c->x[i] != step)
            return steps_differ(r, run, first, info->list);
        c->x[i] = step;
        c->y[i] += number_of(point, info->value) / (double)r->seed_count;
    }
    return VKQ_OK;
}

static double stat_of(const cJSON *run, int k)
{
    const cJSON *from = k == TRAIN_SECONDS ? run : cJSON_GetObjectItemCaseSensitive(run, "metrics");
    return number_of(from, stat_infos[k].key);
}

static vkq_status summarise_method(results *r, int m)
{
    method_result *mr = &r->m[m];
    double low[STAT_COUNT], high[STAT_COUNT], sum[STAT_COUNT] = {0};
    int first = r->run_of[(size_t)m * r->seed_count];
    for (size_t s = 0; s < r->seed_count; s++) {
        int run = r->run_of[(size_t)m * r->seed_count + s];
        for (int k = 0; k < STAT_COUNT; k++) {
            double v = stat_of(cJSON_GetArrayItem(r->runs, run), k);
            sum[k] += v;
            low[k] = s == 0 || v < low[k] ? v : low[k];
            high[k] = s == 0 || v > high[k] ? v : high[k];
        }
        for (int c = 0; c < CURVE_COUNT; c++)
            VKQ_TRY(add_curve(r, &mr->curves[c], c, s, run, first));
    }
    for (int k = 0; k < STAT_COUNT; k++) {
        mr->mean[k] = sum[k] / (double)r->seed_count;
        mr->spread[k] = (high[k] - low[k]) / 2;
    }
    return VKQ_OK;
}

static void results_free(results *r)
{
    for (int m = 0; m < METHOD_COUNT; m++)
        for (int c = 0; c < CURVE_COUNT; c++)
            free(r->m[m].curves[c].x);
    free(r->run_of);
    cJSON_Delete(r->root);
}

static vkq_status read_results(results *r)
{
    VKQ_TRY(load(r));
    VKQ_TRY(read_header(r));
    VKQ_TRY(index_runs(r));
    for (int m = 0; m < METHOD_COUNT; m++)
        if (r->m[m].present)
            VKQ_TRY(summarise_method(r, m));
    return VKQ_OK;
}

/* ---- numbers as shown ---- */

/* A mean rounded as the table shows it: comparisons (bold, verdict) agree with the text. */
static double shown(const results *r, int m, int k)
{
    double scale = pow(10, stat_infos[k].decimals);
    return round(r->m[m].mean[k] * scale) / scale;
}

static double best_shown(const results *r, int k)
{
    double best = -INFINITY;
    for (int m = 0; m < METHOD_COUNT; m++)
        if (r->m[m].present && shown(r, m, k) > best)
            best = shown(r, m, k);
    return best;
}

static void put_seeds(text *t, const results *r)
{
    for (size_t s = 0; s < r->seed_count; s++)
        put(t, "%s%g", s ? ", " : "", seed_value(r, s));
}

/* ---- page parts ---- */

static const char page_style[] =
    "body{margin:0;background:#fff;color:#1d1d1f;font:15px/1.5 system-ui,-apple-system,"
    "'Segoe UI',Roboto,Helvetica,Arial,sans-serif}"
    "main{max-width:1000px;margin:0 auto;padding:28px 28px 40px}"
    "h1{font-size:27px;margin:0 0 4px}"
    "h2{font-size:19px;margin:34px 0 10px;padding-bottom:4px;border-bottom:1px solid #d8d8d8}"
    ".meta{color:#555;margin:0 0 14px}"
    ".meta b{color:#1d1d1f;font-weight:600}"
    "dl.config{display:grid;grid-template-columns:repeat(auto-fill,minmax(215px,1fr));"
    "gap:0 22px;margin:0;font-size:13.5px}"
    "dl.config div{display:flex;justify-content:space-between;gap:10px;"
    "border-bottom:1px solid #ececec;padding:3px 0}"
    "dl.config dt{color:#555}"
    "dl.config dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;"
    "overflow-wrap:anywhere;text-align:right}"
    "table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}"
    "th,td{padding:7px 10px;text-align:right;border-bottom:1px solid #e2e2e2;white-space:nowrap}"
    "th:first-child{text-align:left}"
    "thead th{border-bottom:2px solid #333;font-weight:600}"
    "tbody th{font-weight:600}"
    "td.aside{color:#666}"
    ".note{color:#555;font-size:13.5px;margin:8px 0 0}"
    ".verdict{margin:18px 0 0;padding:11px 15px;background:#f2f4f8;border-left:4px solid #0b2f6e}"
    "figure{margin:14px 0 0}"
    "figcaption{color:#555;font-size:13.5px;margin-top:4px}"
    ".row{display:flex;flex-wrap:wrap;gap:14px 26px}"
    "svg{display:block;width:100%;height:auto;overflow:visible}"
    "svg text{font-size:12px;fill:#333}"
    "svg .title{font-size:13px;font-weight:600;fill:#1d1d1f}"
    "svg .grid{stroke:#e8e8e8}"
    "svg .axis{stroke:#444}"
    "ul{padding-left:22px}"
    "li{margin:3px 0}"
    "footer{margin-top:38px;padding-top:8px;border-top:1px solid #d8d8d8;color:#666;"
    "font-size:13px}";

static void put_head(text *t)
{
    put(t, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
           "<title>vkquill: NextQuill ablation report</title>\n<style>%s</style>\n"
           "</head>\n<body>\n<main>\n",
        page_style);
}

static void put_intro(text *t, const results *r)
{
    put(t, "<h1>NextQuill ablation report</h1>\n<p class=\"meta\"><b>Date</b> ");
    put_escaped(t, r->date);
    put(t, " " MIDDLE_DOT " <b>Machine</b> ");
    put_escaped(t, r->machine);
    put(t, " " MIDDLE_DOT " <b>Device</b> ");
    put_escaped(t, r->device);
    put(t, " " MIDDLE_DOT " <b>Seeds</b> ");
    put_seeds(t, r);
    put(t, "</p>\n<p>");
    put_escaped(t, r->summary);
    put(t, "</p>\n");
}

static void put_config_value(text *t, const cJSON *item)
{
    if (cJSON_IsString(item))
        put_escaped(t, item->valuestring);
    else if (cJSON_IsBool(item))
        put(t, "%s", cJSON_IsTrue(item) ? "true" : "false");
    else /* options are floats: 7 digits show what was asked, not its binary rounding */
        put(t, "%.7g", item->valuedouble);
}

static void put_config(text *t, const results *r)
{
    put(t, "<h2>Configuration</h2>\n");
    if (!r->config->child) {
        put(t, "<p class=\"note\">No configuration was recorded.</p>\n");
        return;
    }
    put(t, "<dl class=\"config\">\n");
    for (const cJSON *item = r->config->child; item; item = item->next) {
        put(t, "<div><dt>");
        put_escaped(t, item->string);
        put(t, "</dt><dd>");
        put_config_value(t, item);
        put(t, "</dd></div>\n");
    }
    put(t, "</dl>\n");
}

static void put_cell(text *t, const results *r, int m, int k)
{
    int bold = k < METRIC_COUNT && shown(r, m, k) == best_shown(r, k);
    int d = stat_infos[k].decimals;
    put(t, "<td%s>%s%.*f " PLUS_MINUS " %.*f%s</td>", k == TRAIN_SECONDS ? " class=\"aside\"" : "",
        bold ? "<b>" : "", d, r->m[m].mean[k], d, r->m[m].spread[k], bold ? "</b>" : "");
}

static void put_table(text *t, const results *r)
{
    put(t, "<h2>Ablation</h2>\n<table>\n<thead><tr><th scope=\"col\">method</th>");
    for (int k = 0; k < STAT_COUNT; k++)
        put(t, "<th scope=\"col\">%s</th>", stat_infos[k].label);
    put(t, "</tr></thead>\n<tbody>\n");
    for (int m = 0; m < METHOD_COUNT; m++) {
        if (!r->m[m].present)
            continue;
        put(t, "<tr><th scope=\"row\">%s</th>", method_styles[m].label);
        for (int k = 0; k < STAT_COUNT; k++)
            put_cell(t, r, m, k);
        put(t, "</tr>\n");
    }
    put(t, "</tbody>\n</table>\n<p class=\"note\">Each cell is the mean over the %zu seed%s (",
        r->seed_count, r->seed_count == 1 ? "" : "s");
    put_seeds(t, r);
    put(t, ") " PLUS_MINUS " the spread, which is half the range: (max " "\xe2\x88\x92"
           " min) / 2 over the seeds%s. Bold marks the best mean of each metric, compared as "
           "shown. Style accuracy and ROUGE are on 0..1, BLEU on 0..100; higher is better. "
           "Train time is wall-clock seconds per run.</p>\n",
        r->seed_count == 1 ? ", so 0 with a single seed" : "");
}

/* The best method other than NextQuill on metric k, by the mean as shown; -1 when none. */
static int rival(const results *r, int k)
{
    int best = -1;
    for (int m = 0; m < METHOD_COUNT; m++)
        if (m != NEXTQUILL && r->m[m].present && (best < 0 || shown(r, m, k) > shown(r, best, k)))
            best = m;
    return best;
}

static void put_verdict_on(text *t, const results *r, int k)
{
    int o = rival(r, k), d = stat_infos[k].decimals;
    double ours = shown(r, NEXTQUILL, k), theirs = shown(r, o, k);
    const char *label = stat_infos[k].label, *other = method_styles[o].label;
    if (ours > theirs)
        put(t, " NextQuill has the best mean %s here (%.*f vs %.*f for %s).", label, d, ours, d,
            theirs, other);
    else if (ours == theirs)
        put(t, " NextQuill tied with %s on %s here (%.*f each).", other, label, d, ours);
    else
        put(t, " NextQuill did not beat %s on %s here (%.*f vs %.*f).", other, label, d, ours, d,
            theirs);
    double gap = fabs(ours - theirs), noise = r->m[NEXTQUILL].spread[k] + r->m[o].spread[k];
    if (r->seed_count > 1 && gap > 0 && gap <= noise)
        put(t, " The %s gap is within the spread over seeds, so it may be noise.", label);
}

static void put_verdict(text *t, const results *r)
{
    put(t, "<p class=\"verdict\"><strong>Verdict.</strong>");
    if (!r->m[NEXTQUILL].present)
        put(t, " NextQuill was not among the methods run, so there is no verdict on it.");
    else if (rival(r, STYLE) < 0)
        put(t, " Only NextQuill was run, so there is nothing to compare it with.");
    else {
        put_verdict_on(t, r, STYLE);
        put_verdict_on(t, r, ROUGEL);
    }
    put(t, "</p>\n");
}

/* ---- SVG charts ---- */

typedef struct range {
    double lo, hi, step;
} range;

typedef struct plot {
    double width, height, left, right, top, bottom;
    range x, y;
} plot;

static const range unit_range = {0, 1, 0.2};

/* Bounds on multiples of a 1-2-5 step giving about `ticks` intervals over [lo, hi]. */
static range nice_range(double lo, double hi, int ticks)
{
    if (!(hi > lo)) {
        double pad = lo != 0 ? fabs(lo) / 10 : 1;
        lo -= pad;
        hi += pad;
    }
    double raw = (hi - lo) / ticks, unit = pow(10, floor(log10(raw))), f = raw / unit;
    double step = unit * (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10);
    return (range){floor(lo / step + 1e-9) * step, ceil(hi / step - 1e-9) * step, step};
}

static int tick_decimals(double step)
{
    return step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
}

static int tick_count(const range *r)
{
    return (int)lround((r->hi - r->lo) / r->step);
}

static double px(const plot *p, double v)
{
    return p->left + (v - p->x.lo) / (p->x.hi - p->x.lo) * (p->width - p->left - p->right);
}

static double py(const plot *p, double v)
{
    return p->height - p->bottom -
           (v - p->y.lo) / (p->y.hi - p->y.lo) * (p->height - p->top - p->bottom);
}

static void svg_open(text *t, const plot *p, const char *title)
{
    put(t, "<svg viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"%s\">\n", p->width,
        p->height, title);
    put(t, "<text class=\"title\" x=\"%.1f\" y=\"14\">%s</text>\n", p->left, title);
}

static void y_axis(text *t, const plot *p, const char *label)
{
    int d = tick_decimals(p->y.step);
    double x0 = p->left, x1 = p->width - p->right;
    for (int i = 0; i <= tick_count(&p->y); i++) {
        double v = p->y.lo + i * p->y.step, y = py(p, v);
        put(t, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x0, y, x1,
            y);
        put(t, "<text x=\"%.1f\" y=\"%.1f\" dy=\"0.32em\" text-anchor=\"end\">%.*f</text>\n",
            x0 - 6, y, d, v);
    }
    double mid = (p->top + p->height - p->bottom) / 2;
    put(t, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x0, p->top,
        x0, p->height - p->bottom);
    put(t, "<text transform=\"translate(13 %.1f) rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
        mid, label);
}

static void x_axis(text *t, const plot *p, const char *label)
{
    int d = tick_decimals(p->x.step);
    double y0 = p->height - p->bottom;
    for (int i = 0; i <= tick_count(&p->x); i++) {
        double v = p->x.lo + i * p->x.step, x = px(p, v);
        put(t, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x, y0, x,
            y0 + 5);
        put(t, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.*f</text>\n", x, y0 + 18, d,
            v);
    }
    put(t, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", p->left, y0,
        p->width - p->right, y0);
    put(t, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
        (p->left + p->width - p->right) / 2, p->height - 4, label);
}

/* Legend entries in a row along the top, right-aligned; swatch draws one method's sample. */
typedef void (*swatch_fn)(text *t, int m, double x, double y, const char *id);

static void line_swatch(text *t, int m, double x, double y, const char *id)
{
    (void)id;
    put(t, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
           "stroke-width=\"2.5\" stroke-dasharray=\"%s\"/>",
        x, y, x + 30, y, method_styles[m].color, method_styles[m].dash);
}

static void bar_swatch(text *t, int m, double x, double y, const char *id)
{
    put(t, "<rect x=\"%.1f\" y=\"%.1f\" width=\"22\" height=\"11\" fill=\"url(#%s-%s)\" "
           "stroke=\"#333\" stroke-width=\"0.8\"/>",
        x + 4, y - 5.5, id, method_styles[m].key);
}

#define LEGEND_GAP 16

/* A 30-unit sample, a space and the label (12px text, about 7.5 units a character), a gap. */
static double legend_entry_width(int m)
{
    return 36 + 7.5 * (double)strlen(method_styles[m].label) + LEGEND_GAP;
}

static void legend(text *t, const results *r, const plot *p, swatch_fn swatch, const char *id)
{
    double width = 0;
    for (int m = 0; m < METHOD_COUNT; m++)
        width += r->m[m].present ? legend_entry_width(m) : 0;
    double x = p->width - p->right - width + LEGEND_GAP, y = 33;
    for (int m = 0; m < METHOD_COUNT; m++) {
        if (!r->m[m].present)
            continue;
        swatch(t, m, x, y, id);
        put(t, "<text x=\"%.1f\" y=\"%.1f\" dy=\"0.32em\">%s</text>\n", x + 36, y,
            method_styles[m].label);
        x += legend_entry_width(m);
    }
}

static void polyline(text *t, const plot *p, const curve *c, int m)
{
    const method_style *style = &method_styles[m];
    if (c->n == 0)
        return;
    put(t, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2.2\" stroke-dasharray=\"%s\" "
           "stroke-linejoin=\"round\" points=\"",
        style->color, style->dash);
    for (size_t i = 0; i < c->n; i++)
        put(t, "%s%.1f,%.1f", i ? " " : "", px(p, c->x[i]), py(p, c->y[i]));
    put(t, "\"/>\n");
    for (size_t i = 0; c->n <= MARKER_MAX && i < c->n; i++)
        put(t, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\" fill=\"%s\"/>", px(p, c->x[i]),
            py(p, c->y[i]), style->color);
    put(t, "\n");
}

/* The extent of one kind of curve over every method; 0 when no point was logged. */
static int curve_bounds(const results *r, int which, range *x, range *y)
{
    int any = 0;
    for (int m = 0; m < METHOD_COUNT; m++) {
        const curve *c = &r->m[m].curves[which];
        for (size_t i = 0; r->m[m].present && i < c->n; i++, any = 1) {
            x->lo = any ? fmin(x->lo, c->x[i]) : c->x[i];
            x->hi = any ? fmax(x->hi, c->x[i]) : c->x[i];
            y->lo = any ? fmin(y->lo, c->y[i]) : c->y[i];
            y->hi = any ? fmax(y->hi, c->y[i]) : c->y[i];
        }
    }
    return any;
}

static void line_chart(text *t, const results *r, int which, const char *title, double width)
{
    plot p = {width, 320, 58, 14, 50, 42, {0, 1, 0.2}, unit_range};
    range x = {0, 1, 0}, y = {0, 1, 0};
    int any = curve_bounds(r, which, &x, &y);
    if (any) {
        p.x = nice_range(x.lo, x.hi, 6);
        p.y = which == LOSS ? nice_range(y.lo, y.hi, 5) : unit_range;
    }
    svg_open(t, &p, title);
    y_axis(t, &p, which == LOSS ? "loss (mean over seeds)" : curve_infos[which].value);
    if (any)
        x_axis(t, &p, "training step");
    legend(t, r, &p, line_swatch, NULL);
    for (int m = 0; m < METHOD_COUNT; m++)
        if (r->m[m].present)
            polyline(t, &p, &r->m[m].curves[which], m);
    if (!any)
        put(t, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">nothing was logged</text>\n",
            width / 2, p.height / 2);
    put(t, "</svg>\n");
}

static void fill_patterns(text *t, const char *id)
{
    put(t, "<defs>");
    for (int m = 0; m < METHOD_COUNT; m++)
        put(t, "<pattern id=\"%s-%s\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
               "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"%s\"/>%s"
               "</pattern>",
            id, method_styles[m].key, method_styles[m].color, method_styles[m].hatch);
    put(t, "</defs>\n");
}

static void bar(text *t, const plot *p, const results *r, int m, int k, double x, double w,
                const char *id)
{
    double mean = r->m[m].mean[k], spread = r->m[m].spread[k], top = py(p, mean);
    double base = py(p, 0), mid = x + w / 2, high = py(p, mean + spread);
    int d = stat_infos[k].decimals;
    put(t, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"url(#%s-%s)\" "
           "stroke=\"#333\" stroke-width=\"0.8\"><title>%s %s: %.*f " PLUS_MINUS " %.*f</title>"
           "</rect>\n",
        x, top, w, base - top, id, method_styles[m].key, method_styles[m].label,
        stat_infos[k].label, d, mean, d, spread);
    double low = py(p, mean - spread);
    for (int pass = 0; spread > 0 && pass < 2; pass++) /* a white halo, then the whisker */
        put(t, "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fh8M%.1f %.1fh8\" stroke=\"%s\" "
               "stroke-width=\"%s\" fill=\"none\"/>\n",
            mid, low, high, mid - 4, high, mid - 4, low, pass ? "#111" : "#fff",
            pass ? "1.3" : "3.3");
    put(t, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" style=\"font-size:10.5px\">%.*f"
           "</text>\n",
        mid, high - 5, d - 1, mean);
}

static void bar_group(text *t, const plot *p, const results *r, int k, double x, double w,
                      const char *id)
{
    int count = 0;
    for (int m = 0; m < METHOD_COUNT; m++)
        count += r->m[m].present;
    double bar_width = w * 0.78 / count, at = x + w * 0.11;
    for (int m = 0; m < METHOD_COUNT; m++)
        if (r->m[m].present) {
            bar(t, p, r, m, k, at, bar_width, id);
            at += bar_width;
        }
    put(t, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"title\">%s</text>\n",
        x + w / 2, p->height - p->bottom + 18, stat_infos[k].label);
}

/* Metrics first..first+count-1 grouped by metric, one bar per method, whiskers for the spread. */
static void bar_chart(text *t, const results *r, int first, int count, double width,
                      const char *id, const char *title)
{
    plot p = {width, 320, 58, 14, 50, 30, {0, 1, 1}, unit_range};
    if (first == BLEU) {
        double high = 0;
        for (int m = 0; m < METHOD_COUNT; m++)
            if (r->m[m].present)
                high = fmax(high, r->m[m].mean[BLEU] + r->m[m].spread[BLEU]);
        p.y = nice_range(0, high * 1.08, 5);
    }
    svg_open(t, &p, title);
    fill_patterns(t, id);
    y_axis(t, &p, first == BLEU ? "BLEU (0..100)" : "score (0..1)");
    if (count > 1)
        legend(t, r, &p, bar_swatch, id);
    double group = (width - p.left - p.right) / count;
    for (int k = 0; k < count; k++)
        bar_group(t, &p, r, first + k, p.left + k * group, group, id);
    put(t, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n</svg>\n",
        p.left, py(&p, 0), width - p.right, py(&p, 0));
}

static void put_charts(text *t, const results *r)
{
    put(t, "<h2>Training loss</h2>\n<figure>\n");
    line_chart(t, r, LOSS, "Training loss per method", 960);
    put(t, "<figcaption>The loss each method minimises, averaged over the seeds at each logged "
           "step. MCE and NextQuill include the causal alignment term, so their level is not "
           "directly comparable with SFT and DCE; compare shapes.</figcaption>\n</figure>\n");
    put(t, "<h2>Metrics</h2>\n<div class=\"row\">\n<figure style=\"flex:700 1 0\">\n");
    bar_chart(t, r, STYLE, 3, 700, "fill-a", "Style accuracy and ROUGE");
    put(t, "</figure>\n<figure style=\"flex:250 1 0\">\n");
    bar_chart(t, r, BLEU, 1, 250, "fill-b", "BLEU");
    put(t, "</figure>\n</div>\n<p class=\"note\">Bars are means over the seeds; whiskers span "
           "mean " PLUS_MINUS " spread (half the range). BLEU has its own axis.</p>\n");
    put(t, "<h2>DCE detector</h2>\n<div class=\"row\">\n<figure style=\"flex:1 1 0\">\n");
    line_chart(t, r, PRECISION, "Detector precision", 480);
    put(t, "</figure>\n<figure style=\"flex:1 1 0\">\n");
    line_chart(t, r, RECALL, "Detector recall", 480);
    put(t, "</figure>\n</div>\n<p class=\"note\">How well the data causal effect threshold picks "
           "out the preference-bearing tokens during training, as the runner logs it; mean over "
           "the seeds, on 0..1.</p>\n");
}

static void put_reading_notes(text *t)
{
    put(t, "<h2>How to read this</h2>\n<ul>\n"
           "<li>SFT is plain fine-tuning; MCE adds the causal alignment loss; DCE weights the "
           "tokens whose data causal effect passes a threshold; NextQuill does both.</li>\n"
           "<li>Every number is a mean over the seeds. The " PLUS_MINUS " value and the whiskers "
           "are half the range between the best and the worst seed, not a confidence interval: "
           "with few seeds, differences inside them may be noise.</li>\n"
           "<li>Style accuracy, ROUGE-1 and ROUGE-L run from 0 to 1 and BLEU from 0 to 100; "
           "higher is better for all four. The verdict compares NextQuill's mean with the best "
           "other method's on style accuracy and ROUGE-L.</li>\n"
           "<li>Methods keep the same colour, dash pattern and fill pattern in every chart, so "
           "the page also reads in grayscale.</li>\n</ul>\n");
}

static void put_footer(text *t, const results *r)
{
    put(t, "<footer>Generated by vkquill ");
    put_escaped(t, r->version);
    put(t, ". Method: Zhao et al., \"NextQuill: Causal Preference Modeling For Enhancing LLM "
           "Personalization\", arXiv 2506.02368 (2025).</footer>\n</main>\n</body>\n</html>\n");
}

static void render(text *t, const results *r)
{
    put_head(t);
    put_intro(t, r);
    put_config(t, r);
    put_table(t, r);
    put_verdict(t, r);
    put_charts(t, r);
    put_reading_notes(t);
    put_footer(t, r);
}

static vkq_status write_page(const char *path, FILE *f, void *user)
{
    const text *t = user;
    return vkq_write_bytes(path, f, t->data, 1, t->length);
}

vkq_status vkq_report_write(const char *results_json_path, const char *html_path)
{
    if (!results_json_path || !html_path)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "report: a results path and an HTML path are "
                                                  "required");
    results r = {.file = results_json_path};
    text page = {0};
    vkq_status s = read_results(&r);
    if (s == VKQ_OK) {
        render(&page, &r);
        s = page.out_of_memory ? vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: out of host memory",
                                          html_path)
                               : vkq_write_atomic(html_path, write_page, &page);
    }
    free(page.data);
    results_free(&r);
    return s;
}
