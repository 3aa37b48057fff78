/* The synthetic benchmark's truth: reading it back, and the measures it makes possible (style
 * accuracy of predictions, preference-bearing tokens, how well DCE > delta finds them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"
#include "vkquill/synth.h"

enum { WHERE_SIZE = 1024 };

/* The text a span of slot must hold: the user's choice, or the length span's word. */
static const char *span_text(const vkq_synth_sample *s, vkq_synth_slot slot)
{
    return slot == VKQ_SYNTH_LENGTH ? VKQ_SYNTH_LENGTH_WORD : s->slots[slot];
}

/* ---- reading --------------------------------------------------------------------------- */

static int slot_of(const char *name)
{
    for (int s = 0; s < VKQ_SYNTH_SLOTS; s++)
        if (strcmp(name, vkq_synth_slot_name((vkq_synth_slot)s)) == 0)
            return s;
    return -1;
}

static int is_choice(vkq_synth_slot slot, const char *text)
{
    for (const char *const *c = vkq_synth_choices(slot); *c; c++)
        if (strcmp(*c, text) == 0)
            return 1;
    return 0;
}

static int as_u32(const cJSON *value, uint32_t *out)
{
    if (!cJSON_IsNumber(value) || value->valuedouble < 0 || value->valuedouble > UINT32_MAX ||
        value->valuedouble != (double)(uint32_t)value->valuedouble)
        return 0;
    *out = (uint32_t)value->valuedouble;
    return 1;
}

static vkq_status slots_from_json(const char *where, const cJSON *root, vkq_synth_sample *s)
{
    const cJSON *slots = cJSON_GetObjectItemCaseSensitive(root, "slots");
    if (!cJSON_IsObject(slots))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: field \"slots\" must be an object", where);
    vkq_field_ctx c = {where, "slots."};
    for (int i = 0; i < VKQ_SYNTH_SLOTS; i++) {
        const char *name = vkq_synth_slot_name((vkq_synth_slot)i);
        VKQ_TRY(vkq_get_string(&c, slots, name, 1, &s->slots[i]));
        if (!is_choice((vkq_synth_slot)i, s->slots[i]))
            return vkq_fail(VKQ_ERR_FORMAT, "%s: \"slots.%s\" is \"%s\", not one of its choices",
                            where, name, s->slots[i]);
    }
    return VKQ_OK;
}

static vkq_status span_from_json(const char *where, uint32_t index, const cJSON *value,
                                 const vkq_synth_sample *s, vkq_synth_span *out)
{
    char what[64];
    snprintf(what, sizeof what, "spans[%u]", index);
    const cJSON *name = cJSON_GetArrayItem(value, 2);
    if (!cJSON_IsArray(value) || cJSON_GetArraySize(value) != 3 || !cJSON_IsString(name) ||
        !as_u32(cJSON_GetArrayItem(value, 0), &out->start) ||
        !as_u32(cJSON_GetArrayItem(value, 1), &out->end))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %s must be [start, end, \"slot\"]", where, what);
    int slot = slot_of(name->valuestring);
    if (slot < 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %s names no slot: \"%s\"", where, what,
                        name->valuestring);
    out->slot = (vkq_synth_slot)slot;
    const char *want = span_text(s, out->slot);
    size_t length = strlen(s->target);
    if (out->start >= out->end || out->end > length || out->end - out->start != strlen(want) ||
        memcmp(s->target + out->start, want, strlen(want)) != 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %s [%u, %u) does not hold the %s \"%s\"", where,
                        what, out->start, out->end, name->valuestring, want);
    return VKQ_OK;
}

static vkq_status spans_from_json(const char *where, const cJSON *root, vkq_synth_sample *s)
{
    const cJSON *spans = cJSON_GetObjectItemCaseSensitive(root, "spans");
    if (!cJSON_IsArray(spans))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: field \"spans\" must be an array", where);
    uint32_t n = (uint32_t)cJSON_GetArraySize(spans);
    s->spans = calloc(n ? n : 1, sizeof *s->spans);
    if (!s->spans)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate %u spans", where, n);
    s->n_spans = n;
    uint32_t index = 0;
    const cJSON *span;
    cJSON_ArrayForEach(span, spans)
    {
        VKQ_TRY(span_from_json(where, index, span, s, &s->spans[index]));
        index++;
    }
    return VKQ_OK;
}

