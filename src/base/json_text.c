#include "base/json_text.h"

#include <string.h>

#include "base/utf8.h"

static vkq_status check_text(const char *path, const char *what, const char *text, size_t length)
{
    if (!vkq_utf8_valid(text, length))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %s is not valid UTF-8", path, what);
    /* cJSON would stop at a NUL byte */
    if (length && memchr(text, '\0', length))
        return vkq_fail(VKQ_ERR_FORMAT, "%s: %s holds a NUL byte", path, what);
    return VKQ_OK;
}

vkq_status vkq_json_object_parse(const char *path, const char *what, const char *text,
                                 size_t length, cJSON **out)
{
    *out = NULL;
    VKQ_TRY(check_text(path, what, text, length));
    const char *end = text;
    cJSON *root = length ? cJSON_ParseWithLengthOpts(text, length, &end, 0) : NULL;
    vkq_status s = VKQ_OK;
    if (!root)
        s = vkq_fail(VKQ_ERR_FORMAT, "%s: %s is not valid JSON (at byte %zu)", path, what,
                     end ? (size_t)(end - text) : 0);
    for (const char *c = end; s == VKQ_OK && c < text + length; c++)
        if (!strchr(" \t\r\n", *c))
            s = vkq_fail(VKQ_ERR_FORMAT, "%s: %s has text after its JSON object (at byte %zu)",
                         path, what, (size_t)(c - text));
    if (s == VKQ_OK && !cJSON_IsObject(root))
        s = vkq_fail(VKQ_ERR_FORMAT, "%s: %s is not a JSON object", path, what);
    if (s != VKQ_OK)
        cJSON_Delete(root);
    else
        *out = root;
    return s;
}
