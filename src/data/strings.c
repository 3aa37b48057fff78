/* Growing strings and template-format scanning. */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

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

int vkq_format_next(const char **format, vkq_format_part *part)
{
    const char *at = *format;
    if (at[0] == '\0')
        return VKQ_FORMAT_END;
    if (at[0] == '{' && at[1] == '{') {
        *part = (vkq_format_part){at, 1, 0};
        *format = at + 2;
    } else if (at[0] == '{') {
        const char *close = strchr(at + 1, '}');
        if (!close)
            return VKQ_FORMAT_UNTERMINATED;
        *part = (vkq_format_part){at + 1, (size_t)(close - at - 1), 1};
        *format = close + 1;
    } else {
        size_t n = strcspn(at, "{");
        *part = (vkq_format_part){at, n, 0};
        *format = at + n;
    }
    return VKQ_FORMAT_PART;
}

int vkq_format_part_is(const vkq_format_part *part, const char *name)
{
    return part->is_placeholder && strlen(name) == part->length &&
           memcmp(part->text, name, part->length) == 0;
}
