/* tokenizer.json's normalizers (Unicode forms through utf8proc, Prepend, Replace) and
 * pre-tokenizers (Split on a PCRE2 regex, ByteLevel, Metaspace), each also in a Sequence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "base/text.h"
#include "tokenizer/hf_internal.h"

/* GPT-2's pre-tokenizing pattern, which ByteLevel applies with use_regex. */
static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char METASPACE[] = "\xE2\x96\x81";
/* A Unicode normal form makes text at most 3 (NFC, NFD) or 18 (NFKC, NFKD) times longer. */
enum { CANONICAL_GROWTH = 3, COMPATIBILITY_GROWTH = 18 };

static const cJSON *field(const cJSON *object, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(object, key);
}

static const char *type_of(const cJSON *node)
{
    const cJSON *type = field(node, "type");
    return cJSON_IsObject(node) && cJSON_IsString(type) ? type->valuestring : NULL;
}

/* The bound on normalized length: text * mul + add becomes (text * mul + add) * k + extra. */
static void grow(vkq_hf *t, size_t k, size_t extra)
{
    t->grow_mul = t->grow_mul * k;
    t->grow_add = t->grow_add * k + extra;
}

/* ---- normalizers ------------------------------------------------------------------------ */

static vkq_status add_normalizer(vkq_hf *t, hf_normalizer_kind kind, const char *text,
                                 const char *content)
{
    if (t->n_normalizers == HF_MAX_NORMALIZERS)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: more than %d normalizers", t->path,
                        HF_MAX_NORMALIZERS);
    t->normalizers[t->n_normalizers++] = (hf_normalizer){kind, text, content};
    return VKQ_OK;
}

static vkq_status string_pattern(const vkq_hf *t, const char *where, const cJSON *node,
                                 const char **out)
{
    const cJSON *pattern = field(node, "pattern");
    const cJSON *s = field(pattern, "String");
    if (cJSON_IsString(s) && s->valuestring[0] != '\0') {
        *out = s->valuestring;
        return VKQ_OK;
    }
    if (field(pattern, "Regex"))
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: a %s with a Regex pattern is not supported",
                        t->path, where);
    return vkq_fail(VKQ_ERR_FORMAT, "%s: a %s needs a pattern {\"String\": \"...\"}", t->path,
                    where);
}

static vkq_status parse_normalizer(vkq_hf *t, const cJSON *node)
{
    const char *type = type_of(node);
    if (!type)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: a normalizer must be an object with a \"type\"",
                        t->path);
    static const char *const FORMS[] = {"NFC", "NFD", "NFKC", "NFKD"};
    for (int f = 0; f < 4; f++)
        if (strcmp(type, FORMS[f]) == 0) {
            grow(t, f < 2 ? CANONICAL_GROWTH : COMPATIBILITY_GROWTH, 0);
            return add_normalizer(t, (hf_normalizer_kind)f, NULL, NULL);
        }
    if (strcmp(type, "Prepend") == 0) {
        const cJSON *prepend = field(node, "prepend");
        if (!cJSON_IsString(prepend))
            return vkq_fail(VKQ_ERR_FORMAT, "%s: a Prepend normalizer needs a \"prepend\" string",
                            t->path);
        size_t n = strlen(prepend->valuestring);
        grow(t, 1 + n, n); /* once a section, and there are at most text + 1 sections */
        return add_normalizer(t, HF_PREPEND, prepend->valuestring, NULL);
    }
    if (strcmp(type, "Replace") == 0) {
        const char *from = NULL;
        VKQ_TRY(string_pattern(t, "Replace normalizer", node, &from));
        const cJSON *content = field(node, "content");
        if (!cJSON_IsString(content))
            return vkq_fail(VKQ_ERR_FORMAT, "%s: a Replace normalizer needs a \"content\" string",
                            t->path);
        size_t n = strlen(content->valuestring), m = strlen(from);
        grow(t, n > m ? (n + m - 1) / m : 1, 0);
        return add_normalizer(t, HF_REPLACE, from, content->valuestring);
    }
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = field(node, "normalizers"), *item;
        if (!cJSON_IsArray(list))
            return vkq_fail(VKQ_ERR_FORMAT,
                            "%s: a Sequence normalizer needs a \"normalizers\" array", t->path);
        cJSON_ArrayForEach(item, list)
        {
            VKQ_TRY(parse_normalizer(t, item));
        }
        return VKQ_OK;
    }
    return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: normalizer type \"%s\" is not supported", t->path,
                    type);
}

vkq_status vkq_hf_parse_normalizer(vkq_hf *t, const cJSON *node)
{
    return !node || cJSON_IsNull(node) ? VKQ_OK : parse_normalizer(t, node);
}