/* Reads a truth line's fields; *split_name receives its split (owned by root). */
static vkq_status sample_from_json(const char *where, const cJSON *root,
                                   const char **split_name, vkq_synth_sample *s)
{
    if (!cJSON_IsObject(root))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: a truth line must be a JSON object", where);
    const cJSON *split = cJSON_GetObjectItemCaseSensitive(root, "split");
    if (!cJSON_IsString(split))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: field \"split\" must be a string", where);
    *split_name = split->valuestring;
    if (strcmp(*split_name, "train") && strcmp(*split_name, "val") && strcmp(*split_name, "test"))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: unknown split \"%s\"", where, *split_name);
    if (!as_u32(cJSON_GetObjectItemCaseSensitive(root, "line"), &s->line) || s->line == 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: field \"line\" must be a positive integer", where);
    vkq_field_ctx c = {where, ""};
    VKQ_TRY(vkq_get_string(&c, root, "user", 1, &s->user));
    VKQ_TRY(vkq_get_string(&c, root, "target", 1, &s->target));
    VKQ_TRY(slots_from_json(where, root, s));
    return spans_from_json(where, root, s);
}

static void sample_free(vkq_synth_sample *s)
{
    free(s->user);
    free(s->target);
    for (int i = 0; i < VKQ_SYNTH_SLOTS; i++)
        free(s->slots[i]);
    free(s->spans);
    memset(s, 0, sizeof *s);
}

static vkq_status append(const char *where, vkq_synth_truth *t, vkq_synth_sample *s)
{
    if (s->line != t->count + 1)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: line %u of its split is out of order (%u expected)",
                        where, s->line, t->count + 1);
    vkq_synth_sample *grown = realloc(t->samples, (t->count + 1) * sizeof *grown);
    if (!grown)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot grow the truth", where);
    t->samples = grown;
    t->samples[t->count++] = *s;
    memset(s, 0, sizeof *s);
    return VKQ_OK;
}

/* Reads one line, keeping it in t when it belongs to split. */
static vkq_status load_line(const char *path, uint32_t number, const char *line, size_t length,
                            const char *split, vkq_synth_truth *t)
{
    char where[WHERE_SIZE];
    snprintf(where, sizeof where, "%s:%u", path, number);
    cJSON *root = NULL;
    VKQ_TRY(vkq_parse_json(path, number, line, length, &root));
    vkq_synth_sample s = {0};
    const char *split_name = NULL;
    vkq_status status = sample_from_json(where, root, &split_name, &s);
    if (status == VKQ_OK && strcmp(split_name, split) == 0)
        status = append(where, t, &s);
    sample_free(&s);
    cJSON_Delete(root);
    return status;
}

static vkq_status load_lines(const char *path, char *text, size_t length, const char *split,
                             vkq_synth_truth *t)
{
    char *at = text, *end = text + length;
    size_t line_length;
    uint32_t number = 0;
    for (char *line; (line = vkq_next_line(&at, end, &line_length)) != NULL;) {
        number++;
        if (!vkq_is_blank(line, line_length))
            VKQ_TRY(load_line(path, number, line, line_length, split, t));
    }
    if (t->count == 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: no line of split \"%s\"", path, split);
    return VKQ_OK;
}

vkq_status vkq_synth_truth_load(const char *path, const char *split, vkq_synth_truth *out)
{
    if (!out)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_synth_truth_load: NULL argument");
    memset(out, 0, sizeof *out);
    if (!path || !split)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_synth_truth_load: NULL argument");
    if (strcmp(split, "train") && strcmp(split, "val") && strcmp(split, "test"))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "unknown split \"%s\": expected train, val or test", split);
    char *text = NULL;
    size_t length = 0;
    VKQ_TRY(vkq_read_text_file(path, &text, &length));
    vkq_status status = load_lines(path, text, length, split, out);
    free(text);
    if (status != VKQ_OK)
        vkq_synth_truth_free(out);
    return status;
}

void vkq_synth_truth_free(vkq_synth_truth *t)
{
    if (!t)
        return;
    for (uint32_t i = 0; i < t->count; i++)
        sample_free(&t->samples[i]);
    free(t->samples);
    memset(t, 0, sizeof *t);
}

/* ---- style accuracy -------------------------------------------------------------------- */

/* A prediction without its leading and trailing whitespace. */
typedef struct text_view {
    const char *p;
    size_t n;
} text_view;

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_mark(char c) { return c == '.' || c == '!' || c == '?'; }
static int is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static text_view trimmed(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && is_space(s[n - 1]))
        n--;
    while (n > 0 && is_space(*s))
        s++, n--;
    return (text_view){s, n};
}

