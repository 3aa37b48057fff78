/* Reading text files, lines and JSON documents, with messages that point into the file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/data_internal.h"

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

vkq_status vkq_read_text_file(const char *path, char **text, size_t *length)
{
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return vkq_fail(VKQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    vkq_status status = read_open_file(path, f, text, length);
    fclose(f);
    if (status != VKQ_OK) {
        free(*text);
        *text = NULL;
        return status;
    }
    size_t mark = sizeof BYTE_ORDER_MARK - 1;
    if (*length >= mark && memcmp(*text, BYTE_ORDER_MARK, mark) == 0) {
        memmove(*text, *text + mark, *length - mark + 1);
        *length -= mark;
    }
    return VKQ_OK;
}

char *vkq_next_line(char **at, char *end, size_t *length)
{
    char *start = *at;
    if (start >= end)
        return NULL;
    char *newline = memchr(start, '\n', (size_t)(end - start));
    char *stop = newline ? newline : end;
    *at = newline ? newline + 1 : end;
    if (stop > start && stop[-1] == '\r')
        stop--;
    *stop = '\0';
    *length = (size_t)(stop - start);
    return start;
}

int vkq_is_blank(const char *line, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if (line[i] != ' ' && line[i] != '\t')
            return 0;
    return 1;
}

/* Fails with "PATH:LINE:COL: what" for the byte at, COL counting bytes from 1. */
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

vkq_status vkq_check_utf8(const vkq_field_ctx *c, const char *key, const char *text)
{
    if (!vkq_utf8_valid(text, strlen(text)))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: invalid UTF-8 in \"%s%s\"", c->where, c->prefix,
                        key);
    return VKQ_OK;
}

vkq_status vkq_get_string(const vkq_field_ctx *c, const cJSON *object, const char *key,
                          int required, char **out)
{
    *out = NULL;
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(object, key);
    if (!required && (!value || cJSON_IsNull(value)))
        return VKQ_OK;
    if (!value)
        return vkq_fail(VKQ_ERR_FORMAT, "%s: missing field \"%s%s\"", c->where, c->prefix,
                        key);
    if (!cJSON_IsString(value))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: field \"%s%s\" must be a string", c->where,
                        c->prefix, key);
    VKQ_TRY(vkq_check_utf8(c, key, value->valuestring));
    return vkq_copy_string(value->valuestring, out);
}

/* Times as numbers count seconds or milliseconds since 1970; above 2^53 a double is no longer
 * a whole number exactly. */
#define LARGEST_TIME 9007199254740992.0

vkq_status vkq_get_time(const vkq_field_ctx *c, const cJSON *object, const char *key,
                        char **out)
{
    *out = NULL;
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(object, key);
    if (!value || cJSON_IsNull(value))
        return VKQ_OK;
    if (cJSON_IsString(value)) {
        VKQ_TRY(vkq_check_utf8(c, key, value->valuestring));
        return vkq_copy_string(value->valuestring, out);
    }
    if (!cJSON_IsNumber(value))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: field \"%s%s\" must be a string or a number",
                        c->where, c->prefix, key);
    double t = value->valuedouble;
    if (!(t >= 0.0 && t <= LARGEST_TIME) || t != floor(t))
        return vkq_fail(VKQ_ERR_FORMAT,
                        "%s: field \"%s%s\" is %g: a time as a number must be a whole number of "
                        "seconds or milliseconds since 1970, from 0 to 2^53",
                        c->where, c->prefix, key, t);
    char text[24];
    snprintf(text, sizeof text, "%.0f", t);
    return vkq_copy_string(text, out);
}
