/* Reading tokenizer.json: the BPE model's vocabulary and merges, the added tokens, and what
 * decoding each token gives. Strings point into the parsed document, which the tokenizer
 * keeps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/text.h"
#include "tokenizer/hf_internal.h"

static const char METASPACE[] = "\xE2\x96\x81"; /* U+2581, SentencePiece's space */

static const cJSON *field(const cJSON *object, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(object, key);
}

/* Far above any published vocabulary (about 260 K); the tables are sized by the largest id, so
 * a file cannot make them take gigabytes with one big number. */
#define MAX_TOKEN_ID (1 << 22)

static vkq_status get_id(const char *path, const char *what, const cJSON *value, int32_t *id)
{
    if (!cJSON_IsNumber(value) || value->valuedouble < 0 || value->valuedouble >= MAX_TOKEN_ID ||
        value->valuedouble != floor(value->valuedouble))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %s must be a token id (an integer from 0 to %d)",
                        path, what, MAX_TOKEN_ID - 1);
    *id = (int32_t)value->valuedouble;
    return VKQ_OK;
}

static vkq_status get_flag(const char *path, const char *what, const cJSON *object,
                           const char *key, int fallback, int *out)
{
    const cJSON *v = field(object, key);
    if (!v || cJSON_IsNull(v)) {
        *out = fallback;
        return VKQ_OK;
    }
    if (!cJSON_IsBool(v))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %s: \"%s\" must be true or false", path, what, key);
    *out = cJSON_IsTrue(v);
    return VKQ_OK;
}

static void note_id(vkq_hf *t, int32_t id)
{
    if ((uint32_t)id + 1 > t->base.vocab_size)
        t->base.vocab_size = (uint32_t)id + 1;
}

static vkq_status read_vocab(vkq_hf *t, const cJSON *model)
{
    const cJSON *vocab = field(model, "vocab");
    if (!vocab || cJSON_IsNull(vocab))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: model has no \"vocab\"", t->path);
    if (!cJSON_IsObject(vocab))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: model.vocab must be an object of token: id",
                        t->path);
    if (!vocab->child)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: model.vocab is empty", t->path);
    VKQ_TRY(vkq_str_map_init(&t->vocab, (size_t)cJSON_GetArraySize(vocab) + 1024));
    const cJSON *entry;
    cJSON_ArrayForEach(entry, vocab)
    {
        int32_t id = -1, previous;
        char what[96];
        snprintf(what, sizeof what, "model.vocab[\"%.60s\"]", entry->string);
        VKQ_TRY(get_id(t->path, what, entry, &id));
        if (entry->string[0] == '\0')
            return vkq_fail(VKQ_ERR_FORMAT, "%s: model.vocab has an empty token", t->path);
        VKQ_TRY(vkq_str_map_put(&t->vocab, entry->string, strlen(entry->string), id, &previous));
        if (previous >= 0)
            return vkq_fail(VKQ_ERR_FORMAT, "%s: model.vocab: \"%s\" appears twice", t->path,
                            entry->string);
        note_id(t, id);
    }
    return VKQ_OK;
}

static vkq_status read_added_token(vkq_hf *t, const cJSON *item, size_t index, hf_added *a)
{
    char what[48];
    snprintf(what, sizeof what, "added_tokens[%zu]", index);
    if (!cJSON_IsObject(item))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %s must be an object", t->path, what);
    const cJSON *content = field(item, "content");
    if (!cJSON_IsString(content) || content->valuestring[0] == '\0')
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %s: \"content\" must be a non-empty string",
                        t->path, what);
    char id_what[64];
    snprintf(id_what, sizeof id_what, "%s.id", what);
    VKQ_TRY(get_id(t->path, id_what, field(item, "id"), &a->id));
    a->content = content->valuestring;
    a->length = strlen(a->content);
    VKQ_TRY(get_flag(t->path, what, item, "special", 0, &a->special));
    VKQ_TRY(get_flag(t->path, what, item, "lstrip", 0, &a->lstrip));
    VKQ_TRY(get_flag(t->path, what, item, "rstrip", 0, &a->rstrip));
    VKQ_TRY(get_flag(t->path, what, item, "normalized", !a->special, &a->normalized));
    return VKQ_OK;
}

