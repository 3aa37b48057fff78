/* A Hugging Face tokenizer (tokenizer.json, tokenizer_config.json) as GGUF tokenizer metadata,
 * with the meanings llama.cpp's converter gives them. The files are read here directly: the
 * export copies the vocabulary and never encodes, so it takes pre-tokenizers (such as
 * SmolLM's Digits) that vkquill's own tokenizer does not run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json_text.h"
#include "base/text.h"
#include "model/gguf_internal.h"
#include "model/safetensors_internal.h"

/* llama.cpp's token types. */
enum { TOKEN_NORMAL = 1, TOKEN_UNKNOWN = 2, TOKEN_CONTROL = 3, TOKEN_USER_DEFINED = 4,
       TOKEN_UNUSED = 5, TOKEN_BYTE = 6 };

static const char SPACE_MARK[] = "\xE2\x96\x81"; /* U+2581, SentencePiece's space */
static const char BYTE_LEVEL_SPACE[] = "\xC4\xA0"; /* U+0120, byte-level BPE's space */

/* The pre-tokenizers llama.cpp knows by name, by the pattern of their Split. */
static const char LLAMA3_PATTERN[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char QWEN2_PATTERN[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

typedef struct piece_id {
    const char *piece;
    int32_t id;
} piece_id;

typedef struct vocab {
    const char *dir;
    char *path, *config_path;
    cJSON *json, *config; /* config: NULL without tokenizer_config.json */
    const cJSON *model;
    int byte_level;
    uint32_t n;
    const char **piece; /* by id */
    int32_t *type;
    uint8_t *added, *special;
    piece_id *sorted; /* the model's vocab by piece */
    size_t n_sorted;
    vkq_strbuf strings; /* made strings, NUL-separated, until offsets become pointers */
    size_t *made_at;    /* by id: offset into strings + 1, 0 when the piece is not made */
    int32_t bos, eos, unk, pad;
    int add_bos, add_eos; /* -1: unknown */
} vocab;

static const cJSON *field(const cJSON *object, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(object, key);
}

static const char *string_field(const cJSON *object, const char *key)
{
    const cJSON *v = field(object, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static vkq_status read_json(const char *path, const char *what, cJSON **out)
{
    char *text = NULL;
    size_t length = 0;
    VKQ_TRY(vkq_read_text_file(path, &text, &length));
    vkq_status s = vkq_json_object_parse(path, what, text, length, out);
    free(text);
    return s;
}

static vkq_status get_id(const vocab *v, const char *what, const cJSON *value, int32_t *id)
{
    if (!cJSON_IsNumber(value) || value->valuedouble < 0 || value->valuedouble >= v->n ||
        value->valuedouble != (double)(int64_t)value->valuedouble)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %s must be a token id below config.json's "
                        "vocab_size %u", v->path, what, v->n);
    *id = (int32_t)value->valuedouble;
    return VKQ_OK;
}

static vkq_status read_vocab(vocab *v)
{
    const cJSON *entries = field(v->model, "vocab"), *entry;
    if (!cJSON_IsObject(entries))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: model.vocab must be an object of token: id",
                        v->path);
    v->sorted = malloc(((size_t)cJSON_GetArraySize(entries) + 1) * sizeof *v->sorted);
    if (!v->sorted)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    cJSON_ArrayForEach(entry, entries)
    {
        char what[96];
        snprintf(what, sizeof what, "model.vocab[\"%.60s\"]", entry->string);
        int32_t id = 0;
        VKQ_TRY(get_id(v, what, entry, &id));
        v->piece[id] = entry->string;
        v->sorted[v->n_sorted++] = (piece_id){entry->string, id};
    }
    return VKQ_OK;
}

static vkq_status read_added(vocab *v)
{
    const cJSON *list = field(v->json, "added_tokens"), *item;
    if (list && !cJSON_IsArray(list))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: \"added_tokens\" must be an array", v->path);
    size_t index = 0;
    cJSON_ArrayForEach(item, list)
    {
        char what[64];
        snprintf(what, sizeof what, "added_tokens[%zu].id", index++);
        const char *content = string_field(item, "content");
        if (!content || !content[0])
            return vkq_fail(VKQ_ERR_FORMAT, "%s: added_tokens[%zu] needs a non-empty "
                            "\"content\"", v->path, index - 1);
        int32_t id = 0;
        VKQ_TRY(get_id(v, what, field(item, "id"), &id));
        v->piece[id] = content;
        v->added[id] = 1;
        v->special[id] = cJSON_IsTrue(field(item, "special"));
    }
    return VKQ_OK;
}

/* Flattens Sequence nodes: calls fn on each leaf of type-keyed node (pre-tokenizers under
 * "pretokenizers", normalizers under "normalizers"). */
typedef struct leaves {
    const cJSON *node[16];
    int n;
} leaves;

static void collect(const cJSON *node, const char *list_key, leaves *out)
{
    if (!cJSON_IsObject(node))
        return;
    const char *type = string_field(node, "type");
    if (type && strcmp(type, "Sequence") == 0) {
        const cJSON *item;
        cJSON_ArrayForEach(item, field(node, list_key))
        {
            collect(item, list_key, out);
        }
    } else if (out->n < (int)(sizeof out->node / sizeof *out->node)) {
        out->node[out->n++] = node;
    }
}

static int is_type(const cJSON *node, const char *type)
{
    const char *t = string_field(node, "type");
    return t && strcmp(t, type) == 0;
}

static int uses_regex(const cJSON *byte_level)
{
    const cJSON *v = field(byte_level, "use_regex");
    return !v || cJSON_IsTrue(v);
}

static int split_is(const cJSON *node, const char *pattern)
{
    const char *regex = is_type(node, "Split") ? string_field(field(node, "pattern"), "Regex")
                                               : NULL;
    return regex && strcmp(regex, pattern) == 0;
}

/* tokenizer.ggml.pre of a byte-level tokenizer: the name of llama.cpp's matching
 * pre-tokenizer. llama.cpp's converter finds it from a hash of one text's encoding; the
 * pre-tokenizer's own description names the same ones. */
static vkq_status byte_level_pre(const vocab *v, const char **out)
{
    leaves p = {0};
    collect(field(v->json, "pre_tokenizer"), "pretokenizers", &p);
    *out = NULL;
    if (p.n == 1 && is_type(p.node[0], "ByteLevel") && uses_regex(p.node[0]))
        *out = "gpt-2";
    if (p.n == 2 && is_type(p.node[1], "ByteLevel") && !uses_regex(p.node[1]))
        *out = split_is(p.node[0], LLAMA3_PATTERN)  ? "llama-bpe"
               : split_is(p.node[0], QWEN2_PATTERN) ? "qwen2"
                                                    : NULL;
    if (p.n == 2 && is_type(p.node[0], "Digits") &&
        cJSON_IsTrue(field(p.node[0], "individual_digits")) && is_type(p.node[1], "ByteLevel") &&
        uses_regex(p.node[1]))
        *out = "smollm";
    if (!*out)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: the pre-tokenizer is not one llama.cpp knows "
                        "by name here (Llama 3's, Qwen2's, SmolLM's or GPT-2's)", v->path);
    return VKQ_OK;
}

