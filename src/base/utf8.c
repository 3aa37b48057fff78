#include "base/utf8.h"

#include <stdint.h>

/* The length of the sequence a lead byte starts, with its payload bits and the smallest
 * codepoint that needs that length (anything below is an overlong encoding); 0 if the byte
 * cannot start a sequence. */
static size_t sequence_length(unsigned char lead, uint32_t *bits, uint32_t *smallest)
{
    if (lead < 0x80) {
        *bits = lead;
        *smallest = 0;
        return 1;
    }
    if ((lead & 0xE0) == 0xC0) {
        *bits = lead & 0x1F;
        *smallest = 0x80;
        return 2;
    }
    if ((lead & 0xF0) == 0xE0) {
        *bits = lead & 0x0F;
        *smallest = 0x800;
        return 3;
    }
    if ((lead & 0xF8) == 0xF0) {
        *bits = lead & 0x07;
        *smallest = 0x10000;
        return 4;
    }
    return 0;
}

int vkq_utf8_valid(const char *text, size_t length)
{
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < length;) {
        uint32_t codepoint, smallest;
        size_t n = sequence_length(s[i], &codepoint, &smallest);
        if (n == 0 || n > length - i)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            codepoint = codepoint << 6 | (s[i + k] & 0x3F);
        }
        int surrogate = codepoint >= 0xD800 && codepoint <= 0xDFFF;
        if (codepoint < smallest || codepoint > 0x10FFFF || surrogate)
            return 0;
        i += n;
    }
    return 1;
}
