/* The demo's HTML report: validate the results JSON, average the training losses over the
 * seeds, then render one page (inline CSS and SVG) into memory and write it atomically. */
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
enum { STYLE, ROUGE1, ROUGEL, METRIC_COUNT };

#define MIDDLE_DOT "\xc2\xb7"
#define MINUS "\xe2\x88\x92"
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define MARKER_MAX 30 /* series with at most this many points get a marker on each point */

/* Arms and rows differ in hue, lightness, dash pattern (lines) and fill pattern (bars). The
 * first METHOD_COUNT are the methods; a name not listed gets the last style. */
typedef struct arm_style {
    const char *key, *label, *color, *dash, *hatch;
} arm_style;

static const arm_style arm_styles[] = {
    {"sft", "SFT", "#8a8a8a", "none", ""},
    {"mce", "MCE", "#3a9ad9", "9 4",
     "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#fff\" stroke-width=\"2.4\"/>"},
    {"dce", "DCE", "#d55e00", "2.5 3", "<circle cx=\"3\" cy=\"3\" r=\"1.4\" fill=\"#fff\"/>"},
    {"nextquill", "NextQuill", "#0b2f6e", "14 4 3 4", ""},
    {"nextquill-js", "NextQuill, js weights", "#7b3294", "6 3",
     "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#fff\" stroke-width=\"1.2\"/>"},
    {"nextquill-fixed", "NextQuill, fixed DCE", "#1b7837", "1.5 3",
     "<circle cx=\"3\" cy=\"3\" r=\"0.9\" fill=\"#fff\"/>"},
    {"nextquill-kl", "NextQuill, kl", "#c51b7d", "10 3 2 3 2 3",
     "<rect x=\"0\" y=\"0\" width=\"3\" height=\"3\" fill=\"#fff\"/>"},
    {"base, no history", "base, no history", "#e4e4e4", "none", ""},
    {"base", "base", "#c4c4c4", "none",
     "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#fff\" stroke-width=\"1.2\"/>"},
    {"sft, no history", "SFT, no history", "#b0b0b0", "3 3",
     "<circle cx=\"3\" cy=\"3\" r=\"1.4\" fill=\"#fff\"/>"},
    {"", "other", "#555555", "4 2", ""},
};
enum { STYLE_COUNT = COUNT(arm_styles) };

static int style_of(const char *name)
{
    for (int i = 0; i < STYLE_COUNT - 1; i++)
        if (strcmp(arm_styles[i].key, name) == 0)
            return i;
    return STYLE_COUNT - 1;
}

static const char *const metric_keys[METRIC_COUNT] = {"style_accuracy", "rouge1", "rougeL"};
static const char *const metric_labels[METRIC_COUNT] = {"style accuracy", "ROUGE-1", "ROUGE-L"};
static const char *const loss_fields[] = {"loss", "loss_n", "loss_p"};

/* A mean over the seeds at each logged step; x and y share one allocation (x). */
typedef struct curve {
    size_t n;
    double *x, *y;
} curve;

typedef struct method_result {
    int present;
    double train_seconds; /* mean over the seeds */
    curve loss;
} method_result;

typedef struct results {
    const char *file;
    cJSON *root;
    const char *version, *date, *machine, *device, *summary, *verdict;
    const cJSON *config, *seeds, *runs, *rows, *comparisons, *curves, *detectors, *sweep;
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
        if (strcmp(item->valuestring, arm_styles[m].key) == 0)
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
static vkq_status check_series(const field *parent, const cJSON *object, const char *key,
                               const char *const *values, size_t count)
{
    const cJSON *list = NULL;
    VKQ_TRY(get(parent, object, key, ARRAY, &list));
    field series = member(parent, key);
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
                                r->file, arm_styles[m].key, seed_value(r, s));
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
        VKQ_TRY(get_number(&f, run, "train_seconds", &(double){0}));
        VKQ_TRY(check_series(&f, run, "losses", loss_fields, COUNT(loss_fields)));
        int *slot = &r->run_of[(size_t)m * r->seed_count + (size_t)s];
        if (*slot >= 0)
            return vkq_fail(VKQ_ERR_FORMAT, "%s: \"%s\" repeats method %s seed %g (runs[%d])",
                            f.file, f.path, arm_styles[m].key, seed_value(r, (size_t)s),
                            *slot);
        *slot = i;
    }
    return check_complete(r);
}