/* As in tokenizers.js, an added token's content names its id, whatever the vocab said. */
static vkq_status read_added_tokens(vkq_hf *t, const cJSON *root)
{
    const cJSON *list = field(root, "added_tokens");
    if (!list || cJSON_IsNull(list))
        return VKQ_OK;
    if (!cJSON_IsArray(list))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: \"added_tokens\" must be an array", t->path);
    size_t n = (size_t)cJSON_GetArraySize(list);
    t->added = calloc(n ? n : 1, sizeof *t->added);
    if (!t->added)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu added tokens", t->path,
                        n);
    const cJSON *item;
    cJSON_ArrayForEach(item, list)
    {
        hf_added *a = &t->added[t->n_added];
        VKQ_TRY(read_added_token(t, item, t->n_added++, a));
        int32_t previous;
        VKQ_TRY(vkq_str_map_put(&t->vocab, a->content, a->length, a->id, &previous));
        note_id(t, a->id);
    }
    return VKQ_OK;
}

/* A merge's two tokens: "a b" or ["a", "b"]. */
static vkq_status merge_parts(const vkq_hf *t, const cJSON *item, size_t index,
                              const char *part[2], size_t length[2])
{
    if (cJSON_IsString(item)) {
        const char *space = strchr(item->valuestring, ' ');
        if (!space || space == item->valuestring || space[1] == '\0' || strchr(space + 1, ' '))
            return vkq_fail(VKQ_ERR_FORMAT,
                            "%s: model.merges[%zu] \"%.60s\" is not two tokens and one space",
                            t->path, index, item->valuestring);
        part[0] = item->valuestring;
        length[0] = (size_t)(space - item->valuestring);
        part[1] = space + 1;
        length[1] = strlen(space + 1);
        return VKQ_OK;
    }
    if (cJSON_IsArray(item) && cJSON_GetArraySize(item) == 2 &&
        cJSON_IsString(item->child) && cJSON_IsString(item->child->next)) {
        for (int k = 0; k < 2; k++) {
            part[k] = cJSON_GetArrayItem(item, k)->valuestring;
            length[k] = strlen(part[k]);
        }
        return VKQ_OK;
    }
    return vkq_fail(VKQ_ERR_FORMAT,
                    "%s: model.merges[%zu] must be a string \"a b\" or a pair [\"a\", \"b\"]",
                    t->path, index);
}

static vkq_status read_merge(vkq_hf *t, const cJSON *item, size_t index, char **joined)
{
    const char *part[2] = {NULL, NULL};
    size_t length[2] = {0, 0};
    VKQ_TRY(merge_parts(t, item, index, part, length));
    hf_merge *m = &t->merges[t->n_merges];
    for (int k = 0; k < 2; k++) {
        m->pair[k] = vkq_str_map_get(&t->vocab, part[k], length[k]);
        if (m->pair[k] < 0)
            return vkq_fail(VKQ_ERR_FORMAT, "%s: model.merges[%zu]: \"%.*s\" is not in the vocab",
                            t->path, index, (int)length[k], part[k]);
    }
    char *grown = realloc(*joined, length[0] + length[1] + 1);
    if (!grown)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a merge", t->path);
    *joined = grown;
    memcpy(grown, part[0], length[0]);
    memcpy(grown + length[0], part[1], length[1]);
    m->merged = vkq_str_map_get(&t->vocab, grown, length[0] + length[1]);
    if (m->merged < 0)
        return vkq_fail(VKQ_ERR_FORMAT,
                        "%s: model.merges[%zu]: the merged \"%.*s\" is not in the vocab", t->path,
                        index, (int)(length[0] + length[1]), grown);
    if (vkq_str_map_get(&t->merge_rank, (const char *)m->pair, sizeof m->pair) >= 0)
        return VKQ_OK; /* a repeated merge keeps its first rank */
    int32_t previous;
    VKQ_TRY(vkq_str_map_put(&t->merge_rank, (const char *)m->pair, sizeof m->pair,
                            (int32_t)t->n_merges++, &previous));
    return VKQ_OK;
}

