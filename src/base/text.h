/* Growing strings, UTF-8, whole files and JSON documents. */
#ifndef VKQ_BASE_TEXT_H
#define VKQ_BASE_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/status_internal.h"
#include "base/utf8.h"

/* A growing NUL-terminated string; a zeroed one is empty. */
typedef struct vkq_strbuf {
    char *data;
    size_t length, capacity;
} vkq_strbuf;

vkq_status vkq_strbuf_append(vkq_strbuf *b, const char *text, size_t length);
vkq_status vkq_strbuf_append_str(vkq_strbuf *b, const char *text);
/* Hands the string over (never NULL, "" when empty) and leaves b empty. */
vkq_status vkq_strbuf_take(vkq_strbuf *b, char **out);
void vkq_strbuf_free(vkq_strbuf *b);

vkq_status vkq_copy_string(const char *text, char **out);

/* The whole file, NUL-terminated (it may hold NUL bytes of its own). */
vkq_status vkq_read_file(const char *path, char **data, size_t *length);
/* The same without a leading UTF-8 byte-order mark. */
vkq_status vkq_read_text_file(const char *path, char **text, size_t *length);

/* Parses text[0..length) as one JSON document; errors read "PATH:LINE:COL: ..." counting
 * lines from first_line. */
vkq_status vkq_parse_json(const char *path, uint32_t first_line, const char *text,
                          size_t length, cJSON **out);

#endif