/* SentencePiece-style models put a space mark before the text unless told not to. */
static int adds_space_prefix(const vocab *v)
{
    leaves n = {0}, p = {0};
    collect(field(v->json, "normalizer"), "normalizers", &n);
    for (int i = 0; i < n.n; i++) {
        const char *prepend = string_field(n.node[i], "prepend");
        if (is_type(n.node[i], "Prepend") && prepend && strcmp(prepend, SPACE_MARK) == 0)
            return 1;
    }
    collect(field(v->json, "pre_tokenizer"), "pretokenizers", &p);
    for (int i = 0; i < p.n; i++) {
        const char *scheme = string_field(p.node[i], "prepend_scheme");
        if (is_type(p.node[i], "Metaspace"))
            return scheme ? strcmp(scheme, "never") != 0
                          : !cJSON_IsFalse(field(p.node[i], "add_prefix_space"));
    }
    return 0;
}

static vkq_status find_kind(vocab *v)
{
    const char *type = string_field(v->model, "type");
    if (!type || strcmp(type, "BPE") != 0)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: model type \"%s\" is not supported (only "
                        "\"BPE\")", v->path, type ? type : "?");
    leaves p = {0};
    collect(field(v->json, "pre_tokenizer"), "pretokenizers", &p);
    for (int i = 0; i < p.n; i++)
        v->byte_level |= is_type(p.node[i], "ByteLevel");
    int byte_fallback = cJSON_IsTrue(field(v->model, "byte_fallback"));
    if (v->byte_level == byte_fallback)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "%s: neither byte-level BPE nor SentencePiece-style "
                        "BPE with byte fallback", v->path);
    return VKQ_OK;
}

