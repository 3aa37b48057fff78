/* The tokenizer interface: loading by file type, and what every implementation shares. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokenizer/tokenizer_internal.h"

vkq_status vkq_ids_reserve(vkq_ids *v, size_t extra)
{
    if (extra > SIZE_MAX / sizeof *v->id / 2 - v->count)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot hold %zu more tokens", extra);
    size_t needed = v->count + extra;
    if (needed <= v->capacity)
        return VKQ_OK;
    size_t capacity = v->capacity ? v->capacity : 64;
    while (capacity < needed)
        capacity *= 2;
    int32_t *grown = realloc(v->id, capacity * sizeof *grown);
    if (!grown)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot hold %zu tokens", capacity);
    v->id = grown;
    v->capacity = capacity;
    return VKQ_OK;
}

vkq_status vkq_ids_push(vkq_ids *v, int32_t id)
{
    if (v->count == v->capacity)
        VKQ_TRY(vkq_ids_reserve(v, 1));
    v->id[v->count++] = id;
    return VKQ_OK;
}

void vkq_ids_free(vkq_ids *v)
{
    free(v->id);
    memset(v, 0, sizeof *v);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int vkq_byte_piece_value(const char *piece)
{
    if (strlen(piece) != 6 || strncmp(piece, "<0x", 3) != 0 || piece[5] != '>')
        return -1;
    int high = hex_digit(piece[3]), low = hex_digit(piece[4]);
    return high < 0 || low < 0 ? -1 : high * 16 + low;
}

/* A tokenizer.json: a directory (holding one), or a file that starts like a JSON object. */
static vkq_status is_json_tokenizer(const char *path, int *is_json, int *is_dir)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    *is_dir = S_ISDIR(st.st_mode);
    *is_json = *is_dir;
    if (*is_dir)
        return VKQ_OK;
    FILE *f = fopen(path, "rb");
    if (!f)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int c;
    while ((c = fgetc(f)) == ' ' || c == '\t' || c == '\n' || c == '\r')
        ;
    fclose(f);
    *is_json = c == '{';
    return VKQ_OK;
}

vkq_status vkq_tokenizer_load(const char *path, uint32_t vocab_size, vkq_tokenizer **out)
{
    if (!path || !out)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_tokenizer_load: NULL argument");
    *out = NULL;
    if (vocab_size > INT32_MAX)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: vocab_size %u does not fit token ids",
                        path, vocab_size);
    int is_json = 0, is_dir = 0;
    VKQ_TRY(is_json_tokenizer(path, &is_json, &is_dir));
    if (!is_dir)
        return is_json ? vkq_hf_load(path, vocab_size, out)
                       : vkq_tokbin_load(path, vocab_size, out);
    size_t length = strlen(path);
    char *file = malloc(length + sizeof "/tokenizer.json");
    if (!file)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a path", path);
    snprintf(file, length + sizeof "/tokenizer.json", "%s/tokenizer.json", path);
    vkq_status status = access(file, F_OK) == 0
                            ? vkq_hf_load(file, vocab_size, out)
                            : vkq_fail(VKQ_ERR_IO, "%s: a directory without a tokenizer.json",
                                       path);
    free(file);
    return status;
}

void vkq_tokenizer_free(vkq_tokenizer *t)
{
    if (!t)
        return;
    t->ops->destroy(t);
}

uint32_t vkq_tokenizer_vocab_size(const vkq_tokenizer *t) { return t->vocab_size; }
int32_t vkq_tokenizer_bos(const vkq_tokenizer *t) { return t->bos; }
int32_t vkq_tokenizer_eos(const vkq_tokenizer *t) { return t->eos; }

const char *vkq_tokenizer_piece(const vkq_tokenizer *t, int32_t token)
{
    return t->ops->piece(t, token);
}

size_t vkq_tokenizer_min_tokens(const vkq_tokenizer *t, size_t length)
{
    return t->ops->min_tokens(t, length);
}

