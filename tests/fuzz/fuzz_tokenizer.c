/* Tokenizer files: tok.bin, or tokenizer.json when the input starts with '{' (the loader picks
 * by content). One that loads then encodes and decodes a text, which walks the merges, the
 * added tokens and the pieces the file defined. */
#include "fuzz.h"
#include "vkquill/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vkq_tokenizer *t = NULL;
    if (vkq_tokenizer_load(fuzz_file(0, data, size), 0, &t) != VKQ_OK)
        return 0;
    static const char text[] = "Once upon a time, caf\xC3\xA9 \xF0\x9F\x98\x80 \xFF<0x41>";
    int32_t tokens[sizeof text + 3];
    uint32_t count = 0;
    char back[4 * sizeof text];
    if (vkq_tokenizer_encode(t, text, 1, 1, tokens, sizeof text + 3, &count) == VKQ_OK)
        (void)vkq_tokenizer_decode_text(t, tokens, count, back, sizeof back, NULL);
    vkq_tokenizer_free(t);
    return 0;
}
