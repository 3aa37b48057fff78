/* Growing strings, UTF-8 validation, reading files and parsing JSON documents with messages
 * that point into the file. */
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

vkq_status vkq_parse_json(const char *path, uint32_t first_line, const char *text,
                          size_t length, cJSON **out)
{
    /* cJSON stops at a NUL byte and would take the text before it for the whole document */
    const char *nul = memchr(text, '\0', length);
    if (nul)
        return fail_at(path, first_line, text, nul, "NUL byte");
    const char *error_at = NULL;
    *out = cJSON_ParseWithOpts(text, &error_at, 1);
    if (!*out)
        return fail_at(path, first_line, text, error_at ? error_at : text, "malformed JSON");
    return VKQ_OK;
}