/* ---- the summaries the demo computed ---- */

/* {"mean": m, "lo": l, "hi": h} with l <= m <= h. */
static vkq_status check_interval(const field *parent, const cJSON *object, const char *key)
{
    const cJSON *v = NULL;
    double mean = 0, lo = 0, hi = 0;
    VKQ_TRY(get(parent, object, key, OBJECT, &v));
    field f = member(parent, key);
    VKQ_TRY(get_number(&f, v, "mean", &mean));
    VKQ_TRY(get_number(&f, v, "lo", &lo));
    VKQ_TRY(get_number(&f, v, "hi", &hi));
    return lo <= mean && mean <= hi ? VKQ_OK : bad(&f, "must have lo <= mean <= hi");
}

/* Each element of a list, as an object, to check. */
static vkq_status each_object(const field *parent, const cJSON *list, const char *key,
                              vkq_status (*check)(const field *, const cJSON *))
{
    field f = member(parent, key);
    size_t i = 0;
    for (const cJSON *item = list->child; item; item = item->next, i++) {
        field e = element(&f, i);
        if (!cJSON_IsObject(item))
            return must_be(&e, OBJECT);
        VKQ_TRY(check(&e, item));
    }
    return VKQ_OK;
}

static vkq_status check_row(const field *f, const cJSON *row)
{
    VKQ_TRY(get(f, row, "name", STRING, &(const cJSON *){0}));
    for (int k = 0; k < METRIC_COUNT; k++)
        VKQ_TRY(check_interval(f, row, metric_keys[k]));
    return get_number(f, row, "bleu", &(double){0});
}

static vkq_status check_comparison(const field *f, const cJSON *c)
{
    static const char *const texts[] = {"metric", "when", "reading"};
    for (size_t k = 0; k < COUNT(texts); k++)
        VKQ_TRY(get(f, c, texts[k], STRING, &(const cJSON *){0}));
    double mean = 0, lo = 0, hi = 0;
    VKQ_TRY(get_number(f, c, "mean", &mean));
    VKQ_TRY(get_number(f, c, "lo", &lo));
    VKQ_TRY(get_number(f, c, "hi", &hi));
    return lo <= mean && mean <= hi ? VKQ_OK : bad(f, "must have lo <= mean <= hi");
}

static vkq_status check_point(const field *f, const cJSON *point)
{
    VKQ_TRY(check_interval(f, point, metric_keys[STYLE]));
    return check_interval(f, point, metric_keys[ROUGE1]);
}

static vkq_status check_curve(const field *f, const cJSON *c)
{
    const cJSON *points = NULL;
    VKQ_TRY(get(f, c, "arm", STRING, &(const cJSON *){0}));
    VKQ_TRY(get_list(f, c, "points", &points));
    VKQ_TRY(check_series(f, c, "points", NULL, 0));
    return each_object(f, points, "points", check_point);
}

/* A list of n numbers (strings when strings is set). */
static vkq_status check_values(const field *parent, const cJSON *object, const char *key,
                               int strings, int *n)
{
    const cJSON *list = NULL;
    VKQ_TRY(get(parent, object, key, ARRAY, &list));
    field f = member(parent, key);
    *n = 0;
    for (const cJSON *item = list->child; item; item = item->next, (*n)++) {
        field e = element(&f, (size_t)*n);
        if (!is_kind(item, strings ? STRING : NUMBER))
            return must_be(&e, strings ? STRING : NUMBER);
    }
    return VKQ_OK;
}

static vkq_status check_example(const field *f, const cJSON *e)
{
    int tokens = 0, dce = 0, decisive = 0;
    VKQ_TRY(get(f, e, "target", STRING, &(const cJSON *){0}));
    VKQ_TRY(check_values(f, e, "tokens", 1, &tokens));
    VKQ_TRY(check_values(f, e, "dce", 0, &dce));
    VKQ_TRY(check_values(f, e, "decisive", 0, &decisive));
    return dce == tokens && decisive == tokens
               ? VKQ_OK
               : bad(f, "must have as many \"dce\" and \"decisive\" values as \"tokens\"");
}

