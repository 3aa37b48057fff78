/* UTF-8 validation. */
#ifndef VKQ_BASE_UTF8_H
#define VKQ_BASE_UTF8_H

#include <stddef.h>

/* 1 when text[0..length) is well-formed UTF-8: no overlong forms, surrogates or codepoints
 * past U+10FFFF. */
int vkq_utf8_valid(const char *text, size_t length);
/* The length of the well-formed UTF-8 character at s[0..length); 0 when the bytes there are
 * not one. */
size_t vkq_utf8_char_length(const char *s, size_t length);

#endif