static int looks_special(const char *piece)
{
    size_t n = strlen(piece);
    return n >= 4 && strncmp(piece, "<|", 2) == 0 && strcmp(piece + n - 2, "|>") == 0;
}

static int is_byte_piece(const char *p)
{
    return strlen(p) == 6 && strncmp(p, "<0x", 3) == 0 && p[5] == '>' &&
           strspn(p + 3, "0123456789ABCDEFabcdef") >= 2;
}

/* A piece made here (a gap's "[PADi]", a user-defined token with spaces for space marks). */
static vkq_status make_piece(vocab *v, uint32_t id, const char *text)
{
    v->made_at[id] = v->strings.length + 1;
    return vkq_strbuf_append(&v->strings, text, strlen(text) + 1);
}

static vkq_status classify(vocab *v, uint32_t id)
{
    const char *p = v->piece[id];
    char pad[32];
    if (!p) {
        snprintf(pad, sizeof pad, "[PAD%u]", id);
        v->type[id] = TOKEN_UNUSED;
        return make_piece(v, id, pad);
    }
    if (!v->byte_level && (int32_t)id == v->unk)
        v->type[id] = TOKEN_UNKNOWN;
    else if (v->added[id] && (v->special[id] || looks_special(p)))
        v->type[id] = TOKEN_CONTROL;
    else if (!v->byte_level && is_byte_piece(p))
        v->type[id] = TOKEN_BYTE;
    else if (v->added[id])
        v->type[id] = TOKEN_USER_DEFINED;
    else
        v->type[id] = TOKEN_NORMAL;
    if (v->type[id] != TOKEN_USER_DEFINED || !strstr(p, SPACE_MARK))
        return VKQ_OK;
    vkq_strbuf spaced = {0};
    vkq_status s = VKQ_OK;
    for (const char *at = p, *mark; s == VKQ_OK && *at; at = mark ? mark + 3 : at + strlen(at)) {
        mark = strstr(at, SPACE_MARK);
        size_t run = mark ? (size_t)(mark - at) : strlen(at);
        s = vkq_strbuf_append(&spaced, at, run);
        if (s == VKQ_OK && mark)
            s = vkq_strbuf_append(&spaced, " ", 1);
    }
    if (s == VKQ_OK)
        s = make_piece(v, id, spaced.data);
    vkq_strbuf_free(&spaced);
    return s;
}

/* A merge's two pieces: "a b" or ["a", "b"]. */
static vkq_status merge_parts(const vocab *v, const cJSON *item, size_t rank,
                              const char *part[2], size_t length[2])
{
    if (cJSON_IsString(item)) {
        const char *space = strchr(item->valuestring, ' ');
        if (space && space != item->valuestring && space[1] && !strchr(space + 1, ' ')) {
            part[0] = item->valuestring, length[0] = (size_t)(space - item->valuestring);
            part[1] = space + 1, length[1] = strlen(space + 1);
            return VKQ_OK;
        }
    } else if (cJSON_GetArraySize(item) == 2) {
        for (int i = 0; i < 2; i++) {
            const cJSON *one = cJSON_GetArrayItem(item, i);
            part[i] = cJSON_IsString(one) ? one->valuestring : "";
            length[i] = strlen(part[i]);
        }
        if (length[0] && length[1])
            return VKQ_OK;
    }
    return vkq_fail(VKQ_ERR_FORMAT, "%s: model.merges[%zu] is not two tokens (\"a b\" or "
                    "[\"a\", \"b\"])", v->path, rank);
}

static const cJSON *merges_of(const vocab *v)
{
    const cJSON *merges = field(v->model, "merges");
    return cJSON_IsArray(merges) ? merges : NULL;
}