static vkq_status unicode_form(hf_normalizer_kind kind, const char *text, size_t length,
                               vkq_strbuf *out)
{
    static const int OPTIONS[] = {
        UTF8PROC_STABLE | UTF8PROC_COMPOSE, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE,
        UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT,
        UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT};
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)length,
                                      &mapped, (utf8proc_option_t)OPTIONS[kind]);
    if (n < 0)
        return vkq_fail(VKQ_ERR_FORMAT, "cannot normalize the text: %s", utf8proc_errmsg(n));
    vkq_status status = vkq_strbuf_append(out, (const char *)mapped, (size_t)n);
    free(mapped);
    return status;
}

vkq_status vkq_hf_append_replaced(vkq_strbuf *b, const char *text, const char *from,
                                  const char *to)
{
    size_t n = strlen(from);
    for (const char *hit; (hit = strstr(text, from)) != NULL; text = hit + n) {
        VKQ_TRY(vkq_strbuf_append(b, text, (size_t)(hit - text)));
        VKQ_TRY(vkq_strbuf_append_str(b, to));
    }
    return vkq_strbuf_append_str(b, text);
}

/* text is NUL-terminated at length. */
static vkq_status apply_normalizer(const hf_normalizer *n, const char *text, size_t length,
                                   vkq_strbuf *out)
{
    switch (n->kind) {
    case HF_PREPEND:
        VKQ_TRY(vkq_strbuf_append_str(out, n->text));
        return vkq_strbuf_append(out, text, length);
    case HF_REPLACE:
        return vkq_hf_append_replaced(out, text, n->text, n->content);
    default:
        return unicode_form(n->kind, text, length, out);
    }
}

vkq_status vkq_hf_normalize(const vkq_hf *t, const char *text, size_t length, char **out,
                            size_t *out_length)
{
    vkq_strbuf current = {0};
    VKQ_TRY(vkq_strbuf_append(&current, text, length));
    for (int i = 0; i < t->n_normalizers; i++) {
        vkq_strbuf next = {0};
        vkq_status status = apply_normalizer(&t->normalizers[i], current.data, current.length,
                                             &next);
        vkq_strbuf_free(&current);
        if (status != VKQ_OK) {
            vkq_strbuf_free(&next);
            return status;
        }
        current = next;
    }
    *out_length = current.length;
    return vkq_strbuf_take(&current, out);
}

/* ---- pre-tokenizers --------------------------------------------------------------------- */

static vkq_status add_pretokenizer(vkq_hf *t, const hf_pretokenizer *p)
{
    if (t->n_pretokenizers == HF_MAX_PRETOKENIZERS)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: more than %d pre-tokenizers", t->path,
                        HF_MAX_PRETOKENIZERS);
    t->pretokenizers[t->n_pretokenizers++] = *p;
    return VKQ_OK;
}

static vkq_status compile(const vkq_hf *t, const char *pattern, uint32_t options,
                          pcre2_code **out)
{
    int error = 0;
    PCRE2_SIZE offset = 0;
    *out = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                         PCRE2_UTF | PCRE2_UCP | options, &error, &offset, NULL);
    if (!*out) {
        PCRE2_UCHAR message[160];
        pcre2_get_error_message(error, message, sizeof message);
        return vkq_fail(VKQ_ERR_FORMAT, "%s: the pre-tokenizer pattern \"%s\" does not compile "
                        "at offset %zu: %s", t->path, pattern, (size_t)offset, (char *)message);
    }
    pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE); /* without JIT, matching still works */
    return VKQ_OK;
}

static vkq_status parse_split(vkq_hf *t, const cJSON *node, hf_pretokenizer *p)
{
    const cJSON *pattern = field(node, "pattern"), *regex = field(pattern, "Regex"),
                *string = field(pattern, "String"), *behavior = field(node, "behavior"),
                *invert = field(node, "invert");
    if (!cJSON_IsString(regex) && !cJSON_IsString(string))
        return vkq_fail(VKQ_ERR_FORMAT,
                        "%s: a Split pre-tokenizer needs a pattern {\"Regex\": ...} or "
                        "{\"String\": ...}",
                        t->path);
    if (!cJSON_IsString(behavior))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: a Split pre-tokenizer needs a \"behavior\" string",
                        t->path);
    p->removed = strcmp(behavior->valuestring, "Removed") == 0;
    if (!p->removed && strcmp(behavior->valuestring, "Isolated") != 0)
        return vkq_fail(VKQ_ERR_UNSUPPORTED,
                        "%s: Split behavior \"%s\" is not supported (Isolated, Removed)", t->path,
                        behavior->valuestring);
    if (invert && !cJSON_IsBool(invert) && !cJSON_IsNull(invert))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: Split \"invert\" must be true or false", t->path);
    p->invert = cJSON_IsTrue(invert);
    return cJSON_IsString(regex) ? compile(t, regex->valuestring, 0, &p->regex)
                                 : compile(t, string->valuestring, PCRE2_LITERAL, &p->regex);
}

