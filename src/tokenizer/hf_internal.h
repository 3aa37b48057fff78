/* The tokenizer.json implementation of the tokenizer interface (BPE models). */
#ifndef VKQ_HF_INTERNAL_H
#define VKQ_HF_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>

#include "tokenizer/tokenizer_internal.h"

typedef enum hf_normalizer_kind {
    HF_NFC,
    HF_NFD,
    HF_NFKC,
    HF_NFKD,
    HF_PREPEND, /* text before the whole section */
    HF_REPLACE  /* every `text` by `content` */
} hf_normalizer_kind;

typedef struct hf_normalizer {
    hf_normalizer_kind kind;
    const char *text, *content; /* inside the parsed tokenizer.json */
} hf_normalizer;

typedef enum hf_pretokenizer_kind { HF_SPLIT, HF_BYTE_LEVEL, HF_METASPACE } hf_pretokenizer_kind;

typedef struct hf_pretokenizer {
    hf_pretokenizer_kind kind;
    pcre2_code *regex;   /* Split's pattern; ByteLevel's GPT-2 pattern with use_regex */
    int removed;         /* Split: drop the matches and keep what lies between */
    int invert;          /* Split: keep only the matches */
    int add_prefix_space; /* ByteLevel */
    const char *replacement; /* Metaspace */
    int prepend_first_only;  /* Metaspace "first"; prepend is 0 for "never" */
    int prepend;
} hf_pretokenizer;

/* An added token; matched in text before the model runs. */
typedef struct hf_added {
    const char *content;
    char *normalized_content; /* content through the normalizers, for normalized tokens */
    size_t length;
    int32_t id;
    int special, lstrip, rstrip, normalized;
} hf_added;

enum { HF_MAX_NORMALIZERS = 8, HF_MAX_PRETOKENIZERS = 8 };

typedef struct hf_merge {
    int32_t pair[2]; /* the map's key */
    int32_t merged;
} hf_merge;

typedef struct hf_cache hf_cache;

/* Added tokens by first byte, longest first, for matching at a position. */
typedef struct hf_matcher {
    size_t *order;      /* indices into added */
    size_t begin[257];  /* order[begin[b] .. begin[b + 1]) start with byte b */
    int normalized;     /* matches normalized_content of normalized tokens */
} hf_matcher;

typedef struct vkq_hf {
    vkq_tokenizer base;
    cJSON *json;            /* the parsed file; strings point into it */
    const char *path;       /* for messages */
    char *path_copy;
    const char **piece;     /* by id; NULL in gaps */
    const char **decoded;   /* by id: the text decode gives */
    char *decoded_arena;
    uint8_t *is_added;      /* by id */
    vkq_str_map vocab;      /* piece -> id, added tokens included */
    hf_merge *merges;
    size_t n_merges;
    vkq_str_map merge_rank; /* the 8 bytes of a pair -> index into merges (its rank) */
    hf_added *added;
    size_t n_added;
    hf_normalizer normalizers[HF_MAX_NORMALIZERS];
    int n_normalizers;
    hf_pretokenizer pretokenizers[HF_MAX_PRETOKENIZERS];
    int n_pretokenizers;
    int32_t byte_token[256]; /* "<0xXX>" ids for byte fallback, -1 where absent */
    int byte_fallback, ignore_merges;
    int32_t unk;            /* -1: none */
    int strip_leading_space; /* decode drops the space encoding put at a section's start */
    size_t grow_mul, grow_add; /* normalized bytes <= mul * text bytes + add */
    size_t token_span;         /* text bytes one token stands for at most; 0: unbounded */
    hf_matcher raw_matcher, normalized_matcher;
    hf_cache *cache;
} vkq_hf;

/* tokenizer.json's normalizer and pre_tokenizer; errors name path. */
vkq_status vkq_hf_parse_normalizer(vkq_hf *t, const cJSON *node);
vkq_status vkq_hf_parse_pretokenizer(vkq_hf *t, const cJSON *node);
void vkq_hf_free_parts(vkq_hf *t);

/* Applies the normalizers to text[0..length): a malloc'd, NUL-terminated string. */
vkq_status vkq_hf_normalize(const vkq_hf *t, const char *text, size_t length, char **out,
                            size_t *out_length);

/* Appends NUL-terminated text with every `from` replaced by `to`. */
struct vkq_strbuf;
vkq_status vkq_hf_append_replaced(struct vkq_strbuf *b, const char *text, const char *from,
                                  const char *to);

/* Pieces of text between pre-tokenizers: spans into one buffer. */
typedef struct hf_pieces {
    char *text;
    size_t length;
    size_t *start, *end;
    size_t count, capacity;
} hf_pieces;

vkq_status vkq_hf_pieces_add(hf_pieces *p, size_t start, size_t end);
void vkq_hf_pieces_free(hf_pieces *p);
/* Runs the pre-tokenizers over p (which starts as one piece: the section). */
vkq_status vkq_hf_pretokenize(const vkq_hf *t, int section_index, hf_pieces *p);

/* tokenizer_config.json beside path, when there: BOS, EOS and the chat template. */
vkq_status vkq_hf_load_config(vkq_hf *t, const char *path);

vkq_status vkq_hf_encode(const vkq_tokenizer *t, const char *text, size_t length, vkq_ids *out);
vkq_status vkq_hf_cache_new(hf_cache **out);
/* After the normalizers are known: the normalized contents and both matchers. */
vkq_status vkq_hf_prepare_added(vkq_hf *t);
void vkq_hf_cache_free(hf_cache *c);

/* The codepoint ByteLevel maps a byte to, and back: the byte the character at s stands for
 * (its length in *n), -1 for a character that stands for none. */
uint32_t vkq_hf_byte_char(unsigned byte);
int vkq_hf_char_byte(const char *s, size_t *n);

/* Python's str.isspace for the codepoint at s (its length in *n), as JS trim sees it too. */
int vkq_hf_is_space(const char *s, size_t left, size_t *n);

#endif
