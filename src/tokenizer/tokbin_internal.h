/* The tok.bin implementation of the tokenizer interface. */
#ifndef VKQ_TOKBIN_INTERNAL_H
#define VKQ_TOKBIN_INTERNAL_H

#include "tokenizer/tokenizer_internal.h"

typedef struct vkq_piece {
    const char *text; /* NUL-terminated; pieces never contain NUL */
    uint32_t length;
    float score;
} vkq_piece;

/* One entry of the vocabulary sorted by piece bytes, for binary search. */
typedef struct vkq_sorted_piece {
    const char *text;
    uint32_t length;
    int32_t id;
} vkq_sorted_piece;

typedef struct vkq_tokbin {
    vkq_tokenizer base;
    uint32_t max_piece_length; /* of the pieces actually present */
    vkq_piece *pieces;         /* by id */
    vkq_sorted_piece *sorted;  /* by bytes, then id */
    char *text_arena;          /* the bytes of every piece */
    char byte_text[256][2];    /* what "<0xXX>" pieces decode to */
} vkq_tokbin;

/* The id of the piece equal to bytes[0..length), the lowest such id if several; -1 if none. */
int32_t vkq_tokbin_find(const vkq_tokbin *t, const char *bytes, size_t length);

vkq_status vkq_tokbin_encode(const vkq_tokenizer *t, const char *text, size_t length,
                             vkq_ids *out);

#endif
