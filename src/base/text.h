/* Growing strings, UTF-8, whole files, JSON documents and user text quoted in messages. */
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
 * lines from first_line. Refused besides malformed JSON: NUL bytes, a \u0000 escape (it would
 * cut its string short) and an object with two members of one name. */
vkq_status vkq_parse_json(const char *path, uint32_t first_line, const char *text,
                          size_t length, cJSON **out);

/* Copies text into out[size] so that it prints as one unambiguous line: control characters
 * become \n, \r, \t or \xNN, bytes that are not UTF-8 become \xNN and, when quoting, "\" and
 * '"' get a backslash. Text that does not fit is cut and ends in "...". Returns out. */
enum { VKQ_ESCAPE_LINE = 0, VKQ_ESCAPE_QUOTED = 1 };
const char *vkq_escape(const char *text, int mode, char *out, size_t size);

/* For quoting a user string in a message: vkq_fail(..., "unknown option '%s'",
 * VKQ_QUOTE(key)); the text lives until the end of the enclosing statement. */
typedef struct vkq_quoted {
    char text[96];
} vkq_quoted;
#define VKQ_QUOTE(s) (vkq_escape((s), VKQ_ESCAPE_QUOTED, (vkq_quoted){{0}}.text, sizeof(vkq_quoted)))

#endif
