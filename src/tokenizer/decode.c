#include <string.h>

#include "tokenizer/tokenizer_internal.h"

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The byte a "<0xXX>" piece stands for, or -1 for any other piece. */
static int byte_of_piece(const char *piece)
{
    if (strlen(piece) != 6 || strncmp(piece, "<0x", 3) != 0 || piece[5] != '>')
        return -1;
    int high = hex_digit(piece[3]), low = hex_digit(piece[4]);
    return high < 0 || low < 0 ? -1 : high * 16 + low;
}

const char *vkq_tokenizer_decode(const vkq_tokenizer *t, int32_t prev_token, int32_t token)
{
    const char *piece = vkq_tokenizer_piece(t, token);
    if (!piece)
        return NULL;
    if (prev_token == VKQ_TOKEN_BOS && piece[0] == ' ')
        piece++;
    int byte = byte_of_piece(piece);
    return byte < 0 ? piece : t->byte_text[byte];
}

vkq_status vkq_tokenizer_decode_text(const vkq_tokenizer *t, const int32_t *tokens,
                                     uint32_t count, char *text, size_t capacity,
                                     size_t *length)
{
    if (!t || (count > 0 && !tokens) || (capacity > 0 && !text))
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_tokenizer_decode_text: NULL argument");
    size_t used = 0;
    int32_t prev = VKQ_TOKEN_BOS;
    for (uint32_t i = 0; i < count; prev = tokens[i++]) {
        const char *piece = vkq_tokenizer_decode(t, prev, tokens[i]);
        if (!piece)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                            "token %d at position %u is outside the vocabulary of %u",
                            (int)tokens[i], i, t->vocab_size);
        if (tokens[i] == VKQ_TOKEN_BOS || tokens[i] == VKQ_TOKEN_EOS)
            continue;
        size_t n = strlen(piece);
        if (used + n < capacity)
            memcpy(text + used, piece, n);
        used += n;
    }
    if (length)
        *length = used;
    if (used >= capacity) {
        if (capacity > 0)
            text[0] = '\0';
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "the decoded text needs %zu bytes with its terminator, the buffer holds %zu",
                        used + 1, capacity);
    }
    text[used] = '\0';
    return VKQ_OK;
}