static vkq_status read_merges(vkq_hf *t, const cJSON *model)
{
    const cJSON *merges = field(model, "merges");
    if (!merges || cJSON_IsNull(merges))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: model has no \"merges\"", t->path);
    if (!cJSON_IsArray(merges))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: model.merges must be an array", t->path);
    size_t n = (size_t)cJSON_GetArraySize(merges);
    t->merges = malloc((n ? n : 1) * sizeof *t->merges); /* never moves: the map's keys */
    if (!t->merges)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu merges", t->path, n);
    VKQ_TRY(vkq_str_map_init(&t->merge_rank, n));
    char *joined = NULL;
    size_t index = 0;
    const cJSON *item;
    vkq_status status = VKQ_OK;
    cJSON_ArrayForEach(item, merges)
    {
        status = read_merge(t, item, index++, &joined);
        if (status != VKQ_OK)
            break;
    }
    free(joined);
    return status;
}

static vkq_status check_empty_option(const vkq_hf *t, const cJSON *model, const char *key)
{
    const cJSON *v = field(model, key);
    if (!v || cJSON_IsNull(v) || (cJSON_IsString(v) && v->valuestring[0] == '\0'))
        return VKQ_OK;
    return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: model.%s is not supported", t->path, key);
}

static vkq_status read_model_options(vkq_hf *t, const cJSON *model)
{
    VKQ_TRY(get_flag(t->path, "model", model, "byte_fallback", 0, &t->byte_fallback));
    VKQ_TRY(get_flag(t->path, "model", model, "ignore_merges", 0, &t->ignore_merges));
    VKQ_TRY(check_empty_option(t, model, "continuing_subword_prefix"));
    VKQ_TRY(check_empty_option(t, model, "end_of_word_suffix"));
    const cJSON *dropout = field(model, "dropout");
    if (dropout && !cJSON_IsNull(dropout) &&
        !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0.0))
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: model.dropout is not supported", t->path);
    const cJSON *unk = field(model, "unk_token");
    t->unk = -1;
    if (unk && !cJSON_IsNull(unk)) {
        if (!cJSON_IsString(unk))
            return vkq_fail(VKQ_ERR_FORMAT, "%s: model.unk_token must be a string or null",
                            t->path);
        t->unk = vkq_str_map_get(&t->vocab, unk->valuestring, strlen(unk->valuestring));
        if (t->unk < 0)
            return vkq_fail(VKQ_ERR_FORMAT, "%s: model.unk_token \"%s\" is not in the vocab",
                            t->path, unk->valuestring);
    }
    return VKQ_OK;
}

static vkq_status read_model(vkq_hf *t, const cJSON *root)
{
    const cJSON *model = field(root, "model");
    if (!model)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: no \"model\"", t->path);
    if (!cJSON_IsObject(model))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: \"model\" must be an object", t->path);
    const cJSON *type = field(model, "type");
    if (!cJSON_IsString(type))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: model.type must be a string such as \"BPE\"",
                        t->path);
    if (strcmp(type->valuestring, "BPE") != 0)
        return vkq_fail(VKQ_ERR_UNSUPPORTED,
                        "%s: model type \"%s\" is not supported (only \"BPE\")", t->path,
                        type->valuestring);
    VKQ_TRY(read_vocab(t, model));
    VKQ_TRY(read_added_tokens(t, root));
    VKQ_TRY(read_merges(t, model));
    return read_model_options(t, model);
}

/* What decoding does to each token's piece, from tokenizer.json's decoder. */
typedef struct decode_steps {
    int byte_level, byte_fallback;
    const char *replace_from, *replace_to;
} decode_steps;

