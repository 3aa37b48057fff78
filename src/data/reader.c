/* Lines of text files and fields of JSON documents, with messages that point into the file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

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
