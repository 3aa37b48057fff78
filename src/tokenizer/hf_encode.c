/* Encoding with a tokenizer.json as tokenizers.js does: added tokens are cut out of the text
 * first (longest match, leftmost first); each stretch between them is normalized, cut again
 * at normalized added tokens, pre-tokenized into words, and each word goes through BPE by
 * merge rank. Words' encodings are cached. */
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "tokenizer/hf_internal.h"

enum { CACHE_MAX_WORD = 256, CACHE_KEY_BYTES = 4 << 20, CACHE_IDS = 1 << 20 };

/* ---- added tokens ----------------------------------------------------------------------- */

static const char *matched_text(const hf_added *a, int normalized)
{
    return normalized ? a->normalized_content : a->content;
}

static int in_matcher(const vkq_hf *t, const hf_added *a, int normalized)
{
    int uses_normalized = a->normalized && t->n_normalizers > 0;
    return normalized == uses_normalized && matched_text(a, normalized)[0] != '\0';
}

static const hf_added *sort_added; /* for the comparison below */
static int sort_normalized;

static int by_first_byte_longest(const void *pa, const void *pb)
{
    const char *a = matched_text(&sort_added[*(const size_t *)pa], sort_normalized);
    const char *b = matched_text(&sort_added[*(const size_t *)pb], sort_normalized);
    if ((unsigned char)a[0] != (unsigned char)b[0])
        return (unsigned char)a[0] - (unsigned char)b[0];
    size_t la = strlen(a), lb = strlen(b);
    return (la < lb) - (la > lb);
}

static vkq_status build_matcher(const vkq_hf *t, int normalized, hf_matcher *m)
{
    m->normalized = normalized;
    m->order = malloc((t->n_added ? t->n_added : 1) * sizeof *m->order);
    if (!m->order)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot index the added tokens");
    size_t n = 0;
    for (size_t i = 0; i < t->n_added; i++)
        if (in_matcher(t, &t->added[i], normalized))
            m->order[n++] = i;
    sort_added = t->added;
    sort_normalized = normalized;
    qsort(m->order, n, sizeof *m->order, by_first_byte_longest);
    size_t k = 0;
    for (int b = 0; b <= 256; b++) {
        while (k < n && b < 256 &&
               (unsigned char)matched_text(&t->added[m->order[k]], normalized)[0] < b)
            k++;
        m->begin[b] = b == 256 ? n : k;
    }
    return VKQ_OK;
}

vkq_status vkq_hf_prepare_added(vkq_hf *t)
{
    for (size_t i = 0; i < t->n_added; i++) {
        hf_added *a = &t->added[i];
        size_t length;
        if (a->normalized && t->n_normalizers > 0)
            VKQ_TRY(vkq_hf_normalize(t, a->content, a->length, &a->normalized_content, &length));
    }
    VKQ_TRY(build_matcher(t, 0, &t->raw_matcher));
    return build_matcher(t, 1, &t->normalized_matcher);
}

/* The longest added token at text (index into added), -1 if none. */
static int32_t match_at(const vkq_hf *t, const hf_matcher *m, const char *text, size_t left)
{
    unsigned b = (unsigned char)text[0];
    for (size_t k = m->begin[b]; k < m->begin[b + 1]; k++) {
        const char *s = matched_text(&t->added[m->order[k]], m->normalized);
        size_t n = strlen(s);
        if (n <= left && memcmp(text, s, n) == 0)
            return (int32_t)m->order[k];
    }
    return -1;
}

typedef struct section {
    size_t start, end;
    int32_t added; /* index into added, -1 for text */
} section;

typedef struct sections {
    section *s;
    size_t count, capacity;
} sections;

static vkq_status add_section(sections *list, size_t start, size_t end, int32_t added)
{
    if (start >= end)
        return VKQ_OK;
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? 2 * list->capacity : 16;
        section *grown = realloc(list->s, capacity * sizeof *grown);
        if (!grown)
            return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot hold %zu sections", capacity);
        list->s = grown;
        list->capacity = capacity;
    }
    list->s[list->count++] = (section){start, end, added};
    return VKQ_OK;
}

static size_t trim_end(const char *text, size_t start, size_t end)
{
    while (end > start) {
        size_t at = end - 1, n;
        while (at > start && ((unsigned char)text[at] & 0xC0) == 0x80)
            at--;
        if (!vkq_hf_is_space(text + at, end - at, &n))
            break;
        end = at;
    }
    return end;
}

static size_t trim_start(const char *text, size_t start, size_t end)
{
    size_t n;
    while (start < end && vkq_hf_is_space(text + start, end - start, &n))
        start += n;
    return start;
}