static vkq_status check_detector(const field *f, const cJSON *d)
{
    static const char *const numbers[] = {"delta", "precision", "recall", "tokens", "decisive"};
    const cJSON *examples = NULL;
    VKQ_TRY(get(f, d, "model", STRING, &(const cJSON *){0}));
    for (size_t k = 0; k < COUNT(numbers); k++)
        VKQ_TRY(get_number(f, d, numbers[k], &(double){0}));
    VKQ_TRY(get(f, d, "examples", ARRAY, &examples));
    return each_object(f, examples, "examples", check_example);
}

static vkq_status check_sweep_point(const field *f, const cJSON *s)
{
    static const char *const numbers[] = {"lr", "warmup", "style_accuracy", "rouge1"};
    VKQ_TRY(get(f, s, "arm", STRING, &(const cJSON *){0}));
    for (size_t k = 0; k < COUNT(numbers); k++)
        VKQ_TRY(get_number(f, s, numbers[k], &(double){0}));
    return VKQ_OK;
}

static vkq_status read_summaries(results *r)
{
    const field top = {r->file, ""};
    VKQ_TRY(get_list(&top, r->root, "rows", &r->rows));
    VKQ_TRY(each_object(&top, r->rows, "rows", check_row));
    VKQ_TRY(get_text(&top, r->root, "verdict", &r->verdict));
    VKQ_TRY(get(&top, r->root, "comparisons", ARRAY, &r->comparisons));
    VKQ_TRY(each_object(&top, r->comparisons, "comparisons", check_comparison));
    VKQ_TRY(get(&top, r->root, "curves", ARRAY, &r->curves));
    VKQ_TRY(each_object(&top, r->curves, "curves", check_curve));
    VKQ_TRY(get(&top, r->root, "detectors", ARRAY, &r->detectors));
    VKQ_TRY(each_object(&top, r->detectors, "detectors", check_detector));
    r->sweep = cJSON_GetObjectItemCaseSensitive(r->root, "sweep");
    if (!r->sweep)
        return VKQ_OK;
    VKQ_TRY(get(&top, r->root, "sweep", ARRAY, &r->sweep));
    return each_object(&top, r->sweep, "sweep", check_sweep_point);
}

/* ---- averaging the losses over seeds ---- */

static vkq_status steps_differ(const results *r, int run, int first)
{
    return vkq_fail(VKQ_ERR_FORMAT, "%s: \"runs[%d].losses\" steps differ from runs[%d] (same "
                                    "method)",
                    r->file, run, first);
}

/* Adds this seed's share of the run's losses to the mean curve, allocating it on seed 0. */
static vkq_status add_losses(const results *r, curve *c, size_t seed, int run, int first)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(r->runs, run),
                                                         "losses");
    size_t n = (size_t)cJSON_GetArraySize(list);
    if (seed == 0) {
        c->n = n;
        c->x = calloc(2 * n + 1, sizeof *c->x);
        if (!c->x)
            return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: out of host memory", r->file);
        c->y = c->x + n;
    } else if (n != c->n) {
        return steps_differ(r, run, first);
    }
    size_t i = 0;
    for (const cJSON *point = list->child; point; point = point->next, i++) {
        double step = number_of(point, "step");
        if (seed > 0 && c->x[i] != step)
            return steps_differ(r, run, first);
        c->x[i] = step;
        c->y[i] += number_of(point, "loss") / (double)r->seed_count;
    }
    return VKQ_OK;
}

static vkq_status summarise_method(results *r, int m)
{
    method_result *mr = &r->m[m];
    int first = r->run_of[(size_t)m * r->seed_count];
    for (size_t s = 0; s < r->seed_count; s++) {
        int run = r->run_of[(size_t)m * r->seed_count + s];
        mr->train_seconds +=
            number_of(cJSON_GetArrayItem(r->runs, run), "train_seconds") / (double)r->seed_count;
        VKQ_TRY(add_losses(r, &mr->loss, s, run, first));
    }
    return VKQ_OK;
}

static void results_free(results *r)
{
    for (int m = 0; m < METHOD_COUNT; m++)
        free(r->m[m].loss.x);
    free(r->run_of);
    cJSON_Delete(r->root);
}

static vkq_status read_results(results *r)
{
    VKQ_TRY(load(r));
    VKQ_TRY(read_header(r));
    VKQ_TRY(index_runs(r));
    VKQ_TRY(read_summaries(r));
    for (int m = 0; m < METHOD_COUNT; m++)
        if (r->m[m].present)
            VKQ_TRY(summarise_method(r, m));
    return VKQ_OK;
}