static vkq_status get_bool(const vkq_hf *t, const cJSON *node, const char *key, int fallback,
                           int *out)
{
    const cJSON *v = field(node, key);
    if (v && !cJSON_IsBool(v) && !cJSON_IsNull(v))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: pre-tokenizer \"%s\" must be true or false",
                        t->path, key);
    *out = cJSON_IsBool(v) ? cJSON_IsTrue(v) : fallback;
    return VKQ_OK;
}

static vkq_status parse_byte_level(vkq_hf *t, const cJSON *node, hf_pretokenizer *p)
{
    int use_regex = 1;
    VKQ_TRY(get_bool(t, node, "add_prefix_space", 0, &p->add_prefix_space));
    VKQ_TRY(get_bool(t, node, "use_regex", 1, &use_regex));
    if (p->add_prefix_space)
        grow(t, 2, 1);
    return use_regex ? compile(t, GPT2_PATTERN, 0, &p->regex) : VKQ_OK;
}

static vkq_status parse_metaspace(vkq_hf *t, const cJSON *node, hf_pretokenizer *p)
{
    const cJSON *replacement = field(node, "replacement"), *scheme = field(node, "prepend_scheme");
    int split = 0;
    VKQ_TRY(get_bool(t, node, "split", 0, &split));
    if (split)
        return vkq_fail(VKQ_ERR_UNSUPPORTED,
                        "%s: a Metaspace pre-tokenizer with \"split\": true is not supported",
                        t->path);
    p->replacement = cJSON_IsString(replacement) ? replacement->valuestring : METASPACE;
    const char *s = cJSON_IsString(scheme) ? scheme->valuestring : "always";
    p->prepend = strcmp(s, "never") != 0;
    p->prepend_first_only = strcmp(s, "first") == 0;
    if (strcmp(s, "always") && strcmp(s, "first") && strcmp(s, "never"))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: Metaspace prepend_scheme \"%s\" is not always, "
                        "first or never", t->path, s);
    size_t n = strlen(p->replacement);
    grow(t, n + 1, n);
    return VKQ_OK;
}

static vkq_status parse_pretokenizer(vkq_hf *t, const cJSON *node)
{
    const char *type = type_of(node);
    if (!type)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: a pre-tokenizer must be an object with a \"type\"",
                        t->path);
    hf_pretokenizer p = {0};
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = field(node, "pretokenizers"), *item;
        if (!cJSON_IsArray(list))
            return vkq_fail(VKQ_ERR_FORMAT,
                            "%s: a Sequence pre-tokenizer needs a \"pretokenizers\" array",
                            t->path);
        cJSON_ArrayForEach(item, list)
        {
            VKQ_TRY(parse_pretokenizer(t, item));
        }
        return VKQ_OK;
    }
    if (strcmp(type, "Split") == 0)
        p.kind = HF_SPLIT;
    else if (strcmp(type, "ByteLevel") == 0)
        p.kind = HF_BYTE_LEVEL;
    else if (strcmp(type, "Metaspace") == 0)
        p.kind = HF_METASPACE;
    else
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: pre-tokenizer type \"%s\" is not supported",
                        t->path, type);
    vkq_status status = p.kind == HF_SPLIT        ? parse_split(t, node, &p)
                        : p.kind == HF_BYTE_LEVEL ? parse_byte_level(t, node, &p)
                                                  : parse_metaspace(t, node, &p);
    if (status == VKQ_OK)
        status = add_pretokenizer(t, &p);
    if (status != VKQ_OK)
        pcre2_code_free(p.regex);
    return status;
}

vkq_status vkq_hf_parse_pretokenizer(vkq_hf *t, const cJSON *node)
{
    if (!node || cJSON_IsNull(node))
        return VKQ_OK;
    VKQ_TRY(parse_pretokenizer(t, node));
    for (int i = 0; i + 1 < t->n_pretokenizers; i++)
        if (t->pretokenizers[i].kind == HF_BYTE_LEVEL)
            return vkq_fail(VKQ_ERR_UNSUPPORTED,
                            "%s: a ByteLevel pre-tokenizer is supported only as the last one",
                            t->path);
    return VKQ_OK;
}

