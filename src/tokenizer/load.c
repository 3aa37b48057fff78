/* Reading tok.bin into a vocabulary with a sorted index. The whole file is read first and
 * parsed from memory, so every length in it is checked against the bytes that really exist. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tokenizer/tokenizer_internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tok.bin is little-endian and is read with memcpy"
#endif

enum { TOKEN_HEADER_BYTES = 8 }; /* float32 score + int32 length */

typedef struct file_bytes {
    unsigned char *data;
    size_t size;
} file_bytes;

typedef struct cursor {
    const unsigned char *at;
    size_t left;
} cursor;

static vkq_status read_whole_file(const char *path, file_bytes *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    vkq_status status = VKQ_OK;
    if (fstat(fileno(f), &st) != 0)
        status = vkq_fail(VKQ_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        status = vkq_fail(VKQ_ERR_IO, "%s: not a regular file", path);
    else if ((unsigned long long)st.st_size > SIZE_MAX - 1)
        status = vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: too large to read", path);
    if (status == VKQ_OK) {
        out->size = (size_t)st.st_size;
        out->data = malloc(out->size + 1);
        if (!out->data)
            status = vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", path,
                              out->size);
        else if (fread(out->data, 1, out->size, f) != out->size)
            status = vkq_fail(VKQ_ERR_IO, "%s: read failed", path);
    }
    fclose(f);
    return status;
}

static int take(cursor *c, void *dst, size_t n)
{
    if (c->left < n)
        return 0;
    memcpy(dst, c->at, n);
    c->at += n;
    c->left -= n;
    return 1;
}

/* Copies one token's piece into the arena. */
static vkq_status parse_token(const char *path, cursor *c, uint32_t id, int32_t max_length,
                              char **arena, vkq_piece *out)
{
    int32_t length;
    if (!take(c, &out->score, sizeof out->score) || !take(c, &length, sizeof length))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: truncated inside the header of token %u", path, id);
    if (length < 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: token %u has a negative length %d", path, id,
                        (int)length);
    if ((size_t)length > c->left)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: truncated: token %u claims %d bytes, %zu remain",
                        path, id, (int)length, c->left);
    if (length > max_length)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: token %u has %d bytes, more than max_token_length %d",
                        path, id, (int)length, (int)max_length);
    if (memchr(c->at, '\0', (size_t)length))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: token %u contains a NUL byte", path, id);
    out->text = *arena;
    out->length = (uint32_t)length;
    take(c, *arena, (size_t)length);
    (*arena)[length] = '\0';
    *arena += length + 1;
    return VKQ_OK;
}

/* Each token takes at least TOKEN_HEADER_BYTES of the file, which bounds the allocation. */
static vkq_status parse_vocabulary(const char *path, const file_bytes *f, uint32_t vocab_size,
                                   vkq_tokenizer *t)
{
    cursor c = {f->data, f->size};
    int32_t max_length;
    if (!take(&c, &max_length, sizeof max_length))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: truncated: %zu bytes, no max_token_length header",
                        path, f->size);
    if (max_length < 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: not a tokenizer: negative max_token_length %d",
                        path, (int)max_length);
    if (c.left == 0 && vocab_size == 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: no tokens after the header", path);
    size_t capacity = c.left / TOKEN_HEADER_BYTES;
    if (vocab_size && vocab_size < capacity)
        capacity = vocab_size;
    if (capacity > INT32_MAX)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: too large for int32 token ids", path);
    t->pieces = calloc(capacity ? capacity : 1, sizeof *t->pieces);
    t->text_arena = malloc(c.left + 1);
    if (!t->pieces || !t->text_arena)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate the vocabulary", path);
    char *arena = t->text_arena;
    uint32_t n = 0;
    for (; vocab_size ? n < vocab_size : c.left > 0; n++) { /* vocab_size 0: up to the end */
        if (c.left == 0)
            return vkq_fail(VKQ_ERR_FORMAT, "%s: truncated: expected %u tokens, file ends after %u",
                            path, vocab_size, n);
        VKQ_TRY(parse_token(path, &c, n, max_length, &arena, &t->pieces[n]));
        if (t->pieces[n].length > t->max_piece_length)
            t->max_piece_length = t->pieces[n].length;
    }
    if (c.left > 0)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %zu bytes of trailing garbage after %u tokens", path,
                        c.left, n);
    t->vocab_size = n;
    return VKQ_OK;
}

static int compare_bytes(const char *a, size_t a_length, const char *b, size_t b_length)
{
    int c = memcmp(a, b, a_length < b_length ? a_length : b_length);
    if (c != 0)
        return c;
    return (a_length > b_length) - (a_length < b_length);
}

static int compare_sorted(const void *pa, const void *pb)
{
    const vkq_sorted_piece *a = pa, *b = pb;
    int c = compare_bytes(a->text, a->length, b->text, b->length);
    return c != 0 ? c : (a->id > b->id) - (a->id < b->id);
}

static vkq_status build_sorted_index(vkq_tokenizer *t)
{
    t->sorted = malloc(t->vocab_size * sizeof *t->sorted);
    if (!t->sorted)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate a vocabulary index of %u entries",
                        t->vocab_size);
    for (uint32_t i = 0; i < t->vocab_size; i++)
        t->sorted[i] = (vkq_sorted_piece){t->pieces[i].text, t->pieces[i].length, (int32_t)i};
    qsort(t->sorted, t->vocab_size, sizeof *t->sorted, compare_sorted);
    return VKQ_OK;
}

int32_t vkq_tokenizer_find(const vkq_tokenizer *t, const char *bytes, size_t length)
{
    size_t lo = 0, hi = t->vocab_size; /* the first entry >= bytes lies in [lo, hi] */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const vkq_sorted_piece *p = &t->sorted[mid];
        if (compare_bytes(p->text, p->length, bytes, length) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < t->vocab_size &&
        compare_bytes(t->sorted[lo].text, t->sorted[lo].length, bytes, length) == 0)
        return t->sorted[lo].id;
    return -1;
}

vkq_status vkq_tokenizer_load(const char *path, uint32_t vocab_size, vkq_tokenizer **out)
{
    if (!path || !out)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_tokenizer_load: NULL argument");
    *out = NULL;
    if (vocab_size > INT32_MAX)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: vocab_size %u does not fit token ids",
                        path, vocab_size);
    vkq_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate a tokenizer", path);
    for (int b = 0; b < 256; b++)
        t->byte_text[b][0] = (char)b;
    file_bytes f = {0};
    vkq_status status = read_whole_file(path, &f);
    if (status == VKQ_OK)
        status = parse_vocabulary(path, &f, vocab_size, t);
    if (status == VKQ_OK)
        status = build_sorted_index(t);
    free(f.data);
    if (status != VKQ_OK) {
        vkq_tokenizer_free(t);
        return status;
    }
    *out = t;
    return VKQ_OK;
}

void vkq_tokenizer_free(vkq_tokenizer *t)
{
    if (!t)
        return;
    free(t->pieces);
    free(t->sorted);
    free(t->text_arena);
    free(t);
}

uint32_t vkq_tokenizer_vocab_size(const vkq_tokenizer *t) { return t->vocab_size; }

const char *vkq_tokenizer_piece(const vkq_tokenizer *t, int32_t token)
{
    if (token < 0 || (uint32_t)token >= t->vocab_size)
        return NULL;
    return t->pieces[token].text;
}