/* ---- page parts ---- */

static double interval_value(const cJSON *o, const char *metric, const char *which)
{
    return number_of(cJSON_GetObjectItemCaseSensitive(o, metric), which);
}

static void put_seeds(text *t, const results *r)
{
    for (size_t s = 0; s < r->seed_count; s++)
        put(t, "%s%g", s ? ", " : "", seed_value(r, s));
}

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
    "td.aside{color:#666}.ci{color:#666;font-size:12.5px}"
    ".tokens{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13.5px;line-height:2;margin:4px 0}"
    ".tok{padding:2px 0;border-radius:2px}.tok.decisive{border-bottom:2px solid #111}"
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

/* A table's opening and its header row of column labels. */
static void put_table_head(text *t, const char *const *labels, size_t n)
{
    put(t, "<table>\n<thead><tr>");
    for (size_t i = 0; i < n; i++)
        put(t, "<th scope=\"col\">%s</th>", labels[i]);
    put(t, "</tr></thead>\n<tbody>\n");
}

/* A body row's first cell, text from the results. */
static void put_row_head(text *t, const cJSON *o, const char *key)
{
    put(t, "<tr><th scope=\"row\">");
    put_escaped(t, cJSON_GetObjectItemCaseSensitive(o, key)->valuestring);
    put(t, "</th>");
}

/* The interval of one metric as "0.512 [0.470, 0.551]". */
static void put_interval(text *t, const cJSON *o, const char *metric, int bold)
{
    put(t, "<td>%s%.3f <span class=\"ci\">[%.3f, %.3f]</span>%s</td>", bold ? "<b>" : "",
        interval_value(o, metric, "mean"), interval_value(o, metric, "lo"),
        interval_value(o, metric, "hi"), bold ? "</b>" : "");
}

/* The best mean of a metric over the rows, rounded as shown. */
static double best_mean(const results *r, const char *metric)
{
    double best = -INFINITY;
    for (const cJSON *row = r->rows->child; row; row = row->next)
        best = fmax(best, round(interval_value(row, metric, "mean") * 1000) / 1000);
    return best;
}

static void put_table(text *t, const results *r)
{
    put(t, "<h2>Results on the test split</h2>\n<table>\n<thead><tr><th scope=\"col\"></th>");
    for (int k = 0; k < METRIC_COUNT; k++)
        put(t, "<th scope=\"col\">%s</th>", metric_labels[k]);
    put(t, "<th scope=\"col\">BLEU</th></tr></thead>\n<tbody>\n");
    for (const cJSON *row = r->rows->child; row; row = row->next) {
        const char *name = cJSON_GetObjectItemCaseSensitive(row, "name")->valuestring;
        put(t, "<tr><th scope=\"row\">");
        put_escaped(t, arm_styles[style_of(name)].key[0] ? arm_styles[style_of(name)].label : name);
        put(t, "</th>");
        for (int k = 0; k < METRIC_COUNT; k++) {
            double shown = round(interval_value(row, metric_keys[k], "mean") * 1000) / 1000;
            put_interval(t, row, metric_keys[k], shown == best_mean(r, metric_keys[k]));
        }
        put(t, "<td class=\"aside\">%.2f</td></tr>\n", number_of(row, "bleu"));
    }
    put(t, "</tbody>\n</table>\n<p class=\"note\">Each cell is the mean over the %zu seeds (",
        r->seed_count);
    put_seeds(t, r);
    put(t, ") and the test items, with its 95 %% bootstrap interval (seeds and items resampled); "
           "the base rows are one model, so their interval is over the items. Bold marks the "
           "best mean of each metric, as shown. BLEU (0..100) is a corpus score, averaged over "
           "the seeds, without an interval.</p>\n");
}

