/* Tokenizers behind one interface, each file format its own implementation:
 *   tok.bin         llama2.c's SentencePiece-style BPE with byte fallback; encoding and
 *                   decoding give the same tokens and text as llama2.c's run.c.
 *   tokenizer.json  Hugging Face tokenizers' BPE models: byte-level BPE (GPT-2, Llama 3,
 *                   Qwen2/2.5/3, SmolLM) and SentencePiece-style BPE (Llama 2, Mistral), with
 *                   added and special tokens, encoding as Hugging Face's tokenizers.js does
 *                   with add_special_tokens false. tokenizer_config.json beside it, when
 *                   present, gives the BOS and EOS tokens and the chat template.
 * A tokenizer is read-only after loading, except for a cache of word encodings that makes
 * encoding with one tokenizer from several threads at once unsafe. */
#ifndef VKQUILL_TOKENIZER_H
#define VKQUILL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "vkquill/status.h"

/* The fixed ids of a tok.bin vocabulary. */
enum {
    VKQ_TOKEN_UNK = 0,
    VKQ_TOKEN_BOS = 1,
    VKQ_TOKEN_EOS = 2,
    VKQ_TOKEN_FIRST_BYTE = 3 /* ids 3..258 are the bytes 0x00..0xFF ("<0x00>".."<0xFF>") */
};

typedef struct vkq_tokenizer vkq_tokenizer;

/* Loads a tokenizer, chosen by the file: a directory means its tokenizer.json; a file whose
 * first non-blank byte is '{' is a tokenizer.json (its tokenizer_config.json is read from the
 * same directory when there); anything else is a tok.bin.
 *
 * tok.bin: int32 max_token_length, then per token a float32 score, an int32 length and that
 * many bytes. vocab_size 0 reads tokens up to the end of the file; any other value requires
 * the file to hold exactly that many tokens.
 * tokenizer.json: vocab_size 0 accepts any size; any other value requires every token id to be
 * below it (a model's embedding table may have more rows than the tokenizer has tokens).
 * Every malformed file fails with one line naming the file and what is wrong. */
vkq_status vkq_tokenizer_load(const char *path, uint32_t vocab_size, vkq_tokenizer **out);
void vkq_tokenizer_free(vkq_tokenizer *t);

/* One more than the largest token id. */
uint32_t vkq_tokenizer_vocab_size(const vkq_tokenizer *t);
/* The piece stored for a token, e.g. " the", "<0x0A>" or "Ġthe"; NULL for an id outside the
 * vocabulary (or a gap in a tokenizer.json's ids). */
const char *vkq_tokenizer_piece(const vkq_tokenizer *t, int32_t token);
/* The BOS and EOS ids, -1 where the tokenizer has none (Qwen has no BOS). */
int32_t vkq_tokenizer_bos(const vkq_tokenizer *t);
int32_t vkq_tokenizer_eos(const vkq_tokenizer *t);
/* Whether generation stops at token: BOS, EOS or the chat format's end of turn. */
int vkq_tokenizer_is_end(const vkq_tokenizer *t, int32_t token);

/* Enough room for the encoding of any text of length bytes, BOS and EOS included. */
size_t vkq_tokenizer_max_tokens(const vkq_tokenizer *t, size_t length);
/* The fewest tokens any text of length bytes encodes to, BOS and EOS not counted: a text that
 * cannot fit a limit can be refused without encoding it (0 where the format gives no bound). */
size_t vkq_tokenizer_min_tokens(const vkq_tokenizer *t, size_t length);

/* Encodes NUL-terminated UTF-8 text, with BOS first when bos is non-zero (and the tokenizer
 * has one) and EOS last when eos is non-zero. tok.bin falls back to byte tokens for invalid
 * UTF-8; tokenizer.json fails on it. Added tokens (special or not) written in the text are
 * matched as tokenizers.js matches them. *count receives the number of tokens of the
 * encoding; when that exceeds max_tokens nothing is written and the call fails, so
 * max_tokens 0 asks for the size. */