/* A piece of a merge with each space as U+0120, as byte-level pieces write spaces. */
static vkq_status append_merge_part(vkq_strbuf *b, const char *part, size_t length)
{
    for (size_t k = 0; k < length;) {
        size_t run = 0;
        while (k + run < length && part[k + run] != ' ')
            run++;
        VKQ_TRY(vkq_strbuf_append(b, part + k, run));
        k += run;
        if (k < length) {
            VKQ_TRY(vkq_strbuf_append_str(b, BYTE_LEVEL_SPACE));
            k++;
        }
    }
    return VKQ_OK;
}

/* As llama.cpp's converter writes merges: "a b". */
static vkq_status add_merges(vkq_gguf *g, const vocab *v)
{
    const cJSON *merges = merges_of(v), *item;
    size_t n = (size_t)cJSON_GetArraySize(merges), rank = 0;
    size_t *at = malloc((n ? n : 1) * sizeof *at);
    const char **text = malloc((n ? n : 1) * sizeof *text);
    vkq_strbuf joined = {0};
    vkq_status s = at && text ? VKQ_OK : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    cJSON_ArrayForEach(item, merges)
    {
        const char *part[2];
        size_t length[2];
        if (s != VKQ_OK)
            break;
        s = merge_parts(v, item, rank, part, length);
        at[rank++] = joined.length;
        for (int i = 0; i < 2 && s == VKQ_OK; i++) {
            s = append_merge_part(&joined, part[i], length[i]);
            if (s == VKQ_OK) /* a space between the pieces, a NUL after the pair */
                s = vkq_strbuf_append(&joined, i == 0 ? " " : "", 1);
        }
    }
    for (size_t i = 0; i < n && s == VKQ_OK; i++)
        text[i] = joined.data + at[i];
    if (s == VKQ_OK)
        s = vkq_gguf_add_strings(g, "tokenizer.ggml.merges", text, n);
    vkq_strbuf_free(&joined);
    free(at);
    free(text);
    return s;
}

static int by_piece(const void *a, const void *b)
{
    return strcmp(((const piece_id *)a)->piece, ((const piece_id *)b)->piece);
}

/* tokenizer.json keeps no SentencePiece scores. llama.cpp's SentencePiece tokenizer merges
 * the adjacent pair whose joined piece scores highest, so each piece scores minus the rank
 * of the first merge that makes it, and a piece no merge makes scores below them all. */
static vkq_status add_scores(vkq_gguf *g, vocab *v)
{
    const cJSON *merges = merges_of(v), *item;
    float unmade = -(float)cJSON_GetArraySize(merges);
    float *score = malloc(v->n * sizeof *score);
    if (!score)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t i = 0; i < v->n; i++)
        score[i] = v->type[i] == TOKEN_UNUSED || v->added[i] ? 0.0f : unmade;
    qsort(v->sorted, v->n_sorted, sizeof *v->sorted, by_piece);
    vkq_strbuf joined = {0};
    vkq_status s = VKQ_OK;
    size_t rank = 0;
    cJSON_ArrayForEach(item, merges)
    {
        const char *part[2];
        size_t length[2];
        s = merge_parts(v, item, rank, part, length);
        joined.length = 0;
        for (int i = 0; i < 2 && s == VKQ_OK; i++)
            s = vkq_strbuf_append(&joined, part[i], length[i]);
        if (s != VKQ_OK)
            break;
        piece_id key = {joined.data, 0};
        const piece_id *found = bsearch(&key, v->sorted, v->n_sorted, sizeof key, by_piece);
        if (found && score[found->id] == unmade)
            score[found->id] = 0.0f - (float)rank; /* +0 for the first */
        rank++;
    }
    if (s == VKQ_OK)
        s = vkq_gguf_add_f32s(g, "tokenizer.ggml.scores", score, v->n);
    vkq_strbuf_free(&joined);
    free(score);
    return s;
}

/* The id of an added token whose content is tokenizer_config.json's key (a string or an
 * object with "content"); -1 when there is none. */
static int32_t config_token(const vocab *v, const char *key)
{
    const cJSON *entry = field(v->config, key);
    const char *content = cJSON_IsObject(entry) ? string_field(entry, "content")
                          : cJSON_IsString(entry) ? entry->valuestring
                                                  : NULL;
    for (uint32_t id = 0; content && id < v->n; id++)
        if (v->added[id] && strcmp(v->piece[id], content) == 0)
            return (int32_t)id;
    return -1;
}