static void put_comparisons(text *t, const results *r)
{
    if (!r->comparisons->child)
        return;
    static const char *const labels[] = {"NextQuill " MINUS " SFT", "when",
                                         "difference [95 % interval]", "reading"};
    put_table_head(t, labels, COUNT(labels));
    for (const cJSON *c = r->comparisons->child; c; c = c->next) {
        const char *metric = cJSON_GetObjectItemCaseSensitive(c, "metric")->valuestring;
        int k = 0;
        while (k < METRIC_COUNT - 1 && strcmp(metric, metric_keys[k]) != 0)
            k++;
        put(t, "<tr><th scope=\"row\">%s</th><td>", metric_labels[k]);
        put_escaped(t, cJSON_GetObjectItemCaseSensitive(c, "when")->valuestring);
        put(t, "</td><td>%+.3f <span class=\"ci\">[%+.3f, %+.3f]</span></td><td>",
            number_of(c, "mean"), number_of(c, "lo"), number_of(c, "hi"));
        put_escaped(t, cJSON_GetObjectItemCaseSensitive(c, "reading")->valuestring);
        put(t, "</td></tr>\n");
    }
    put(t, "</tbody>\n</table>\n");
}

static void put_verdict(text *t, const results *r)
{
    put(t, "<p class=\"verdict\"><strong>Verdict.</strong> ");
    put_escaped(t, r->verdict);
    put(t, "</p>\n");
    put_comparisons(t, r);
}

/* ---- SVG charts ---- */

typedef struct range {
    double lo, hi, step;
} range;

typedef struct plot {
    double width, height, left, right, top, bottom;
    range x, y;
} plot;


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

#define LEGEND_GAP 16

/* Legend entries in rows along the top, right-aligned; a line sample or a fill swatch. */
static double legend_entry_width(int style)
{
    return 36 + 6.8 * (double)strlen(arm_styles[style].label) + LEGEND_GAP;
}

static void swatch(text *t, int style, double x, double y, const char *fill_id)
{
    const arm_style *a = &arm_styles[style];
    if (fill_id)
        put(t, "<rect x=\"%.1f\" y=\"%.1f\" width=\"22\" height=\"11\" fill=\"url(#%s-%d)\" "
               "stroke=\"#333\" stroke-width=\"0.8\"/>",
            x + 4, y - 5.5, fill_id, style);
    else
        put(t, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
               "stroke-width=\"2.5\" stroke-dasharray=\"%s\"/>",
            x, y, x + 30, y, a->color, a->dash);
}

/* styles[0..n): the entries; the legend wraps onto a second row when it must. */
static void legend(text *t, const plot *p, const int *styles, int n, const char *fill_id)
{
    double room = p->width - p->left - p->right, width = 0, y = 30;
    int first = 0;
    for (int i = 0; i <= n; i++) {
        if (i < n && width + legend_entry_width(styles[i]) <= room + LEGEND_GAP) {
            width += legend_entry_width(styles[i]);
            continue;
        }
        double x = p->width - p->right - width + LEGEND_GAP;
        for (int j = first; j < i; j++) {
            swatch(t, styles[j], x, y, fill_id);
            put(t, "<text x=\"%.1f\" y=\"%.1f\" dy=\"0.32em\">%s</text>\n", x + 36, y,
                arm_styles[styles[j]].label);
            x += legend_entry_width(styles[j]);
        }
        first = i;
        width = i < n ? legend_entry_width(styles[i]) : 0;
        y += 16;
    }
}

static void polyline(text *t, const plot *p, const double *x, const double *y, size_t n,
                     int style)
{
    const arm_style *a = &arm_styles[style];
    if (n == 0)
        return;
    put(t, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2.2\" stroke-dasharray=\"%s\" "
           "stroke-linejoin=\"round\" points=\"",
        a->color, a->dash);
    for (size_t i = 0; i < n; i++)
        put(t, "%s%.1f,%.1f", i ? " " : "", px(p, x[i]), py(p, y[i]));
    put(t, "\"/>\n");
    for (size_t i = 0; n <= MARKER_MAX && i < n; i++)
        put(t, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\" fill=\"%s\"/>", px(p, x[i]),
            py(p, y[i]), a->color);
    put(t, "\n");
}

/* A vertical interval from lo to hi at x: a white halo, then the whisker. */
static void whisker(text *t, double x, double lo, double hi, const char *color)
{
    for (int pass = 0; hi - lo > 0.5 && pass < 2; pass++)
        put(t, "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fh8M%.1f %.1fh8\" stroke=\"%s\" "
               "stroke-width=\"%s\" fill=\"none\"/>\n",
            x, lo, hi, x - 4, hi, x - 4, lo, pass ? color : "#fff", pass ? "1.3" : "3.3");
}