vkq_status vkq_tokenizer_encode(const vkq_tokenizer *t, const char *text, int bos, int eos,
                                int32_t *tokens, uint32_t max_tokens, uint32_t *count);

/* The text of `token` when it follows `prev_token` (-1: at the start of a text), as bytes;
 * NULL for an id outside the vocabulary. tok.bin: a piece after BOS loses its leading
 * space, and "<0xXX>" pieces become that raw byte (0x00 gives ""). tokenizer.json:
 * byte-level tokens give their bytes; SentencePiece-style tokens give their text with "▁" as
 * a space and byte tokens as bytes, minus the leading space that encoding put in front of
 * each text and after each added token. The string lives as long as the tokenizer. */
const char *vkq_tokenizer_decode(const vkq_tokenizer *t, int32_t prev_token, int32_t token);

/* Decodes a token array into text as a NUL-terminated string, each token with
 * vkq_tokenizer_decode after its predecessor, the first as at the start of a text (tok.bin:
 * as if BOS preceded it). BOS and EOS themselves give no text. *length (if not NULL)
 * receives the text's length without the terminator, also when the buffer is too small and
 * the call fails. */
vkq_status vkq_tokenizer_decode_text(const vkq_tokenizer *t, const int32_t *tokens,
                                     uint32_t count, char *text, size_t capacity,
                                     size_t *length);
/* The same where BOS and EOS give their text too, so that decoding an encoding made without
 * bos and eos returns the original text, special tokens written in it included. */
vkq_status vkq_tokenizer_decode_all(const vkq_tokenizer *t, const int32_t *tokens,
                                    uint32_t count, char *text, size_t capacity,
                                    size_t *length);

/* Writes a byte-level tok.bin (the three special tokens and the 256 byte tokens, no merges):
 * a tokenizer for models trained from scratch, e.g. on the synthetic benchmark. */
enum { VKQ_BYTE_TOKENIZER_VOCAB = 259 };
vkq_status vkq_tokenizer_write_byte_level(const char *path);

/* Chat formats: how a system text, a user turn and the assistant's reply become one text.
 *   chatml  <|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n
 *           <|im_start|>assistant\n   (Qwen3's template adds "<think>\n\n</think>\n\n")
 *   llama3  <|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>
 *           <|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>
 *           <|start_header_id|>assistant<|end_header_id|>\n\n   (S and U trimmed)
 *   inst    <s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST]
 * An empty system text leaves its part out. The reply follows the prompt and ends with the
 * format's end of turn: <|im_end|>, <|eot_id|> or </s>. */
typedef enum vkq_chat_format {
    VKQ_CHAT_NONE = 0,
    VKQ_CHAT_CHATML,
    VKQ_CHAT_LLAMA3,
    VKQ_CHAT_INST
} vkq_chat_format;

/* "auto" (*is_auto set), "none", "chatml", "llama3" or "inst"; anything else fails naming
 * the choices. */
vkq_status vkq_chat_format_parse(const char *name, vkq_chat_format *format, int *is_auto);
const char *vkq_chat_format_name(vkq_chat_format format);

/* The format of the tokenizer's chat template (tokenizer_config.json's chat_template):
 * VKQ_CHAT_NONE without one (and for tok.bin); a template of no known family fails with a
 * line naming the choices of --chat-template. */
vkq_status vkq_tokenizer_chat_format(const vkq_tokenizer *t, vkq_chat_format *out);

/* The prompt of a chat: system text (may be ""), user turn, then the assistant's header, as a
 * malloc'd string in *out. The format must have its tokens in t's vocabulary. */
vkq_status vkq_chat_render_prompt(const vkq_tokenizer *t, vkq_chat_format format,
                                  const char *system, const char *user, char **out);
/* The id that ends an assistant turn in format (EOS for VKQ_CHAT_NONE), -1 when the
 * vocabulary lacks it. */
int32_t vkq_chat_turn_end(const vkq_tokenizer *t, vkq_chat_format format);

#endif