static int starts_with(text_view v, const char *prefix)
{
    size_t k = strlen(prefix);
    return k <= v.n && memcmp(v.p, prefix, k) == 0;
}

static int has_word(text_view v, const char *word)
{
    size_t k = strlen(word);
    for (size_t i = 0; k > 0 && i + k <= v.n; i++)
        if (memcmp(v.p + i, word, k) == 0 && (i == 0 || !is_letter(v.p[i - 1])) &&
            (i + k == v.n || !is_letter(v.p[i + k])))
            return 1;
    return 0;
}

static int first_marks_are(text_view v, const char *punct)
{
    size_t i = 0;
    while (i < v.n && !is_mark(v.p[i]))
        i++;
    size_t start = i;
    while (i < v.n && is_mark(v.p[i]))
        i++;
    return i > start && i - start == strlen(punct) && memcmp(v.p + start, punct, i - start) == 0;
}

static int ends_with_signoff(text_view v, const char *signoff)
{
    size_t k = strlen(signoff);
    return k <= v.n && memcmp(v.p + v.n - k, signoff, k) == 0 &&
           (k == v.n || v.p[v.n - k - 1] == ' ');
}

static uint32_t mark_runs(text_view v)
{
    uint32_t runs = 0;
    for (size_t i = 0; i < v.n; i++)
        runs += is_mark(v.p[i]) && (i == 0 || !is_mark(v.p[i - 1]));
    return runs;
}

static int length_is(text_view v, const char *length)
{
    for (const char *const *s = vkq_synth_choices(VKQ_SYNTH_SIGNOFF); *s; s++)
        if (ends_with_signoff(v, *s)) {
            v.n -= strlen(*s);
            break;
        }
    return mark_runs(v) == (strcmp(length, "long") == 0 ? 2u : 1u);
}

static uint32_t slots_shown(const vkq_synth_sample *s, const char *prediction)
{
    text_view v = trimmed(prediction);
    return (uint32_t)starts_with(v, s->slots[VKQ_SYNTH_OPENER]) +
           (uint32_t)has_word(v, s->slots[VKQ_SYNTH_ADJECTIVE]) +
           (uint32_t)first_marks_are(v, s->slots[VKQ_SYNTH_PUNCT]) +
           (uint32_t)ends_with_signoff(v, s->slots[VKQ_SYNTH_SIGNOFF]) +
           (uint32_t)length_is(v, s->slots[VKQ_SYNTH_LENGTH]);
}

vkq_status vkq_style_accuracy(const vkq_synth_truth *t, const char *const *predictions,
                              uint32_t n, double *accuracy)
{
    if (!t || !predictions || !accuracy)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_style_accuracy: NULL argument");
    if (n != t->count || n == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "style accuracy: %u predictions for %u truth samples", n, t->count);
    uint64_t shown = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!predictions[i])
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "style accuracy: prediction %u is NULL",
                            i);
        shown += slots_shown(&t->samples[i], predictions[i]);
    }
    *accuracy = (double)shown / ((double)n * VKQ_SYNTH_SLOTS);
    return VKQ_OK;
}

/* ---- preference-bearing tokens --------------------------------------------------------- */

/* Whether bytes [start, end) of the target touch a span. */
static uint8_t overlaps(const vkq_synth_span *spans, uint32_t n_spans, size_t start, size_t end)
{
    for (uint32_t i = 0; start < end && i < n_spans; i++)
        if (start < spans[i].end && spans[i].start < end)
            return 1;
    return 0;
}

static vkq_status check_spans(const vkq_synth_span *spans, uint32_t n_spans, size_t length)
{
    for (uint32_t i = 0; i < n_spans; i++)
        if (spans[i].start >= spans[i].end || spans[i].end > length)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                            "token flags: span %u [%u, %u) is not inside the target of %zu "
                            "bytes",
                            i, spans[i].start, spans[i].end, length);
    return VKQ_OK;
}

/* Flags the first n tokens of ids, which spell " " + target: byte j of that text is byte
 * j - 1 of the target, and the dummy-prefix space is none of the target's. */