static void loss_chart(text *t, const results *r, double width)
{
    plot p = {width, 320, 58, 14, 58, 42, {0, 1, 0.2}, {0, 1, 0.2}};
    int styles[METHOD_COUNT], n = 0, any = 0;
    double xlo = 0, xhi = 1, ylo = 0, yhi = 1;
    for (int m = 0; m < METHOD_COUNT; m++) {
        const curve *c = &r->m[m].loss;
        if (r->m[m].present)
            styles[n++] = m;
        for (size_t i = 0; r->m[m].present && i < c->n; i++, any = 1) {
            xlo = any ? fmin(xlo, c->x[i]) : c->x[i];
            xhi = any ? fmax(xhi, c->x[i]) : c->x[i];
            ylo = any ? fmin(ylo, c->y[i]) : c->y[i];
            yhi = any ? fmax(yhi, c->y[i]) : c->y[i];
        }
    }
    if (any) {
        p.x = nice_range(xlo, xhi, 6);
        p.y = nice_range(ylo, yhi, 5);
    }
    svg_open(t, &p, "Training loss per method");
    y_axis(t, &p, "loss (mean over seeds)");
    if (any)
        x_axis(t, &p, "training step");
    legend(t, &p, styles, n, NULL);
    for (int m = 0; m < METHOD_COUNT; m++)
        if (r->m[m].present)
            polyline(t, &p, r->m[m].loss.x, r->m[m].loss.y, r->m[m].loss.n, m);
    if (!any)
        put(t, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">nothing was logged</text>\n",
            width / 2, p.height / 2);
    put(t, "</svg>\n");
}

/* One metric of every curve against the step, with its intervals as whiskers. */
static void curve_chart(text *t, const results *r, int k, double width)
{
    plot p = {width, 330, 58, 14, 74, 42, {0, 1, 0.2}, {0, 1, 0.2}};
    int styles[STYLE_COUNT], n = 0;
    double last = 1;
    for (const cJSON *c = r->curves->child; c && n < STYLE_COUNT; c = c->next) {
        styles[n++] = style_of(cJSON_GetObjectItemCaseSensitive(c, "arm")->valuestring);
        const cJSON *points = cJSON_GetObjectItemCaseSensitive(c, "points");
        last = fmax(last, number_of(cJSON_GetArrayItem(points, cJSON_GetArraySize(points) - 1),
                                    "step"));
    }
    p.x = nice_range(0, last, 6);
    char title[64];
    snprintf(title, sizeof title, "Validation %s during training", metric_labels[k]);
    svg_open(t, &p, title);
    y_axis(t, &p, metric_labels[k]);
    x_axis(t, &p, "training step");
    legend(t, &p, styles, n, NULL);
    int i = 0;
    for (const cJSON *c = r->curves->child; c && i < n; c = c->next, i++) {
        const cJSON *points = cJSON_GetObjectItemCaseSensitive(c, "points");
        size_t count = (size_t)cJSON_GetArraySize(points), j = 0;
        double *xy = malloc(2 * count * sizeof *xy);
        if (!xy) {
            t->out_of_memory = 1;
            return;
        }
        for (const cJSON *pt = points->child; pt; pt = pt->next, j++) {
            xy[j] = number_of(pt, "step");
            xy[count + j] = interval_value(pt, metric_keys[k], "mean");
            double dx = (i - (n - 1) / 2.0) * 5; /* side by side where they would overlap */
            put(t, "<g transform=\"translate(%.1f 0)\">", dx);
            whisker(t, px(&p, xy[j]), py(&p, interval_value(pt, metric_keys[k], "lo")),
                    py(&p, interval_value(pt, metric_keys[k], "hi")), arm_styles[styles[i]].color);
            put(t, "</g>");
        }
        polyline(t, &p, xy, xy + count, count, styles[i]);
        free(xy);
    }
    put(t, "</svg>\n");
}

static void fill_patterns(text *t, const char *id)
{
    put(t, "<defs>");
    for (int s = 0; s < STYLE_COUNT; s++)
        put(t, "<pattern id=\"%s-%d\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
               "patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"%s\"/>%s"
               "</pattern>",
            id, s, arm_styles[s].color, arm_styles[s].hatch);
    put(t, "</defs>\n");
}

