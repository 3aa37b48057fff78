/* Template-format scanning. */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

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