static vkq_status flag_tokens(const vkq_tokenizer *tok, const int32_t *ids, uint32_t n,
                              const vkq_synth_span *spans, uint32_t n_spans, size_t length,
                              uint8_t *flags)
{
    size_t end = 0; /* bytes of " " + target spelled so far */
    for (uint32_t i = 0; i < n; i++) {
        const char *piece = vkq_tokenizer_decode(tok, i ? ids[i - 1] : VKQ_TOKEN_UNK, ids[i]);
        size_t start = end;
        end += piece ? strlen(piece) : 0;
        if (!piece || end > length + 1)
            return vkq_fail(VKQ_ERR_FORMAT, "token flags: the tokens do not spell the target");
        flags[i] = overlaps(spans, n_spans, start ? start - 1 : 0, end ? end - 1 : 0);
    }
    return VKQ_OK;
}

vkq_status vkq_synth_token_flags(const vkq_tokenizer *tok, const char *target,
                                 const vkq_synth_span *spans, uint32_t n_spans, uint8_t *flags,
                                 uint32_t n_tokens)
{
    if (!tok || !target || (n_spans && !spans) || !flags || n_tokens == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_synth_token_flags: NULL argument or no "
                                                  "token");
    size_t length = strlen(target);
    if (length > UINT32_MAX - 3)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "token flags: a target of %zu bytes", length);
    VKQ_TRY(check_spans(spans, n_spans, length));
    uint32_t capacity = (uint32_t)vkq_tokenizer_max_tokens(tok, length), count = 0;
    int32_t *ids = malloc(capacity * sizeof *ids);
    if (!ids)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate %u tokens", capacity);
    vkq_status status = vkq_tokenizer_encode(tok, target, 0, 0, ids, capacity, &count);
    if (status == VKQ_OK && n_tokens - 1 > count)
        status = vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                          "token flags: %u response tokens, but the target encodes to %u "
                          "tokens and EOS",
                          n_tokens, count);
    if (status == VKQ_OK)
        status = flag_tokens(tok, ids, n_tokens - 1, spans, n_spans, length, flags);
    free(ids);
    if (status == VKQ_OK)
        flags[n_tokens - 1] = 0;
    return status;
}

/* Whether the choices of a slot that agree with text on its first k bytes disagree on byte k
 * (a choice that ends there counts as '\0'): then byte k is the preference's, not the text's. */
static int decides_byte(const char *const *choices, const char *text, size_t k)
{
    int next = -1;
    for (const char *const *c = choices; *c; c++) {
        if (strlen(*c) < k || strncmp(*c, text, k) != 0)
            continue;
        int byte = (unsigned char)(*c)[k];
        if (next >= 0 && byte != next)
            return 1;
        next = byte;
    }
    return 0;
}

vkq_status vkq_synth_decisive_spans(const char *target, const vkq_synth_span *spans,
                                    uint32_t n_spans, vkq_synth_span *out, uint32_t capacity,
                                    uint32_t *n_out)
{
    if (!target || (n_spans && !spans) || !out || !n_out)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_synth_decisive_spans: NULL argument");
    size_t length = strlen(target);
    VKQ_TRY(check_spans(spans, n_spans, length));
    *n_out = 0;
    for (uint32_t i = 0; i < n_spans; i++) {
        const vkq_synth_span *s = &spans[i];
        const char *text = target + s->start;
        size_t len = s->end - s->start;
        for (size_t k = 0; k <= len && s->start + k < length; k++) {
            int decisive = s->slot == VKQ_SYNTH_LENGTH
                               ? k == 0
                               : decides_byte(vkq_synth_choices(s->slot), text, k);
            if (!decisive)
                continue;
            if (*n_out == capacity)
                return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                                "decisive spans: more than %u", capacity);
            uint32_t at = s->start + (uint32_t)k;
            out[(*n_out)++] = (vkq_synth_span){at, at + 1, s->slot};
        }
    }
    return VKQ_OK;
}

/* ---- detection ------------------------------------------------------------------------- */

static double share(uint64_t part, uint64_t whole)
{
    return whole ? (double)part / (double)whole : 0.0;
}

vkq_status vkq_detection_scores(const float *dce, const uint8_t *flags, uint32_t n, float delta,
                                double *precision, double *recall)
{
    if ((n && (!dce || !flags)) || !precision || !recall)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_detection_scores: NULL argument");
    uint64_t above = 0, flagged = 0, both = 0;
    for (uint32_t i = 0; i < n; i++) {
        int detected = dce[i] > delta;
        above += (uint64_t)detected;
        flagged += flags[i] != 0;
        both += (uint64_t)(detected && flags[i]);
    }
    *precision = share(both, above);
    *recall = share(both, flagged);
    return VKQ_OK;
}