static vkq_status read_decode_step(vkq_hf *t, const cJSON *d, decode_steps *s)
{
    const cJSON *type = field(d, "type");
    if (!cJSON_IsObject(d) || !cJSON_IsString(type))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: a decoder must be an object with a \"type\"",
                        t->path);
    const char *name = type->valuestring;
    if (strcmp(name, "ByteLevel") == 0) {
        s->byte_level = 1;
    } else if (strcmp(name, "ByteFallback") == 0) {
        s->byte_fallback = 1;
    } else if (strcmp(name, "Fuse") == 0) {
        /* joining the tokens' texts is what decoding does anyway */
    } else if (strcmp(name, "Replace") == 0) {
        const cJSON *from = field(field(d, "pattern"), "String"), *to = field(d, "content");
        if (!cJSON_IsString(from) || !cJSON_IsString(to) || from->valuestring[0] == '\0')
            return vkq_fail(VKQ_ERR_UNSUPPORTED,
                            "%s: a Replace decoder needs a {\"String\": ...} pattern and a "
                            "\"content\" string",
                            t->path);
        s->replace_from = from->valuestring;
        s->replace_to = to->valuestring;
    } else if (strcmp(name, "Strip") == 0) {
        const cJSON *content = field(d, "content"), *start = field(d, "start"),
                    *stop = field(d, "stop");
        if (!cJSON_IsString(content) || strcmp(content->valuestring, " ") != 0 ||
            !cJSON_IsNumber(start) || start->valuedouble > 1 || !cJSON_IsNumber(stop) ||
            stop->valuedouble != 0)
            return vkq_fail(VKQ_ERR_UNSUPPORTED,
                            "%s: only a Strip decoder of at most one leading space is supported",
                            t->path);
        t->strip_leading_space = start->valuedouble == 1;
    } else if (strcmp(name, "Metaspace") == 0) {
        const cJSON *r = field(d, "replacement"), *scheme = field(d, "prepend_scheme");
        s->replace_from = cJSON_IsString(r) ? r->valuestring : METASPACE;
        s->replace_to = " ";
        t->strip_leading_space =
            !(cJSON_IsString(scheme) && strcmp(scheme->valuestring, "never") == 0);
    } else {
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: decoder type \"%s\" is not supported", t->path,
                        name);
    }
    return VKQ_OK;
}

static vkq_status read_decoder(vkq_hf *t, const cJSON *root, decode_steps *s)
{
    const cJSON *d = field(root, "decoder");
    if (!d || cJSON_IsNull(d))
        return VKQ_OK;
    const cJSON *type = field(d, "type");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "Sequence") != 0)
        return read_decode_step(t, d, s);
    const cJSON *list = field(d, "decoders");
    if (!cJSON_IsArray(list))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: a Sequence decoder needs a \"decoders\" array",
                        t->path);
    const cJSON *item;
    cJSON_ArrayForEach(item, list)
    {
        VKQ_TRY(read_decode_step(t, item, s));
    }
    return VKQ_OK;
}

static vkq_status append_byte_level(vkq_strbuf *b, const char *piece)
{
    for (size_t at = 0; piece[at];) {
        size_t n = 0;
        int byte = vkq_hf_char_byte(piece + at, &n);
        if (byte > 0) {
            char c = (char)byte;
            VKQ_TRY(vkq_strbuf_append(b, &c, 1));
        } else if (byte < 0) {
            VKQ_TRY(vkq_strbuf_append(b, piece + at, n));
        }
        at += n;
    }
    return VKQ_OK;
}

/* Appends the decoded text of a model token (added tokens decode to their content). */
static vkq_status append_decoded(const decode_steps *s, const char *piece, vkq_strbuf *b)
{
    int byte = s->byte_fallback ? vkq_byte_piece_value(piece) : -1;
    if (byte > 0) {
        char c = (char)byte;
        return vkq_strbuf_append(b, &c, 1);
    }
    if (byte == 0)
        return VKQ_OK; /* a C string cannot hold NUL */
    if (s->byte_level)
        return append_byte_level(b, piece);
    if (s->replace_from)
        return vkq_hf_append_replaced(b, piece, s->replace_from, s->replace_to);
    return vkq_strbuf_append_str(b, piece);
}

static void fill_pieces(vkq_hf *t, const cJSON *vocab)
{
    const cJSON *entry;
    cJSON_ArrayForEach(entry, vocab)
    {
        t->piece[(int32_t)entry->valuedouble] = entry->string;
    }
    for (size_t i = 0; i < t->n_added; i++) {
        t->piece[t->added[i].id] = t->added[i].content;
        t->is_added[t->added[i].id] = 1;
    }
}

static vkq_status build_tables(vkq_hf *t, const cJSON *vocab, const decode_steps *s)
{
    size_t n = t->base.vocab_size;
    t->piece = calloc(n, sizeof *t->piece);
    t->decoded = calloc(n, sizeof *t->decoded);
    t->is_added = calloc(n, 1);
    if (!t->piece || !t->decoded || !t->is_added)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate tables of %zu tokens",
                        t->path, n);
    fill_pieces(t, vocab);
    vkq_strbuf arena = {0};
    size_t *offset = malloc(n * sizeof *offset);
    vkq_status status = offset ? VKQ_OK : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of memory");
    for (size_t id = 0; id < n && status == VKQ_OK; id++) {
        offset[id] = arena.length;
        if (t->piece[id])
            status = t->is_added[id] ? vkq_strbuf_append_str(&arena, t->piece[id])
                                     : append_decoded(s, t->piece[id], &arena);
        if (status == VKQ_OK)
            status = vkq_strbuf_append(&arena, "", 1);
    }
    if (status == VKQ_OK) {
        t->decoded_arena = arena.data;
        for (size_t id = 0; id < n; id++)
            t->decoded[id] = t->piece[id] ? t->decoded_arena + offset[id] : NULL;
    } else {
        vkq_strbuf_free(&arena);
    }
    free(offset);
    return status;
}

