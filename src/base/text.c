/* Growing strings, UTF-8 validation, reading files, parsing JSON documents with messages that
 * point into the file, and user text made safe to quote in a message. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/text.h"

vkq_status vkq_strbuf_append(vkq_strbuf *b, const char *text, size_t length)
{
    if (length >= SIZE_MAX / 2 - b->length)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "a string of %zu + %zu bytes is too long",
                        b->length, length);
    size_t needed = b->length + length + 1;
    if (needed > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 64;
        while (capacity < needed)
            capacity *= 2;
        char *grown = realloc(b->data, capacity);
        if (!grown)
            return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot grow a string to %zu bytes",
                            capacity);
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->length, text, length);
    b->length += length;
    b->data[b->length] = '\0';
    return VKQ_OK;
}

vkq_status vkq_strbuf_append_str(vkq_strbuf *b, const char *text)
{
    return vkq_strbuf_append(b, text, strlen(text));
}

vkq_status vkq_strbuf_take(vkq_strbuf *b, char **out)
{
    if (!b->data)
        return vkq_copy_string("", out);
    *out = b->data;
    memset(b, 0, sizeof *b);
    return VKQ_OK;
}

void vkq_strbuf_free(vkq_strbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

vkq_status vkq_copy_string(const char *text, char **out)
{
    *out = strdup(text);
    if (!*out)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot copy a string of %zu bytes",
                        strlen(text));
    return VKQ_OK;
}

static const char BYTE_ORDER_MARK[] = "\xEF\xBB\xBF";

static vkq_status read_open_file(const char *path, FILE *f, char **text, size_t *length)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return vkq_fail(VKQ_ERR_IO, "%s: not a regular file", path);
    if ((unsigned long long)st.st_size > SIZE_MAX - 1)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: too large to read", path);
    *length = (size_t)st.st_size;
    *text = malloc(*length + 1);
    if (!*text)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", path, *length);
    if (fread(*text, 1, *length, f) != *length)
        return vkq_fail(VKQ_ERR_IO, "%s: read failed", path);
    (*text)[*length] = '\0';
    return VKQ_OK;
}

vkq_status vkq_read_file(const char *path, char **data, size_t *length)
{
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    vkq_status status = read_open_file(path, f, data, length);
    fclose(f);
    if (status != VKQ_OK) {
        free(*data);
        *data = NULL;
    }
    return status;
}

vkq_status vkq_read_text_file(const char *path, char **text, size_t *length)
{
    VKQ_TRY(vkq_read_file(path, text, length));
    size_t mark = sizeof BYTE_ORDER_MARK - 1;
    if (*length >= mark && memcmp(*text, BYTE_ORDER_MARK, mark) == 0) {
        memmove(*text, *text + mark, *length - mark + 1);
        *length -= mark;
    }
    return VKQ_OK;
}

static vkq_status fail_at(const char *path, uint32_t first_line, const char *text,
                          const char *at, const char *what)
{
    uint32_t line = first_line;
    const char *line_start = text;
    for (const char *c = text; c < at; c++)
        if (*c == '\n') {
            line++;
            line_start = c + 1;
        }
    return vkq_fail(VKQ_ERR_FORMAT, "%s:%u:%zu: %s", path, line,
                    (size_t)(at - line_start) + 1, what);
}

/* The first \u0000 escape (its backslash not itself escaped), or NULL. Outside strings a
 * backslash is malformed JSON anyway, so strings need not be tracked. */
