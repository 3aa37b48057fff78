/* The llama2.c tokenizer (tok.bin): SentencePiece-style BPE with byte fallback. Encoding and
 * decoding give the same tokens and text as llama2.c's run.c. */
#ifndef VKQUILL_TOKENIZER_H
#define VKQUILL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "vkquill/status.h"

enum {
    VKQ_TOKEN_UNK = 0,
    VKQ_TOKEN_BOS = 1,
    VKQ_TOKEN_EOS = 2,
    VKQ_TOKEN_FIRST_BYTE = 3 /* ids 3..258 are the bytes 0x00..0xFF ("<0x00>".."<0xFF>") */
};

typedef struct vkq_tokenizer vkq_tokenizer;

/* Loads a tok.bin file: int32 max_token_length, then per token a float32 score, an int32
 * length and that many bytes. vocab_size 0 reads tokens up to the end of the file; any other
 * value requires the file to hold exactly that many tokens. */
vkq_status vkq_tokenizer_load(const char *path, uint32_t vocab_size, vkq_tokenizer **out);
void vkq_tokenizer_free(vkq_tokenizer *t);

uint32_t vkq_tokenizer_vocab_size(const vkq_tokenizer *t);
/* The piece stored for a token, e.g. " the" or "<0x0A>"; NULL for an id outside the vocabulary. */
const char *vkq_tokenizer_piece(const vkq_tokenizer *t, int32_t token);

/* Encodes NUL-terminated text (UTF-8; invalid sequences fall back to byte tokens), with BOS
 * first when bos is non-zero and EOS last when eos is non-zero. *count receives the number of
 * tokens of the encoding; when that exceeds max_tokens nothing is written and the call fails,
 * so max_tokens 0 asks for the size. strlen(text) + 3 tokens always suffice. */
vkq_status vkq_tokenizer_encode(const vkq_tokenizer *t, const char *text, int bos, int eos,
                                int32_t *tokens, uint32_t max_tokens, uint32_t *count);

/* The text of `token` when it follows `prev_token`: a piece after BOS loses its leading space,
 * and "<0xXX>" pieces become that raw byte (0x00 gives ""). NULL for an id outside the
 * vocabulary. The string lives as long as the tokenizer. */
const char *vkq_tokenizer_decode(const vkq_tokenizer *t, int32_t prev_token, int32_t token);

/* Decodes a token array into text as a NUL-terminated string, each token with
 * vkq_tokenizer_decode after its predecessor; the first token is decoded as if BOS preceded it,
 * and BOS and EOS themselves give no text, so decoding an encoding returns the original text.
 * *length (if not NULL) receives the text's length without the terminator, also when the
 * buffer is too small and the call fails. */
vkq_status vkq_tokenizer_decode_text(const vkq_tokenizer *t, const int32_t *tokens,
                                     uint32_t count, char *text, size_t capacity,
                                     size_t *length);

/* Writes a byte-level tok.bin (the three special tokens and the 256 byte tokens, no merges):
 * a tokenizer for models trained from scratch, e.g. on the synthetic benchmark. */
enum { VKQ_BYTE_TOKENIZER_VOCAB = 259 };
vkq_status vkq_tokenizer_write_byte_level(const char *path);

#endif