static void bar(text *t, const plot *p, const cJSON *row, int k, double x, double w)
{
    const char *name = cJSON_GetObjectItemCaseSensitive(row, "name")->valuestring;
    int s = style_of(name);
    double mean = interval_value(row, metric_keys[k], "mean"), top = py(p, mean);
    double lo = interval_value(row, metric_keys[k], "lo");
    double hi = interval_value(row, metric_keys[k], "hi"), mid = x + w / 2;
    put(t, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"url(#bars-%d)\" "
           "stroke=\"#333\" stroke-width=\"0.8\"><title>",
        x, top, w, py(p, 0) - top, s);
    put_escaped(t, name);
    put(t, " %s: %.3f [%.3f, %.3f]</title></rect>\n", metric_labels[k], mean, lo, hi);
    whisker(t, mid, py(p, lo), py(p, hi), "#111");
    put(t, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" style=\"font-size:10px\">%.2f"
           "</text>\n",
        mid, py(p, hi) - 5, mean);
}

/* The rows' metrics grouped by metric, one bar per row, whiskers for the intervals. */
static void bar_chart(text *t, const results *r, double width)
{
    plot p = {width, 340, 58, 14, 74, 30, {0, 1, 1}, {0, 1, 0.2}};
    int styles[64], n = 0;
    for (const cJSON *row = r->rows->child; row && n < 64; row = row->next)
        styles[n++] = style_of(cJSON_GetObjectItemCaseSensitive(row, "name")->valuestring);
    svg_open(t, &p, "Test-split metrics with 95 % intervals");
    fill_patterns(t, "bars");
    y_axis(t, &p, "score (0..1)");
    legend(t, &p, styles, n, "bars");
    double group = (width - p.left - p.right) / METRIC_COUNT, bar_width = group * 0.8 / n;
    for (int k = 0; k < METRIC_COUNT; k++) {
        double x = p.left + k * group + group * 0.1;
        int i = 0;
        for (const cJSON *row = r->rows->child; row && i < n; row = row->next, i++)
            bar(t, &p, row, k, x + i * bar_width, bar_width);
        put(t, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"title\">%s</text>\n",
            p.left + k * group + group / 2, p.height - p.bottom + 18, metric_labels[k]);
    }
    put(t, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n</svg>\n",
        p.left, py(&p, 0), width - p.right, py(&p, 0));
}

/* ---- the DCE detector ---- */

/* A token shaded by its DCE: blue for a positive effect of the history, red for a negative
 * one, full at |DCE| >= 0.5; decisive tokens underlined. */
static void put_token(text *t, const char *piece, double dce, int decisive)
{
    double a = fmin(fabs(dce) / 0.5, 1.0);
    put(t, "<span class=\"tok%s\" style=\"background:rgba(%s,%.2f)\" title=\"DCE %.3f\">",
        decisive ? " decisive" : "", dce >= 0 ? "11,47,110" : "213,94,0", a, dce);
    if (!piece[0])
        put(t, "&#x2403;"); /* EOS */
    else
        for (const char *c = piece; *c; c++)
            *c == ' ' ? put(t, "&nbsp;") : put_escaped(t, (char[2]){*c, 0});
    put(t, "</span>");
}

static void put_example(text *t, const cJSON *e)
{
    const cJSON *dce = cJSON_GetObjectItemCaseSensitive(e, "dce")->child;
    const cJSON *flag = cJSON_GetObjectItemCaseSensitive(e, "decisive")->child;
    put(t, "<p class=\"tokens\">");
    for (const cJSON *tok = cJSON_GetObjectItemCaseSensitive(e, "tokens")->child; tok;
         tok = tok->next, dce = dce->next, flag = flag->next)
        put_token(t, tok->valuestring, dce->valuedouble, flag->valuedouble != 0);
    put(t, "</p>\n");
}