static int32_t known_id(const vocab *v, int id)
{
    return id >= 0 && (uint32_t)id < v->n ? id : -1;
}

static void find_special_ids(vocab *v, const vkq_hf_config *c)
{
    v->bos = config_token(v, "bos_token");
    v->eos = config_token(v, "eos_token");
    v->unk = config_token(v, "unk_token");
    v->pad = config_token(v, "pad_token");
    if (v->bos < 0)
        v->bos = known_id(v, c->tokens.bos_token_id);
    if (v->eos < 0 && c->tokens.n_eos > 0)
        v->eos = known_id(v, c->tokens.eos_token_ids[0]);
    if (v->pad < 0)
        v->pad = known_id(v, c->tokens.pad_token_id);
    const char *unk = string_field(v->model, "unk_token");
    for (uint32_t id = 0; v->unk < 0 && unk && id < v->n; id++)
        if (v->piece[id] && strcmp(v->piece[id], unk) == 0)
            v->unk = (int32_t)id;
}

/* Whether encoding adds BOS and EOS: the post-processor's template, then
 * tokenizer_config.json's add_bos_token and add_eos_token. */
static void find_added_specials(vocab *v)
{
    leaves p = {0};
    collect(field(v->json, "post_processor"), "processors", &p);
    v->add_bos = v->add_eos = -1;
    for (int i = 0; i < p.n; i++) {
        const cJSON *single = field(p.node[i], "single");
        int n = cJSON_GetArraySize(single);
        if (!is_type(p.node[i], "TemplateProcessing") || n < 2)
            continue;
        const char *first = string_field(field(cJSON_GetArrayItem(single, 0), "SpecialToken"),
                                         "id");
        const char *last = string_field(
            field(cJSON_GetArrayItem(single, n - 1), "SpecialToken"), "id");
        if (first)
            v->add_bos = v->bos >= 0 && v->piece[v->bos] && strcmp(first, v->piece[v->bos]) == 0;
        if (last)
            v->add_eos = v->eos >= 0 && v->piece[v->eos] && strcmp(last, v->piece[v->eos]) == 0;
    }
    const cJSON *add_bos = field(v->config, "add_bos_token");
    const cJSON *add_eos = field(v->config, "add_eos_token");
    if (cJSON_IsBool(add_bos))
        v->add_bos = cJSON_IsTrue(add_bos);
    if (cJSON_IsBool(add_eos))
        v->add_eos = cJSON_IsTrue(add_eos);
}

static vkq_status add_special(vkq_gguf *g, const vocab *v)
{
    const struct {
        const char *key;
        int32_t id;
    } ids[] = {{"tokenizer.ggml.bos_token_id", v->bos},
               {"tokenizer.ggml.eos_token_id", v->eos},
               {"tokenizer.ggml.unknown_token_id", v->unk},
               {"tokenizer.ggml.padding_token_id", v->pad}};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        if (ids[i].id >= 0)
            VKQ_TRY(vkq_gguf_add_u32(g, ids[i].key, (uint32_t)ids[i].id));
    if (v->add_bos >= 0)
        VKQ_TRY(vkq_gguf_add_bool(g, "tokenizer.ggml.add_bos_token", v->add_bos));
    if (v->add_eos >= 0)
        VKQ_TRY(vkq_gguf_add_bool(g, "tokenizer.ggml.add_eos_token", v->add_eos));
    return VKQ_OK;
}

/* tokenizer_config.json's chat_template (a string, or the "default" of a list of named
 * templates), else chat_template.jinja beside it. */
static vkq_status add_chat_template(vkq_gguf *g, const vocab *v)
{
    const cJSON *t = field(v->config, "chat_template"), *item;
    if (cJSON_IsArray(t))
        cJSON_ArrayForEach(item, t)
        {
            const char *name = string_field(item, "name");
            if (name && strcmp(name, "default") == 0)
                t = field(item, "template");
        }
    if (cJSON_IsString(t))
        return vkq_gguf_add_string(g, "tokenizer.chat_template", t->valuestring);
    if (t && !cJSON_IsNull(t))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: chat_template must be a string or a list with a "
                        "\"default\" {\"name\", \"template\"}", v->config_path);
    char *jinja = vkq_st_join(v->dir, "chat_template.jinja");
    if (!jinja)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    char *text = NULL;
    size_t length = 0;
    vkq_status s = file_exists(jinja) ? vkq_read_text_file(jinja, &text, &length) : VKQ_OK;
    if (s == VKQ_OK && text)
        s = vkq_gguf_add_string(g, "tokenizer.chat_template", text);
    free(text);
    free(jinja);
    return s;
}