void vkq_hf_free_parts(vkq_hf *t)
{
    for (int i = 0; i < t->n_pretokenizers; i++)
        pcre2_code_free(t->pretokenizers[i].regex);
    t->n_pretokenizers = 0;
}

/* ---- applying pre-tokenizers ------------------------------------------------------------ */

vkq_status vkq_hf_pieces_add(hf_pieces *p, size_t start, size_t end)
{
    if (start >= end)
        return VKQ_OK;
    if (p->count == p->capacity) {
        size_t capacity = p->capacity ? 2 * p->capacity : 64;
        size_t *s = realloc(p->start, capacity * sizeof *s);
        if (s)
            p->start = s;
        size_t *e = s ? realloc(p->end, capacity * sizeof *e) : NULL;
        if (!e)
            return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot hold %zu pieces", capacity);
        p->end = e;
        p->capacity = capacity;
    }
    p->start[p->count] = start;
    p->end[p->count++] = end;
    return VKQ_OK;
}

void vkq_hf_pieces_free(hf_pieces *p)
{
    free(p->text);
    free(p->start);
    free(p->end);
    memset(p, 0, sizeof *p);
}

/* Adds the matches of re in text[start, end), which it sees as a whole subject
 * (keep_matches), and what lies between them (keep_gaps) as pieces of out. */
static vkq_status split_on(const pcre2_code *re, pcre2_match_data *md, const char *text,
                           size_t start, size_t end, int keep_matches, int keep_gaps,
                           hf_pieces *out)
{
    const char *subject = text + start;
    size_t length = end - start, gap = 0;
    for (size_t at = 0; at <= length;) {
        int rc = pcre2_match(re, (PCRE2_SPTR)subject, length, at, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0)
            return vkq_fail(VKQ_ERR_UNSUPPORTED, "pre-tokenizer regex failed (PCRE2 error %d)",
                            rc);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (keep_gaps)
            VKQ_TRY(vkq_hf_pieces_add(out, start + gap, start + ov[0]));
        if (keep_matches)
            VKQ_TRY(vkq_hf_pieces_add(out, start + ov[0], start + ov[1]));
        gap = at = ov[1];
        if (ov[0] == ov[1]) { /* an empty match: step over one character */
            if (at == length)
                break;
            do
                at++;
            while (at < length && ((unsigned char)subject[at] & 0xC0) == 0x80);
        }
    }
    return keep_gaps ? vkq_hf_pieces_add(out, start + gap, end) : VKQ_OK;
}

static vkq_status split_pieces(const hf_pretokenizer *p, const hf_pieces *in, hf_pieces *out)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->regex, NULL);
    if (!md)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate regex match data");
    vkq_status status = VKQ_OK;
    int keep_matches = p->kind != HF_SPLIT || !p->removed, keep_gaps = p->kind == HF_SPLIT &&
                                                                        !p->invert;
    for (size_t i = 0; i < in->count && status == VKQ_OK; i++)
        status = split_on(p->regex, md, in->text, in->start[i], in->end[i], keep_matches,
                          keep_gaps, out);
    pcre2_match_data_free(md);
    return status;
}

uint32_t vkq_hf_byte_char(unsigned byte)
{
    if (byte <= 32)
        return 256 + byte;
    if (byte >= 127 && byte <= 160)
        return 162 + byte;
    if (byte == 173)
        return 323;
    return byte;
}

int vkq_hf_char_byte(const char *s, size_t *n)
{
    utf8proc_int32_t c = -1;
    utf8proc_ssize_t used = utf8proc_iterate((const utf8proc_uint8_t *)s, -1, &c);
    *n = used > 0 ? (size_t)used : 1;
    if (c < 0)
        return -1;
    if ((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255))
        return c;
    if (c >= 256 && c <= 288)
        return c - 256;
    if (c >= 289 && c <= 322)
        return c - 162;
    return c == 323 ? 173 : -1;
}

static vkq_status append_char(vkq_strbuf *b, uint32_t c)
{
    utf8proc_uint8_t bytes[4];
    utf8proc_ssize_t n = utf8proc_encode_char((utf8proc_int32_t)c, bytes);
    return vkq_strbuf_append(b, (const char *)bytes, (size_t)n);
}

/* Each piece's bytes as the characters ByteLevel maps them to. */
static vkq_status map_bytes(const hf_pieces *in, hf_pieces *out)
{
    vkq_strbuf b = {0};
    vkq_status status = VKQ_OK;
    for (size_t i = 0; i < in->count && status == VKQ_OK; i++) {
        size_t start = b.length;
        for (size_t k = in->start[i]; k < in->end[i] && status == VKQ_OK; k++)
            status = append_char(&b, vkq_hf_byte_char((unsigned char)in->text[k]));
        if (status == VKQ_OK)
            status = vkq_hf_pieces_add(out, start, b.length);
    }
    out->text = b.data;
    out->length = b.length;
    return status;
}

