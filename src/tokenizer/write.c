#include <stdio.h>
#include <string.h>

#include "base/file.h"
#include "vkquill/tokenizer.h"

/* <unk>, <s>, </s>, then the 256 byte pieces <0x00> .. <0xFF>, every score 0: nothing merges,
 * so text encodes to its bytes. */
static vkq_status write_byte_level(const char *path, FILE *f, void *user)
{
    (void)user;
    int32_t max_length = 6;
    VKQ_TRY(vkq_write_bytes(path, f, &max_length, sizeof max_length, 1));
    char piece[8];
    for (int id = 0; id < VKQ_BYTE_TOKENIZER_VOCAB; id++) {
        if (id < 3)
            snprintf(piece, sizeof piece, "%s", id == 0 ? "<unk>" : id == 1 ? "<s>" : "</s>");
        else
            snprintf(piece, sizeof piece, "<0x%02X>", id - 3);
        float score = 0.0f;
        int32_t length = (int32_t)strlen(piece);
        VKQ_TRY(vkq_write_bytes(path, f, &score, sizeof score, 1));
        VKQ_TRY(vkq_write_bytes(path, f, &length, sizeof length, 1));
        VKQ_TRY(vkq_write_bytes(path, f, piece, 1, (size_t)length));
    }
    return VKQ_OK;
}

vkq_status vkq_tokenizer_write_byte_level(const char *path)
{
    return vkq_write_atomic(path, write_byte_level, NULL);
}
