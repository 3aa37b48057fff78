/* JSON documents that must be one object, read from untrusted bytes. */
#ifndef VKQ_BASE_JSON_TEXT_H
#define VKQ_BASE_JSON_TEXT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/status_internal.h"

/* Parses text[0..length) (not NUL-terminated) as a JSON object with nothing but whitespace
 * after it; the text must be UTF-8 without NUL bytes. Messages read "path: what is ...".
 * On failure *out is NULL. */
vkq_status vkq_json_object_parse(const char *path, const char *what, const char *text,
                                 size_t length, cJSON **out);

#endif