static const char *nul_escape(const char *text, size_t length)
{
    static const char escape[] = "\\u0000";
    size_t n = sizeof escape - 1;
    for (size_t i = 0; i + n <= length; i++) {
        if (text[i] != '\\')
            continue;
        if (memcmp(text + i, escape, n) == 0)
            return text + i;
        i++; /* the escaped character, a backslash among them */
    }
    return NULL;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* A member name that occurs twice in one object of the tree, or NULL; *status is set when
 * memory runs out. Members are sorted by name, so a large object costs n log n. */
static const char *duplicate_name(const cJSON *item, vkq_status *status)
{
    size_t n = 0;
    for (const cJSON *c = item->child; c; c = c->next)
        n++;
    const cJSON **members = cJSON_IsObject(item) && n > 1 ? malloc(n * sizeof *members) : NULL;
    if (cJSON_IsObject(item) && n > 1 && !members) {
        *status = vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate %zu members", n);
        return NULL;
    }
    const char *found = NULL;
    if (members) {
        size_t i = 0;
        for (const cJSON *c = item->child; c; c = c->next)
            members[i++] = c;
        qsort(members, n, sizeof *members, by_name);
        for (i = 1; i < n && !found; i++)
            if (strcmp(members[i - 1]->string, members[i]->string) == 0)
                found = members[i]->string;
        free(members);
    }
    for (const cJSON *c = item->child; c && !found && *status == VKQ_OK; c = c->next)
        found = duplicate_name(c, status);
    return found;
}

static vkq_status check_unique_names(const char *path, uint32_t first_line, const char *text,
                                     size_t length, const cJSON *root)
{
    vkq_status status = VKQ_OK;
    const char *name = duplicate_name(root, &status);
    if (!name)
        return status;
    if (memchr(text, '\n', length))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: duplicate key \"%s\" in one object", path,
                        VKQ_QUOTE(name));
    return vkq_fail(VKQ_ERR_FORMAT, "%s:%u: duplicate key \"%s\" in one object", path,
                    first_line, VKQ_QUOTE(name));
}

vkq_status vkq_parse_json(const char *path, uint32_t first_line, const char *text,
                          size_t length, cJSON **out)
{
    *out = NULL;
    /* cJSON stops at a NUL byte and would take the text before it for the whole document */
    const char *nul = memchr(text, '\0', length);
    if (nul)
        return fail_at(path, first_line, text, nul, "NUL byte");
    const char *error_at = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &error_at, 1);
    if (!root)
        return fail_at(path, first_line, text, error_at ? error_at : text, "malformed JSON");
    const char *escape = nul_escape(text, length);
    vkq_status status = escape ? fail_at(path, first_line, text, escape,
                                         "\\u0000 (a NUL character) is not allowed in a string")
                               : check_unique_names(path, first_line, text, length, root);
    if (status != VKQ_OK) {
        cJSON_Delete(root);
        return status;
    }
    *out = root;
    return VKQ_OK;
}

/* How the character at text[0..n) is written: into piece, returning its length. */
static size_t escaped_char(const char *text, size_t n, int mode, char piece[8])
{
    unsigned char c = (unsigned char)text[0];
    if (n > 1) {
        memcpy(piece, text, n);
        return n;
    }
    const char *named = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
    if (mode == VKQ_ESCAPE_QUOTED && (c == '\\' || c == '"'))
        named = c == '\\' ? "\\\\" : "\\\"";
    if (named)
        return (size_t)snprintf(piece, 8, "%s", named);
    if (n == 0 || c < 0x20 || c == 0x7F)
        return (size_t)snprintf(piece, 8, "\\x%02X", c);
    piece[0] = (char)c;
    return 1;
}

const char *vkq_escape(const char *text, int mode, char *out, size_t size)
{
    static const char cut[] = "...";
    size_t at = 0, length = strlen(text);
    if (size == 0)
        return out;
    for (size_t i = 0; i < length;) {
        size_t n = vkq_utf8_char_length(text + i, length - i);
        char piece[8];
        size_t w = escaped_char(text + i, n, mode, piece);
        int last = i + (n ? n : 1) == length;
        /* room for this piece, the NUL, and "..." unless it is the last piece */
        if (at + w + 1 + (last ? 0 : sizeof cut - 1) > size) {
            if (at + sizeof cut <= size) {
                memcpy(out + at, cut, sizeof cut - 1);
                at += sizeof cut - 1;
            }
            break;
        }
        memcpy(out + at, piece, w);
        at += w;
        i += n ? n : 1;
    }
    out[at] = '\0';
    return out;
}