/* lstrip and rstrip: an added token takes the whitespace beside it. */
static void strip_around(const vkq_hf *t, const char *text, sections *list)
{
    for (size_t i = 0; i < list->count; i++) {
        if (list->s[i].added < 0)
            continue;
        const hf_added *a = &t->added[list->s[i].added];
        section *before = i > 0 ? &list->s[i - 1] : NULL;
        section *after = i + 1 < list->count ? &list->s[i + 1] : NULL;
        if (a->lstrip && before && before->added < 0)
            before->end = trim_end(text, before->start, before->end);
        if (a->rstrip && after && after->added < 0)
            after->start = trim_start(text, after->start, after->end);
    }
}

static vkq_status split_added(const vkq_hf *t, const hf_matcher *m, const char *text,
                              size_t length, sections *out)
{
    size_t gap = 0;
    for (size_t i = 0; i < length;) {
        int32_t a = m->begin[(unsigned char)text[i]] < m->begin[(unsigned char)text[i] + 1]
                        ? match_at(t, m, text + i, length - i)
                        : -1;
        if (a < 0) {
            i++;
            continue;
        }
        VKQ_TRY(add_section(out, gap, i, -1));
        size_t n = strlen(matched_text(&t->added[a], m->normalized));
        VKQ_TRY(add_section(out, i, i + n, a));
        i += n;
        gap = i;
    }
    VKQ_TRY(add_section(out, gap, length, -1));
    strip_around(t, text, out);
    return VKQ_OK;
}

/* ---- BPE and its cache ------------------------------------------------------------------ */

struct hf_cache {
    vkq_str_map map;   /* word -> entry */
    char *keys;        /* the words' bytes */
    size_t keys_used;
    int32_t *ids;
    size_t ids_used;
    size_t *entry_start, *entry_count;
    size_t entries, entry_capacity;
    vkq_bpe_work *work;
};

vkq_status vkq_hf_cache_new(hf_cache **out)
{
    hf_cache *c = calloc(1, sizeof *c);
    if (c) {
        c->keys = malloc(CACHE_KEY_BYTES);
        c->ids = malloc(CACHE_IDS * sizeof *c->ids);
        c->entry_capacity = CACHE_KEY_BYTES / 8;
        c->entry_start = malloc(c->entry_capacity * sizeof *c->entry_start);
        c->entry_count = malloc(c->entry_capacity * sizeof *c->entry_count);
        c->work = vkq_bpe_work_new();
    }
    if (!c || !c->keys || !c->ids || !c->entry_start || !c->entry_count || !c->work ||
        vkq_str_map_init(&c->map, c->entry_capacity) != VKQ_OK) {
        vkq_hf_cache_free(c);
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate the word cache");
    }
    *out = c;
    return VKQ_OK;
}

void vkq_hf_cache_free(hf_cache *c)
{
    if (!c)
        return;
    vkq_str_map_free(&c->map);
    free(c->keys);
    free(c->ids);
    free(c->entry_start);
    free(c->entry_count);
    vkq_bpe_work_free(c->work);
    free(c);
}

static void cache_clear(hf_cache *c)
{
    vkq_str_map_clear(&c->map);
    c->keys_used = c->ids_used = c->entries = 0;
}

static vkq_status cache_put(hf_cache *c, const char *word, size_t length, const int32_t *ids,
                            size_t count)
{
    if (c->keys_used + length > CACHE_KEY_BYTES || c->ids_used + count > CACHE_IDS ||
        c->entries == c->entry_capacity)
        cache_clear(c);
    if (length > CACHE_KEY_BYTES || count > CACHE_IDS)
        return VKQ_OK;
    char *key = c->keys + c->keys_used;
    memcpy(key, word, length);
    c->keys_used += length;
    if (count) /* ids may be NULL then, which memcpy must not see */
        memcpy(c->ids + c->ids_used, ids, count * sizeof *ids);
    c->entry_start[c->entries] = c->ids_used;
    c->entry_count[c->entries] = count;
    c->ids_used += count;
    int32_t previous;
    return vkq_str_map_put(&c->map, key, length, (int32_t)c->entries++, &previous);
}

static int32_t merge_pair(const void *model, int32_t left, int32_t right, float *score)
{
    const vkq_hf *t = model;
    int32_t pair[2] = {left, right};
    int32_t rank = vkq_str_map_get(&t->merge_rank, (const char *)pair, sizeof pair);
    if (rank < 0)
        return -1;
    *score = -(float)rank; /* the lowest rank merges first */
    return t->merges[rank].merged;
}

/* A character without a token: its bytes' tokens, else the unknown token, else nothing. */
static vkq_status push_unknown(const vkq_hf *t, const char *c, size_t n, vkq_ids *out)
{
    int all_bytes = t->byte_fallback;
    for (size_t k = 0; k < n && all_bytes; k++)
        all_bytes = t->byte_token[(unsigned char)c[k]] >= 0;
    if (all_bytes) {
        for (size_t k = 0; k < n; k++)
            VKQ_TRY(vkq_ids_push(out, t->byte_token[(unsigned char)c[k]]));
        return VKQ_OK;
    }
    return t->unk >= 0 ? vkq_ids_push(out, t->unk) : VKQ_OK;
}