static int starts_with(const char *text, size_t length, const char *prefix)
{
    size_t n = strlen(prefix);
    return length >= n && memcmp(text, prefix, n) == 0;
}

static vkq_status metaspace(const hf_pretokenizer *p, int section_index, const hf_pieces *in,
                            hf_pieces *out)
{
    vkq_strbuf b = {0};
    vkq_status status = VKQ_OK;
    for (size_t i = 0; i < in->count && status == VKQ_OK; i++) {
        size_t start = b.length;
        char *piece = strndup(in->text + in->start[i], in->end[i] - in->start[i]);
        if (!piece)
            status = vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot copy a piece");
        if (status == VKQ_OK)
            status = vkq_hf_append_replaced(&b, piece, " ", p->replacement);
        free(piece);
        int prepend = p->prepend && (!p->prepend_first_only || section_index == 0) &&
                      !starts_with(b.data + start, b.length - start, p->replacement);
        if (status == VKQ_OK && prepend) {
            status = vkq_strbuf_append_str(&b, p->replacement);
            if (status == VKQ_OK) { /* rotate the replacement to the front */
                size_t n = strlen(p->replacement), body = b.length - start - n;
                memmove(b.data + start + n, b.data + start, body);
                memcpy(b.data + start, p->replacement, n);
            }
        }
        if (status == VKQ_OK)
            status = vkq_hf_pieces_add(out, start, b.length);
    }
    out->text = b.data;
    out->length = b.length;
    return status;
}

/* Each stage takes *p and replaces it with its result. */
typedef vkq_status (*stage_fn)(const hf_pretokenizer *pt, int section_index, const hf_pieces *in,
                               hf_pieces *out);

static vkq_status run_stage(stage_fn stage, const hf_pretokenizer *pt, int section_index,
                            hf_pieces *p)
{
    hf_pieces next = {0};
    vkq_status status = stage(pt, section_index, p, &next);
    if (!next.text) { /* the spans point into the same text */
        next.text = p->text;
        next.length = p->length;
        p->text = NULL;
    }
    vkq_hf_pieces_free(p);
    *p = next;
    return status;
}

static vkq_status split_stage(const hf_pretokenizer *pt, int section_index, const hf_pieces *in,
                              hf_pieces *out)
{
    (void)section_index;
    return split_pieces(pt, in, out);
}

static vkq_status map_stage(const hf_pretokenizer *pt, int section_index, const hf_pieces *in,
                            hf_pieces *out)
{
    (void)pt;
    (void)section_index;
    return map_bytes(in, out);
}

/* ByteLevel's add_prefix_space is a Metaspace whose replacement is the space itself. */
static const hf_pretokenizer PREFIX_SPACE = {.kind = HF_METASPACE, .replacement = " ",
                                             .prepend = 1};

static vkq_status byte_level(const hf_pretokenizer *pt, hf_pieces *p)
{
    if (pt->add_prefix_space)
        VKQ_TRY(run_stage(metaspace, &PREFIX_SPACE, 0, p));
    if (pt->regex)
        VKQ_TRY(run_stage(split_stage, pt, 0, p));
    return run_stage(map_stage, pt, 0, p);
}

vkq_status vkq_hf_pretokenize(const vkq_hf *t, int section_index, hf_pieces *p)
{
    for (int i = 0; i < t->n_pretokenizers; i++) {
        const hf_pretokenizer *pt = &t->pretokenizers[i];
        if (pt->kind == HF_BYTE_LEVEL)
            VKQ_TRY(byte_level(pt, p));
        else
            VKQ_TRY(run_stage(pt->kind == HF_SPLIT ? split_stage : metaspace, pt, section_index,
                              p));
    }
    return VKQ_OK;
}

int vkq_hf_is_space(const char *s, size_t left, size_t *n)
{
    utf8proc_int32_t c = -1;
    utf8proc_ssize_t used = utf8proc_iterate((const utf8proc_uint8_t *)s,
                                             (utf8proc_ssize_t)left, &c);
    *n = used > 0 ? (size_t)used : 1;
    if (c < 0)
        return 0;
    if ((c >= 9 && c <= 13) || (c >= 0x1C && c <= 0x1F) || c == 0x85)
        return 1;
    utf8proc_category_t cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
           cat == UTF8PROC_CATEGORY_ZP;
}
