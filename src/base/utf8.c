#include "base/utf8.h"

#include <stdint.h>

/* The length of the sequence a lead byte starts, its payload bits and the smallest codepoint
 * that needs that length (anything below is overlong); 0 if the byte cannot start one. */
static size_t sequence_length(unsigned char lead, uint32_t *bits, uint32_t *smallest)
{
    static const struct {
        unsigned char mask, value, payload;
        uint32_t smallest;
    } forms[] = {{0x80, 0x00, 0x7F, 0}, {0xE0, 0xC0, 0x1F, 0x80}, {0xF0, 0xE0, 0x0F, 0x800},
                 {0xF8, 0xF0, 0x07, 0x10000}};
    for (size_t n = 0; n < sizeof forms / sizeof forms[0]; n++)
        if ((lead & forms[n].mask) == forms[n].value) {
            *bits = lead & forms[n].payload;
            *smallest = forms[n].smallest;
            return n + 1;
        }
    return 0;
}

size_t vkq_utf8_char_length(const char *text, size_t length)
{
    const unsigned char *s = (const unsigned char *)text;
    uint32_t codepoint, smallest;
    size_t n = length ? sequence_length(s[0], &codepoint, &smallest) : 0;
    if (n == 0 || n > length)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        codepoint = codepoint << 6 | (s[k] & 0x3F);
    }
    int surrogate = codepoint >= 0xD800 && codepoint <= 0xDFFF;
    return codepoint < smallest || codepoint > 0x10FFFF || surrogate ? 0 : n;
}

int vkq_utf8_valid(const char *text, size_t length)
{
    for (size_t i = 0, n; i < length; i += n)
        if ((n = vkq_utf8_char_length(text + i, length - i)) == 0)
            return 0;
    return 1;
}