size_t vkq_tokenizer_max_tokens(const vkq_tokenizer *t, size_t length)
{
    return t->ops->max_tokens(t, length) + 2;
}

static vkq_status check_special(const vkq_tokenizer *t, const char *name, int32_t id)
{
    if (id >= 0 && (uint32_t)id >= t->vocab_size)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "a vocabulary of %u has no %s token",
                        t->vocab_size, name);
    return VKQ_OK;
}

static vkq_status encode_all(const vkq_tokenizer *t, const char *text, int bos, int eos,
                             vkq_ids *ids)
{
    if (bos)
        VKQ_TRY(check_special(t, "BOS", t->bos));
    if (eos)
        VKQ_TRY(check_special(t, "EOS", t->eos));
    if (bos && t->bos >= 0)
        VKQ_TRY(vkq_ids_push(ids, t->bos));
    VKQ_TRY(t->ops->encode(t, text, strlen(text), ids));
    if (eos && t->eos >= 0)
        VKQ_TRY(vkq_ids_push(ids, t->eos));
    return VKQ_OK;
}

vkq_status vkq_tokenizer_encode(const vkq_tokenizer *t, const char *text, int bos, int eos,
                                int32_t *tokens, uint32_t max_tokens, uint32_t *count)
{
    if (!t || !text || !count || (max_tokens > 0 && !tokens))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_tokenizer_encode: NULL argument");
    size_t length = strlen(text);
    if (length > INT32_MAX - 3)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "cannot encode %zu bytes of text at once",
                        length);
    vkq_ids ids = {0};
    vkq_status status = encode_all(t, text, bos, eos, &ids);
    if (status == VKQ_OK) {
        *count = (uint32_t)ids.count;
        if (ids.count > max_tokens)
            status = vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                              "the encoding has %zu tokens, the buffer holds %u", ids.count,
                              max_tokens);
        else if (ids.count > 0)
            memcpy(tokens, ids.id, ids.count * sizeof *tokens);
    }
    vkq_ids_free(&ids);
    return status;
}

const char *vkq_tokenizer_decode(const vkq_tokenizer *t, int32_t prev_token, int32_t token)
{
    return t->ops->decode(t, prev_token, token);
}

static vkq_status decode(const vkq_tokenizer *t, const int32_t *tokens, uint32_t count,
                         int keep_bos_eos, char *text, size_t capacity, size_t *length)
{
    if (!t || (count > 0 && !tokens) || (capacity > 0 && !text))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_tokenizer_decode_text: NULL argument");
    size_t used = 0;
    int32_t prev = t->start_prev;
    for (uint32_t i = 0; i < count; prev = tokens[i++]) {
        const char *piece = vkq_tokenizer_decode(t, prev, tokens[i]);
        if (!piece)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                            "token %d at position %u is outside the vocabulary of %u",
                            (int)tokens[i], i, t->vocab_size);
        if (!keep_bos_eos && (tokens[i] == t->bos || tokens[i] == t->eos))
            continue;
        size_t n = strlen(piece);
        if (used + n < capacity)
            memcpy(text + used, piece, n);
        used += n;
    }
    if (length)
        *length = used;
    if (used >= capacity) {
        if (capacity > 0)
            text[0] = '\0';
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "the decoded text needs %zu bytes with its terminator, the buffer holds %zu",
                        used + 1, capacity);
    }
    text[used] = '\0';
    return VKQ_OK;
}

vkq_status vkq_tokenizer_decode_text(const vkq_tokenizer *t, const int32_t *tokens,
                                     uint32_t count, char *text, size_t capacity,
                                     size_t *length)
{
    return decode(t, tokens, count, 0, text, capacity, length);
}

vkq_status vkq_tokenizer_decode_all(const vkq_tokenizer *t, const int32_t *tokens,
                                    uint32_t count, char *text, size_t capacity, size_t *length)
{
    return decode(t, tokens, count, 1, text, capacity, length);
}