static void put_detectors(text *t, const results *r)
{
    put(t, "<h2>DCE as a detector of what the history decides</h2>\n");
    if (!r->detectors->child) {
        put(t, "<p class=\"note\">No detector was scored.</p>\n");
        return;
    }
    static const char *const labels[] = {"DCE under", "precision", "recall",
                                         "decisive tokens"};
    put_table_head(t, labels, COUNT(labels));
    for (const cJSON *d = r->detectors->child; d; d = d->next) {
        put_row_head(t, d, "model");
        put(t, "<td>%.3f</td><td>%.3f</td><td>%g of %g</td></tr>\n",
            number_of(d, "precision"), number_of(d, "recall"), number_of(d, "decisive"),
            number_of(d, "tokens"));
    }
    put(t, "</tbody>\n</table>\n<p class=\"note\">DCE &gt; delta (%g) against the tokens whose "
           "identity the user's preference decides, on the validation split, under fixed models: "
           "the base and the trained SFT model (seed 1), not a model whose own alignment loss "
           "moves its DCE.</p>\n",
        number_of(r->detectors->child, "delta"));
    for (const cJSON *d = r->detectors->child; d; d = d->next)
        for (const cJSON *e = cJSON_GetObjectItemCaseSensitive(d, "examples")->child; e;
             e = e->next) {
            put(t, "<p class=\"note\">Under ");
            put_escaped(t, cJSON_GetObjectItemCaseSensitive(d, "model")->valuestring);
            put(t, ":</p>\n");
            put_example(t, e);
        }
    put(t, "<p class=\"note\">Each token of a validation target, shaded by its DCE "
           "p(y|x,h) " MINUS " p(y|x): blue where the history raises its probability, orange "
           "where it lowers it, full colour at 0.5 or more; decisive tokens are underlined. "
           "Hover for the value.</p>\n");
}

static void put_sweep(text *t, const results *r)
{
    if (!r->sweep || !r->sweep->child)
        return;
    static const char *const labels[] = {"arm", "lr", "warm-up", "val style accuracy",
                                         "val ROUGE-1"};
    put(t, "<h2>Learning-rate and warm-up sweep</h2>\n");
    put_table_head(t, labels, COUNT(labels));
    for (const cJSON *s = r->sweep->child; s; s = s->next) {
        put_row_head(t, s, "arm");
        put(t, "<td>%.7g</td><td>%.7g</td><td>%.3f</td><td>%.3f</td></tr>\n",
            number_of(s, "lr"), number_of(s, "warmup"), number_of(s, "style_accuracy"),
            number_of(s, "rouge1"));
    }
    put(t, "</tbody>\n</table>\n");
}

static void put_charts(text *t, const results *r)
{
    put(t, "<figure>\n");
    bar_chart(t, r, 960);
    put(t, "<figcaption>Bars are means; whiskers are the 95 %% bootstrap intervals.</figcaption>"
           "\n</figure>\n<h2>Learning curves</h2>\n<div class=\"row\">\n"
           "<figure style=\"flex:1 1 0\">\n");
    curve_chart(t, r, STYLE, 480);
    put(t, "</figure>\n<figure style=\"flex:1 1 0\">\n");
    curve_chart(t, r, ROUGE1, 480);
    put(t, "</figure>\n</div>\n<p class=\"note\">The validation split scored at several points "
           "of training (step 0 is the base); means over the seeds and items, whiskers the 95 %% "
           "intervals.</p>\n<h2>Training loss</h2>\n<figure>\n");
    loss_chart(t, r, 960);
    put(t, "<figcaption>The loss each method minimises, averaged over the seeds at each logged "
           "step. MCE and NextQuill include the causal alignment term, so their level is not "
           "directly comparable with SFT and DCE; compare shapes.</figcaption>\n</figure>\n");
}

static void put_reading_notes(text *t, const results *r)
{
    put(t, "<h2>How to read this</h2>\n<ul>\n"
           "<li>SFT is plain fine-tuning; MCE adds the causal alignment loss; DCE weights the "
           "tokens whose data causal effect passes a threshold; NextQuill does both. Every arm "
           "starts from the same base with the same data order for a given seed.</li>\n"
           "<li>The base rows and SFT without history show whether the styles were learnt from "
           "the history at all; without that the comparison says nothing, and the verdict "
           "says so.</li>\n"
           "<li>Intervals are 95 %% percentile bootstrap intervals over the seeds and the test "
           "items; a difference whose interval contains 0 is not shown.</li>\n"
           "<li>Arms keep the same colour, dash pattern and fill pattern in every chart, so the "
           "page also reads in grayscale.</li>\n</ul>\n");
    put(t, "<p class=\"note\">Mean training time per run:");
    for (int m = 0; m < METHOD_COUNT; m++)
        if (r->m[m].present)
            put(t, " %s %.1f s;", arm_styles[m].label, r->m[m].train_seconds);
    put(t, " wall-clock, with the evaluations at the curve points left out.</p>\n");
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
    put_detectors(t, r);
    put_sweep(t, r);
    put_reading_notes(t, r);
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
