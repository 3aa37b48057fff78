/* Helpers shared by the dataset readers, templates and pairs. */
#ifndef VKQ_DATA_INTERNAL_H
#define VKQ_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/text.h"
#include "vkquill/data.h"

/* A template format split into parts: literal text or a {placeholder} name. */
typedef struct vkq_format_part {
    const char *text;
    size_t length;
    int is_placeholder;
} vkq_format_part;

enum { VKQ_FORMAT_END = 0, VKQ_FORMAT_PART = 1, VKQ_FORMAT_UNTERMINATED = -1 };
/* Takes the next part off *format; "{{" is the literal "{". */
int vkq_format_next(const char **format, vkq_format_part *part);
int vkq_format_part_is(const vkq_format_part *part, const char *name);

/* Splits the next line off [*at, end), where *end is the text's terminating NUL: cuts it at
 * its "\n" (and a "\r" before it) with a NUL and returns its start and length; NULL at the
 * end. */
char *vkq_next_line(char **at, char *end, size_t *length);
int vkq_is_blank(const char *line, size_t length); /* nothing but spaces and tabs */

/* Field access with messages "WHERE: missing field \"PREFIXkey\"" and the like: prefix names
 * the enclosing value, e.g. "history[2].". An absent optional field gives NULL. */
typedef struct vkq_field_ctx {
    const char *where;
    const char *prefix;
} vkq_field_ctx;

vkq_status vkq_get_string(const vkq_field_ctx *c, const cJSON *object, const char *key,
                          int required, char **out);
vkq_status vkq_check_utf8(const vkq_field_ctx *c, const char *key, const char *text);
/* An optional time: a string as it is, or a whole number of seconds or milliseconds since 1970
 * (0 to 2^53) as its decimal digits; anything else is an error naming the field. */
vkq_status vkq_get_time(const vkq_field_ctx *c, const cJSON *object, const char *key,
                        char **out);

/* Dataset assembly. vkq_dataset_add moves s into the dataset when it was read well
 * (read_status VKQ_OK); with skip_bad, a sample with a format error is counted as skipped
 * instead of failing. It clears s either way. Finishing fails when no sample is there. */
vkq_status vkq_dataset_add(vkq_dataset *d, vkq_status read_status, vkq_sample *s, int skip_bad);
void vkq_sample_clear(vkq_sample *s);
vkq_status vkq_dataset_finish(vkq_dataset *d, const char *path);

/* Writes o to f as one JSON line and frees it; a NULL o (or one cJSON could not print) ran
 * out of memory. */
vkq_status vkq_write_json_line(const char *path, FILE *f, cJSON *o);

/* For pair.c: checking a template's placeholders (errors start with source), and rendering
 * the system text, and the prompt field for a sample with its first n_history history items
 * (the user turn of a chat). */
vkq_status vkq_template_check(const vkq_template *t, const char *source);
vkq_status vkq_template_render_system(const vkq_template *t, vkq_strbuf *out);
vkq_status vkq_template_render_user(const vkq_template *t, const char *input,
                                    const vkq_history_item *history, uint32_t n_history,
                                    vkq_strbuf *out);

#endif