static size_t char_length(const char *s, size_t left)
{
    size_t n = 1;
    while (n < left && ((unsigned char)s[n] & 0xC0) == 0x80)
        n++;
    return n;
}

/* BPE over a run of known characters, appended to out. */
static vkq_status merge_run(const vkq_hf *t, vkq_ids *out, size_t first)
{
    uint32_t n = (uint32_t)(out->count - first);
    VKQ_TRY(vkq_bpe_merge(t->cache->work, t, merge_pair, out->id + first, &n));
    out->count = first + n;
    return VKQ_OK;
}

static vkq_status bpe_word(const vkq_hf *t, const char *word, size_t length, vkq_ids *out)
{
    size_t run = out->count;
    for (size_t at = 0; at < length;) {
        size_t n = char_length(word + at, length - at);
        int32_t id = vkq_str_map_get(&t->vocab, word + at, n);
        if (id >= 0) {
            VKQ_TRY(vkq_ids_push(out, id));
        } else {
            VKQ_TRY(merge_run(t, out, run));
            VKQ_TRY(push_unknown(t, word + at, n, out));
            run = out->count;
        }
        at += n;
    }
    return merge_run(t, out, run);
}

static vkq_status encode_word(const vkq_hf *t, const char *word, size_t length, vkq_ids *out)
{
    if (t->ignore_merges) {
        int32_t id = vkq_str_map_get(&t->vocab, word, length);
        if (id >= 0)
            return vkq_ids_push(out, id);
    }
    hf_cache *c = t->cache;
    int cacheable = length < CACHE_MAX_WORD;
    int32_t entry = cacheable ? vkq_str_map_get(&c->map, word, length) : -1;
    if (entry >= 0) {
        VKQ_TRY(vkq_ids_reserve(out, c->entry_count[entry]));
        memcpy(out->id + out->count, c->ids + c->entry_start[entry],
               c->entry_count[entry] * sizeof *out->id);
        out->count += c->entry_count[entry];
        return VKQ_OK;
    }
    size_t first = out->count;
    VKQ_TRY(bpe_word(t, word, length, out));
    return cacheable ? cache_put(c, word, length, out->id + first, out->count - first) : VKQ_OK;
}

/* ---- sections --------------------------------------------------------------------------- */

static vkq_status encode_words(const vkq_hf *t, int section_index, const char *text,
                               size_t length, vkq_ids *out)
{
    hf_pieces p = {0};
    p.text = strndup(text, length);
    p.length = length;
    vkq_status status = p.text ? vkq_hf_pieces_add(&p, 0, length)
                               : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot copy a section");
    if (status == VKQ_OK)
        status = vkq_hf_pretokenize(t, section_index, &p);
    for (size_t i = 0; i < p.count && status == VKQ_OK; i++)
        status = encode_word(t, p.text + p.start[i], p.end[i] - p.start[i], out);
    vkq_hf_pieces_free(&p);
    return status;
}

static vkq_status encode_normalized(const vkq_hf *t, int section_index, const char *text,
                                    size_t length, vkq_ids *out)
{
    sections list = {0};
    vkq_status status = split_added(t, &t->normalized_matcher, text, length, &list);
    for (size_t i = 0; i < list.count && status == VKQ_OK; i++) {
        const section *s = &list.s[i];
        status = s->added >= 0 ? vkq_ids_push(out, t->added[s->added].id)
                               : encode_words(t, section_index, text + s->start,
                                              s->end - s->start, out);
    }
    free(list.s);
    return status;
}

static vkq_status encode_section(const vkq_hf *t, int section_index, const char *text,
                                 size_t length, vkq_ids *out)
{
    char *normalized = NULL;
    size_t n = 0;
    VKQ_TRY(vkq_hf_normalize(t, text, length, &normalized, &n));
    vkq_status status = encode_normalized(t, section_index, normalized, n, out);
    free(normalized);
    return status;
}

vkq_status vkq_hf_encode(const vkq_tokenizer *base, const char *text, size_t length,
                         vkq_ids *out)
{
    const vkq_hf *t = (const vkq_hf *)base;
    if (!vkq_utf8_valid(text, length))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "the text to encode is not valid UTF-8");
    sections list = {0};
    vkq_status status = split_added(t, &t->raw_matcher, text, length, &list);
    for (size_t i = 0; i < list.count && status == VKQ_OK; i++) {
        const section *s = &list.s[i];
        if (s->added >= 0)
            status = vkq_ids_push(out, t->added[s->added].id);
        else if (s->end > s->start)
            status = encode_section(t, (int)i, text + s->start, s->end - s->start, out);
    }
    free(list.s);
    return status;
}