static vkq_status add_tokens(vkq_gguf *g, vocab *v)
{
    for (uint32_t id = 0; id < v->n; id++)
        VKQ_TRY(classify(v, id));
    for (uint32_t id = 0; id < v->n; id++)
        if (v->made_at[id])
            v->piece[id] = v->strings.data + v->made_at[id] - 1;
    VKQ_TRY(vkq_gguf_add_strings(g, "tokenizer.ggml.tokens", v->piece, v->n));
    return vkq_gguf_add_i32s(g, "tokenizer.ggml.token_type", v->type, v->n);
}

static vkq_status add_model(vkq_gguf *g, vocab *v)
{
    if (v->byte_level) {
        const char *pre;
        VKQ_TRY(byte_level_pre(v, &pre));
        VKQ_TRY(vkq_gguf_add_string(g, "tokenizer.ggml.model", "gpt2"));
        VKQ_TRY(vkq_gguf_add_string(g, "tokenizer.ggml.pre", pre));
        VKQ_TRY(add_tokens(g, v));
        return add_merges(g, v);
    }
    VKQ_TRY(vkq_gguf_add_string(g, "tokenizer.ggml.model", "llama"));
    VKQ_TRY(vkq_gguf_add_string(g, "tokenizer.ggml.pre", "default"));
    VKQ_TRY(add_tokens(g, v));
    VKQ_TRY(add_scores(g, v));
    return vkq_gguf_add_bool(g, "tokenizer.ggml.add_space_prefix", adds_space_prefix(v));
}

static vkq_status read_files(vocab *v)
{
    if (!file_exists(v->path))
        return vkq_fail(VKQ_ERR_IO, "%s: no tokenizer.json (a GGUF file carries its tokenizer)",
                        v->dir);
    VKQ_TRY(read_json(v->path, "a tokenizer.json", &v->json));
    if (file_exists(v->config_path))
        VKQ_TRY(read_json(v->config_path, "a tokenizer_config.json", &v->config));
    v->model = field(v->json, "model");
    if (!cJSON_IsObject(v->model))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: \"model\" must be an object", v->path);
    if (!merges_of(v))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: model.merges must be an array", v->path);
    return find_kind(v);
}

static vkq_status add_vocab(vkq_gguf *g, vocab *v, const vkq_hf_config *c)
{
    VKQ_TRY(read_files(v));
    v->piece = calloc(v->n, sizeof *v->piece);
    v->type = calloc(v->n, sizeof *v->type);
    v->added = calloc(v->n, 1);
    v->special = calloc(v->n, 1);
    v->made_at = calloc(v->n, sizeof *v->made_at);
    if (!v->piece || !v->type || !v->added || !v->special || !v->made_at)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    VKQ_TRY(read_vocab(v));
    VKQ_TRY(read_added(v));
    find_special_ids(v, c);
    find_added_specials(v);
    VKQ_TRY(add_model(g, v));
    VKQ_TRY(add_special(g, v));
    return add_chat_template(g, v);
}

vkq_status vkq_gguf_add_vocab(vkq_gguf *g, const char *dir, const vkq_hf_config *c)
{
    vocab v = {.dir = dir, .n = (uint32_t)c->vocab_size};
    v.path = vkq_st_join(dir, "tokenizer.json");
    v.config_path = vkq_st_join(dir, "tokenizer_config.json");
    vkq_status s = v.path && v.config_path
                       ? add_vocab(g, &v, c)
                       : vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
    cJSON_Delete(v.json);
    cJSON_Delete(v.config);
    free(v.path);
    free(v.config_path);
    free(v.piece);
    free(v.type);
    free(v.added);
    free(v.special);
    free(v.made_at);
    free(v.sorted);
    vkq_strbuf_free(&v.strings);
    return s;
}
