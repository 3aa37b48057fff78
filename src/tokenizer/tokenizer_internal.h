/* The tokenizer interface and what its implementations share. */
#ifndef VKQ_TOKENIZER_INTERNAL_H
#define VKQ_TOKENIZER_INTERNAL_H

#include "base/status_internal.h"
#include "vkquill/tokenizer.h"

/* A growing array of token ids. */
typedef struct vkq_ids {
    int32_t *id;
    size_t count, capacity;
} vkq_ids;

vkq_status vkq_ids_reserve(vkq_ids *v, size_t extra);
vkq_status vkq_ids_push(vkq_ids *v, int32_t id);
void vkq_ids_free(vkq_ids *v);

typedef struct vkq_tokenizer_ops {
    /* Appends the encoding of text[0..length) (no BOS or EOS) to out. */
    vkq_status (*encode)(const vkq_tokenizer *t, const char *text, size_t length, vkq_ids *out);
    const char *(*decode)(const vkq_tokenizer *t, int32_t prev_token, int32_t token);
    const char *(*piece)(const vkq_tokenizer *t, int32_t token);
    /* The id of the piece text[0..length), -1 if none. */
    int32_t (*find)(const vkq_tokenizer *t, const char *text, size_t length);
    /* The most and the fewest tokens text of length bytes can give, BOS and EOS not counted. */
    size_t (*max_tokens)(const vkq_tokenizer *t, size_t length);
    size_t (*min_tokens)(const vkq_tokenizer *t, size_t length);
    void (*destroy)(vkq_tokenizer *t);
} vkq_tokenizer_ops;

/* The part every implementation starts with. */
struct vkq_tokenizer {
    const vkq_tokenizer_ops *ops;
    uint32_t vocab_size;
    int32_t bos, eos;        /* -1: none */
    int32_t start_prev;      /* the prev_token of a text's first token for decode */
    char *chat_template;     /* from tokenizer_config.json, NULL without */
    int32_t chat_end;        /* the end of turn of the chat template's format, -1: none */
};

/* Sets chat_end from the chat template. */
void vkq_chat_note_turn_end(vkq_tokenizer *t);

/* The byte a "<0xXX>" piece stands for, or -1 for any other piece. */
int vkq_byte_piece_value(const char *piece);

vkq_status vkq_tokbin_load(const char *path, uint32_t vocab_size, vkq_tokenizer **out);
vkq_status vkq_hf_load(const char *path, uint32_t vocab_size, vkq_tokenizer **out);

/* BPE over token ids, shared by both formats: while some adjacent pair merges, merge the pair
 * that comes first by (higher score, further left). pair() gives the merged id and its score,
 * or -1 where the two do not merge. The scratch arrays grow as needed and may be reused. */
typedef int32_t (*vkq_bpe_pair_fn)(const void *model, int32_t left, int32_t right, float *score);

typedef struct vkq_bpe_work vkq_bpe_work;
vkq_bpe_work *vkq_bpe_work_new(void);
void vkq_bpe_work_free(vkq_bpe_work *w);
/* Merges ids[0..*count) in place; *count shrinks to the merged length. */
vkq_status vkq_bpe_merge(vkq_bpe_work *w, const void *model, vkq_bpe_pair_fn pair,
                         int32_t *ids, uint32_t *count);

/* A map from byte strings to ids (open addressing; keys are not copied). */
typedef struct vkq_str_map {
    struct vkq_str_slot *slot;
    size_t capacity, count;
} vkq_str_map;

vkq_status vkq_str_map_init(vkq_str_map *m, size_t expected);
/* Sets key -> id; *previous receives the id key had, -1 if it was absent. */
vkq_status vkq_str_map_put(vkq_str_map *m, const char *key, size_t length, int32_t id,
                           int32_t *previous);
int32_t vkq_str_map_get(const vkq_str_map *m, const char *key, size_t length); /* -1 if absent */
void vkq_str_map_clear(vkq_str_map *m);
void vkq_str_map_free(vkq_str_map *m);

uint64_t vkq_hash_bytes(const void *data, size_t length);

#endif