static void find_byte_tokens(vkq_hf *t)
{
    for (int b = 0; b < 256; b++) {
        char piece[8];
        snprintf(piece, sizeof piece, "<0x%02X>", b);
        t->byte_token[b] = t->byte_fallback ? vkq_str_map_get(&t->vocab, piece, 6) : -1;
    }
}

static const char *hf_piece(const vkq_tokenizer *base, int32_t token)
{
    const vkq_hf *t = (const vkq_hf *)base;
    return token < 0 || (uint32_t)token >= base->vocab_size ? NULL : t->piece[token];
}

/* A token after the start or an added token loses the space that encoding put there. */
static const char *hf_decode(const vkq_tokenizer *base, int32_t prev_token, int32_t token)
{
    const vkq_hf *t = (const vkq_hf *)base;
    if (token < 0 || (uint32_t)token >= base->vocab_size)
        return NULL;
    const char *text = t->decoded[token];
    int at_section_start = prev_token < 0 || ((uint32_t)prev_token < base->vocab_size &&
                                              t->is_added[prev_token]);
    if (text && t->strip_leading_space && at_section_start && !t->is_added[token] &&
        text[0] == ' ')
        text++;
    return text;
}

static size_t hf_max_tokens(const vkq_tokenizer *base, size_t length)
{
    const vkq_hf *t = (const vkq_hf *)base;
    if (length > (SIZE_MAX - t->grow_add) / t->grow_mul)
        return SIZE_MAX / 2;
    return length * t->grow_mul + t->grow_add;
}

static void hf_destroy(vkq_tokenizer *base)
{
    vkq_hf *t = (vkq_hf *)base;
    vkq_hf_free_parts(t);
    vkq_hf_cache_free(t->cache);
    for (size_t i = 0; i < t->n_added; i++)
        free(t->added[i].normalized_content);
    free(t->added);
    free(t->raw_matcher.order);
    free(t->normalized_matcher.order);
    free(t->merges);
    vkq_str_map_free(&t->merge_rank);
    vkq_str_map_free(&t->vocab);
    free(t->piece);
    free(t->decoded);
    free(t->decoded_arena);
    free(t->is_added);
    cJSON_Delete(t->json);
    free(t->base.chat_template);
    free(t->path_copy);
    free(t);
}

static int32_t hf_find(const vkq_tokenizer *t, const char *text, size_t length)
{
    return vkq_str_map_get(&((const vkq_hf *)t)->vocab, text, length);
}

/* Whether the normalizers never make a text shorter: NFC and the other Unicode forms can
 * (a Hangul syllable composes from three jamo, U+212A KELVIN SIGN becomes K), a Replace by a
 * shorter content can. */
static int normalizers_keep_length(const vkq_hf *t)
{
    for (int i = 0; i < t->n_normalizers; i++) {
        const hf_normalizer *n = &t->normalizers[i];
        if (n->kind != HF_PREPEND &&
            !(n->kind == HF_REPLACE && strlen(n->content) >= strlen(n->text)))
            return 0;
    }
    return 1;
}

/* Whether every piece of text reaches the model: no Split drops matches or gaps, no added
 * token takes the whitespace beside it. */
static int pretokenizers_keep_text(const vkq_hf *t)
{
    for (int i = 0; i < t->n_pretokenizers; i++) {
        const hf_pretokenizer *p = &t->pretokenizers[i];
        if (p->kind == HF_SPLIT && (p->removed || p->invert))
            return 0;
    }
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].lstrip || t->added[i].rstrip)
            return 0;
    return 1;
}

/* Whether every character gets a token: the unknown one, all 256 byte tokens, or ByteLevel
 * with each byte's character in the vocabulary. Otherwise a character can vanish. */
static int every_character_counts(const vkq_hf *t)
{
    int bytes = t->byte_fallback, byte_level = 0;
    for (int b = 0; b < 256; b++)
        bytes = bytes && t->byte_token[b] >= 0;
    for (int i = 0; i < t->n_pretokenizers; i++)
        byte_level |= t->pretokenizers[i].kind == HF_BYTE_LEVEL;
    for (unsigned b = 0; b < 256 && byte_level; b++) {
        utf8proc_uint8_t c[4];
        utf8proc_ssize_t n = utf8proc_encode_char((utf8proc_int32_t)vkq_hf_byte_char(b), c);
        byte_level = vkq_str_map_get(&t->vocab, (const char *)c, (size_t)n) >= 0;
    }
    return t->unk >= 0 || bytes || byte_level;
}

/* The most bytes of a text one token can stand for, 0 where there is no such bound. When the
 * text only grows on its way to the model (normalizers above, ByteLevel's characters of one or
 * two bytes a byte, Metaspace's three-byte U+2581 a space), a token stands for at most its
 * piece's bytes, an unknown or byte token for one character (4 bytes), a normalized added
 * token for its normalized content. */
static size_t longest_token_span(const vkq_hf *t)
{
    if (!normalizers_keep_length(t) || !pretokenizers_keep_text(t) ||
        !every_character_counts(t))
        return 0;
    size_t span = 4;
    for (uint32_t id = 0; id < t->base.vocab_size; id++)
        if (t->piece[id] && strlen(t->piece[id]) > span)
            span = strlen(t->piece[id]);
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].normalized_content && strlen(t->added[i].normalized_content) > span)
            span = strlen(t->added[i].normalized_content);
    return span;
}

static size_t hf_min_tokens(const vkq_tokenizer *base, size_t length)
{
    const vkq_hf *t = (const vkq_hf *)base;
    return t->token_span ? length / t->token_span : 0;
}

static const vkq_tokenizer_ops HF_OPS = {vkq_hf_encode, hf_decode,     hf_piece,  hf_find,
                                         hf_max_tokens, hf_min_tokens, hf_destroy};

static vkq_status read_tokenizer(vkq_hf *t, uint32_t vocab_size)
{
    char *text = NULL;
    size_t length = 0;
    VKQ_TRY(vkq_read_text_file(t->path, &text, &length));
    vkq_status status = vkq_parse_json(t->path, 1, text, length, &t->json);
    free(text);
    VKQ_TRY(status);
    if (!cJSON_IsObject(t->json))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: a tokenizer.json must be a JSON object", t->path);
    VKQ_TRY(read_model(t, t->json));
    if (vocab_size && t->base.vocab_size > vocab_size)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: token id %u is beyond the model's vocabulary of %u",
                        t->path, t->base.vocab_size - 1, vocab_size);
    VKQ_TRY(vkq_hf_parse_normalizer(t, field(t->json, "normalizer")));
    VKQ_TRY(vkq_hf_parse_pretokenizer(t, field(t->json, "pre_tokenizer")));
    decode_steps steps = {0};
    VKQ_TRY(read_decoder(t, t->json, &steps));
    VKQ_TRY(build_tables(t, field(field(t->json, "model"), "vocab"), &steps));
    find_byte_tokens(t);
    VKQ_TRY(vkq_hf_prepare_added(t));
    t->token_span = longest_token_span(t);
    VKQ_TRY(vkq_hf_cache_new(&t->cache));
    VKQ_TRY(vkq_hf_load_config(t, t->path));
    vkq_chat_note_turn_end(&t->base);
    return VKQ_OK;
}

vkq_status vkq_hf_load(const char *path, uint32_t vocab_size, vkq_tokenizer **out)
{
    vkq_hf *t = calloc(1, sizeof *t);
    if (!t)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a tokenizer", path);
    t->base = (vkq_tokenizer){&HF_OPS, 0, -1, -1, -1, NULL, -1};
    t->grow_mul = 1;
    vkq_status status = vkq_copy_string(path, &t->path_copy);
    t->path = t->path_copy;
    if (status == VKQ_OK)
        status = read_tokenizer(t, vocab_size);
    if (status != VKQ_OK) {
        vkq_saved_error e = vkq_error_save(status);
        hf_destroy(&t->base);
        return vkq_error_restore(&e);
    }
    *out = &t->base;
    return VKQ_OK;
}
