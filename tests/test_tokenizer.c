/* The tok.bin tokenizer on small vocabularies written here, with encodings worked out by hand
 * from llama2.c's algorithm, and on malformed files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "support.h"
#include "vkquill/tokenizer.h"

static char temp_dir[TEST_DIR_SIZE];

/* A tok.bin file under construction. */
typedef struct blob {
    unsigned char data[16384];
    size_t size;
} blob;

static void put_bytes(blob *b, const void *p, size_t n)
{
    assert_true(b->size + n <= sizeof b->data);
    memcpy(b->data + b->size, p, n);
    b->size += n;
}

static void put_i32(blob *b, int32_t v) { put_bytes(b, &v, sizeof v); }

static void put_token(blob *b, float score, const char *piece)
{
    put_bytes(b, &score, sizeof score);
    put_i32(b, (int32_t)strlen(piece));
    put_bytes(b, piece, strlen(piece));
}

/* Ids 0..258 as in every llama2.c vocabulary: <unk>, BOS, EOS, then the 256 byte pieces. */
static void put_base_vocab(blob *b)
{
    put_token(b, 0.0f, "<unk>");
    put_token(b, 0.0f, "\n<s>\n");
    put_token(b, 0.0f, "\n</s>\n");
    for (int i = 0; i < 256; i++) {
        char piece[8];
        snprintf(piece, sizeof piece, "<0x%02X>", i);
        put_token(b, 0.0f, piece);
    }
}

/* The merge vocabulary the encoding tests work from (ids after the 259 base tokens). */
enum {
    SPACE = 259, A, B, C, AB, BC, SPACE_A, ABC, CA, E_ACUTE, GRIN, CC, SPACE_E_ACUTE, VOCAB_SIZE
};

static void put_merge_vocab(blob *b)
{
    put_i32(b, 6); /* max_token_length: "<0x00>" */
    put_base_vocab(b);
    put_token(b, 0.0f, " ");
    put_token(b, 0.0f, "a");
    put_token(b, 0.0f, "b");
    put_token(b, 0.0f, "c");
    put_token(b, 1.0f, "ab");
    put_token(b, 1.0f, "bc");
    put_token(b, 0.5f, " a");
    put_token(b, 3.0f, "abc");
    put_token(b, 2.0f, "ca");
    put_token(b, 0.0f, "\xC3\xA9");         /* é */
    put_token(b, 0.0f, "\xF0\x9F\x98\x80"); /* 😀 */
    put_token(b, -2e10f, "cc");              /* below run.c's merge floor of -1e10 */
    put_token(b, 0.25f, " \xC3\xA9");
}

/* Writes b to NAME in the temp dir; returns its path (one of a few rotating buffers). */
static const char *save(const char *name, const blob *b)
{
    return test_write_file(test_path(temp_dir, name), b->data, b->size);
}

static vkq_tokenizer *load_merge_vocab(void)
{
    blob b = {0};
    put_merge_vocab(&b);
    vkq_tokenizer *t = NULL;
    vkq_status s = vkq_tokenizer_load(save("merge.bin", &b), VOCAB_SIZE, &t);
    if (s != VKQ_OK)
        fail_msg("%s", vkq_last_error());
    return t;
}

static void expect_encoding(const vkq_tokenizer *t, const char *text, int bos, int eos,
                            const int32_t *want, uint32_t want_count)
{
    int32_t got[64];
    uint32_t count = 99;
    vkq_status s = vkq_tokenizer_encode(t, text, bos, eos, got, 64, &count);
    if (s != VKQ_OK)
        fail_msg("encoding \"%s\": %s", text, vkq_last_error());
    assert_int_equal(count, want_count);
    for (uint32_t i = 0; i < count; i++)
        if (got[i] != want[i])
            fail_msg("encoding \"%s\": token %u is %d, want %d", text, i, (int)got[i],
                     (int)want[i]);
}

#define EXPECT_ENCODING(t, text, bos, eos, ...)                                       \
    expect_encoding(t, text, bos, eos, (const int32_t[]){__VA_ARGS__},                \
                    sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t))

/* Hand derivations, following run.c: start from [BOS?] " " and one token per codepoint (bytes
 * when the codepoint is not in the vocabulary); each round merge the adjacent pair whose
 * concatenation is the highest-scoring piece, the leftmost on ties; append EOS at the end. */
static void merges_follow_scores(void **state)
{
    (void)state;
    vkq_tokenizer *t = load_merge_vocab();
    /* "abc": [" " a b c]; pairs " a" 0.5, "ab" 1, "bc" 1: tie, leftmost "ab" -> [" " ab c];
     * pairs " ab" -, "abc" 3 -> [" " abc]; " abc" - : done. */
    EXPECT_ENCODING(t, "abc", 0, 0, SPACE, ABC);
    /* "bca": [" " b c a]; pairs " b" -, "bc" 1, "ca" 2: "ca" wins although later
     * -> [" " b ca]; " b" -, "bca" - : done. */
    EXPECT_ENCODING(t, "bca", 0, 0, SPACE, B, CA);
    /* "aa" with BOS and EOS: [BOS " " a a]; "\n<s>\n " -, " a" 0.5, "aa" - -> [BOS " a" a];
     * "\n<s>\n a" -, " aa" - : done; then EOS. */
    EXPECT_ENCODING(t, "aa", 1, 1, VKQ_TOKEN_BOS, SPACE_A, A, VKQ_TOKEN_EOS);
    /* "cc": [" " c c]; "cc" exists but scores -2e10, which run.c never merges. */
    EXPECT_ENCODING(t, "cc", 0, 0, SPACE, C, C);
    /* The dummy prefix is only added to non-empty text. */
    EXPECT_ENCODING(t, "", 1, 1, VKQ_TOKEN_BOS, VKQ_TOKEN_EOS);
    uint32_t count = 99;
    assert_int_equal(vkq_tokenizer_encode(t, "", 0, 0, NULL, 0, &count), VKQ_OK);
    assert_int_equal(count, 0);
    vkq_tokenizer_free(t);
}

static void codepoints_and_byte_fallback(void **state)
{
    (void)state;
    vkq_tokenizer *t = load_merge_vocab();
    enum { BYTE = VKQ_TOKEN_FIRST_BYTE };
    /* "é" (C3 A9) is one vocabulary codepoint: [" " é] -> " é" 0.25 -> [" é"]. */
    EXPECT_ENCODING(t, "\xC3\xA9", 0, 0, SPACE_E_ACUTE);
    /* "a€": € (E2 82 AC) is not in the vocabulary, so its three bytes are byte tokens
     * (byte + 3): [" " a <E2> <82> <AC>] -> " a" 0.5 -> [" a" <E2> <82> <AC>]; no more. */
    EXPECT_ENCODING(t, "a\xE2\x82\xAC", 0, 0, SPACE_A, BYTE + 0xE2, BYTE + 0x82, BYTE + 0xAC);
    /* Invalid UTF-8 "C3 A9 A9": the lead byte takes both continuation bytes, "C3 A9 A9" is
     * no piece, so all three fall back to bytes; it is not split into é + <A9>. */
    EXPECT_ENCODING(t, "\xC3\xA9\xA9", 0, 0, SPACE, BYTE + 0xC3, BYTE + 0xA9, BYTE + 0xA9);
    /* A codepoint stops at 4 bytes: "F0 9F 98 80 80" is 😀 then a stray continuation byte. */
    EXPECT_ENCODING(t, "\xF0\x9F\x98\x80\x80", 0, 0, SPACE, GRIN, BYTE + 0x80);
    /* A leading continuation byte stands alone; "a" after it is a codepoint again. */
    EXPECT_ENCODING(t, "\x80" "a", 0, 0, SPACE, BYTE + 0x80, A);
    /* A lead byte cut off by the end of the text. */
    EXPECT_ENCODING(t, "a\xF0", 0, 0, SPACE_A, BYTE + 0xF0);
    vkq_tokenizer_free(t);
}

static void encode_checks_the_buffer(void **state)
{
    (void)state;
    vkq_tokenizer *t = load_merge_vocab();
    int32_t tokens[1] = {-7};
    uint32_t count = 0;
    assert_int_equal(vkq_tokenizer_encode(t, "abc", 0, 0, tokens, 1, &count),
                     VKQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(count, 2);
    assert_int_equal(tokens[0], -7);
    assert_non_null(strstr(vkq_last_error(), "2 tokens"));
    assert_int_equal(vkq_tokenizer_encode(t, "abc", 1, 1, NULL, 0, &count),
                     VKQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(count, 4);
    assert_int_equal(vkq_tokenizer_encode(t, NULL, 0, 0, tokens, 1, &count),
                     VKQ_ERR_INVALID_ARGUMENT);
    vkq_tokenizer_free(t);
}

static void decode_follows_run_c(void **state)
{
    (void)state;
    vkq_tokenizer *t = load_merge_vocab();
    /* a piece after BOS loses its leading space, anywhere else it keeps it */
    assert_string_equal(vkq_tokenizer_decode(t, VKQ_TOKEN_BOS, SPACE_A), "a");
    assert_string_equal(vkq_tokenizer_decode(t, A, SPACE_A), " a");
    assert_string_equal(vkq_tokenizer_decode(t, VKQ_TOKEN_EOS, SPACE_A), " a");
    assert_string_equal(vkq_tokenizer_decode(t, VKQ_TOKEN_BOS, SPACE), "");
    assert_string_equal(vkq_tokenizer_decode(t, VKQ_TOKEN_BOS, A), "a");
    /* "<0xXX>" pieces are raw bytes */
    assert_string_equal(vkq_tokenizer_piece(t, VKQ_TOKEN_FIRST_BYTE + 0x41), "<0x41>");
    assert_string_equal(vkq_tokenizer_decode(t, A, VKQ_TOKEN_FIRST_BYTE + 0x41), "A");
    assert_string_equal(vkq_tokenizer_decode(t, A, VKQ_TOKEN_FIRST_BYTE + 0xE2), "\xE2");
    assert_string_equal(vkq_tokenizer_decode(t, A, VKQ_TOKEN_FIRST_BYTE + 0x00), "");
    assert_string_equal(vkq_tokenizer_decode(t, A, VKQ_TOKEN_BOS), "\n<s>\n");
    assert_null(vkq_tokenizer_decode(t, A, VOCAB_SIZE));
    assert_null(vkq_tokenizer_decode(t, A, -1));
    assert_null(vkq_tokenizer_piece(t, VOCAB_SIZE));
    vkq_tokenizer_free(t);
}

static void decode_text_joins_pieces(void **state)
{
    (void)state;
    vkq_tokenizer *t = load_merge_vocab();
    enum { BYTE = VKQ_TOKEN_FIRST_BYTE };
    const int32_t tokens[] = {VKQ_TOKEN_BOS, SPACE_A, BYTE + 0xE2, BYTE + 0x82, BYTE + 0xAC,
                              SPACE_E_ACUTE, VKQ_TOKEN_EOS};
    char text[32];
    size_t length = 0;
    assert_int_equal(vkq_tokenizer_decode_text(t, tokens, 7, text, sizeof text, &length), VKQ_OK);
    assert_string_equal(text, "a\xE2\x82\xAC \xC3\xA9");
    assert_int_equal(length, 7);
    /* without BOS the first piece still loses the dummy prefix */
    assert_int_equal(vkq_tokenizer_decode_text(t, tokens + 1, 1, text, sizeof text, NULL), VKQ_OK);
    assert_string_equal(text, "a");
    /* exactly enough room, then one byte short */
    assert_int_equal(vkq_tokenizer_decode_text(t, tokens, 7, text, 8, &length), VKQ_OK);
    assert_int_equal(vkq_tokenizer_decode_text(t, tokens, 7, text, 7, &length),
                     VKQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(length, 7);
    assert_string_equal(text, "");
    const int32_t bad[] = {A, VOCAB_SIZE};
    assert_int_equal(vkq_tokenizer_decode_text(t, bad, 2, text, sizeof text, NULL),
                     VKQ_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkq_last_error(), "position 1"));
    vkq_tokenizer_free(t);
}

static void decoding_an_encoding_gives_the_text(void **state)
{
    (void)state;
    vkq_tokenizer *t = load_merge_vocab();
    const char *texts[] = {"abc bca", " leading space", "\xC3\xA9\xF0\x9F\x98\x80 x\xE2\x82\xAC",
                           "\xC3\xA9\xA9\x80z\xFF", "tab\tnew\nline"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        int32_t tokens[64];
        uint32_t count;
        char back[64];
        for (int bos = 0; bos <= 1; bos++) {
            assert_int_equal(vkq_tokenizer_encode(t, texts[i], bos, 1, tokens, 64, &count),
                             VKQ_OK);
            assert_int_equal(
                vkq_tokenizer_decode_text(t, tokens, count, back, sizeof back, NULL), VKQ_OK);
            assert_string_equal(back, texts[i]);
        }
    }
    vkq_tokenizer_free(t);
}

static void small_vocabularies_fail_cleanly(void **state)
{
    (void)state;
    blob b = {0};
    put_i32(&b, 6);
    put_token(&b, 0.0f, "<unk>");
    put_token(&b, 0.0f, "\n<s>\n");
    put_token(&b, 0.0f, "\n</s>\n");
    put_token(&b, 0.0f, " ");
    put_token(&b, 0.0f, "a");
    vkq_tokenizer *t = NULL;
    assert_int_equal(vkq_tokenizer_load(save("small.bin", &b), 0, &t), VKQ_OK);
    assert_int_equal(vkq_tokenizer_vocab_size(t), 5);
    EXPECT_ENCODING(t, "a", 1, 1, VKQ_TOKEN_BOS, 3, 4, VKQ_TOKEN_EOS);
    int32_t tokens[8];
    uint32_t count;
    assert_int_equal(vkq_tokenizer_encode(t, "ab", 0, 0, tokens, 8, &count),
                     VKQ_ERR_UNSUPPORTED);
    assert_non_null(strstr(vkq_last_error(), "byte 0x62"));
    vkq_tokenizer_free(t);

    blob one = {0};
    put_i32(&one, 5);
    put_token(&one, 0.0f, "<unk>");
    assert_int_equal(vkq_tokenizer_load(save("one.bin", &one), 0, &t), VKQ_OK);
    assert_int_equal(vkq_tokenizer_encode(t, "", 1, 0, tokens, 8, &count), VKQ_ERR_UNSUPPORTED);
    assert_non_null(strstr(vkq_last_error(), "no BOS"));
    vkq_tokenizer_free(t);
}

/* Loading must fail with `status` and a message naming the file and containing `what`. */
static void expect_load_error(const char *path, uint32_t vocab_size, vkq_status status,
                              const char *what)
{
    vkq_tokenizer *t = (vkq_tokenizer *)&t; /* must be reset to NULL */
    vkq_status s = vkq_tokenizer_load(path, vocab_size, &t);
    if (s != status || !strstr(vkq_last_error(), path) || !strstr(vkq_last_error(), what))
        fail_msg("loading %s: got \"%s\" (%s), want %s with \"%s\"", path, vkq_last_error(),
                 vkq_status_name(s), vkq_status_name(status), what);
    assert_null(t);
}

static void bad_files_are_reported(void **state)
{
    (void)state;
    expect_load_error(test_path(temp_dir, "missing.bin"), 0, VKQ_ERR_IO, "cannot open");
    expect_load_error(temp_dir, 0, VKQ_ERR_IO, "a directory without a tokenizer.json");

    blob empty = {0};
    expect_load_error(save("empty.bin", &empty), 0, VKQ_ERR_FORMAT, "no max_token_length");

    blob header_only = {0};
    put_i32(&header_only, 6);
    expect_load_error(save("header.bin", &header_only), 0, VKQ_ERR_FORMAT, "no tokens");

    blob negative_max = {0};
    put_i32(&negative_max, -1);
    put_token(&negative_max, 0.0f, "a");
    expect_load_error(save("negmax.bin", &negative_max), 0, VKQ_ERR_FORMAT,
                      "negative max_token_length");

    blob cut_header = {0};
    put_i32(&cut_header, 6);
    put_token(&cut_header, 0.0f, "a");
    put_bytes(&cut_header, "\0\0\0", 3);
    expect_load_error(save("cuthead.bin", &cut_header), 0, VKQ_ERR_FORMAT,
                      "truncated inside the header of token 1");

    blob cut_piece = {0};
    put_i32(&cut_piece, 6);
    put_token(&cut_piece, 0.0f, "a");
    put_token(&cut_piece, 0.0f, "hello");
    cut_piece.size -= 3;
    expect_load_error(save("cutpiece.bin", &cut_piece), 0, VKQ_ERR_FORMAT,
                      "token 1 claims 5 bytes, 2 remain");

    const int32_t bad_lengths[] = {-1, INT32_MIN, INT32_MAX};
    const char *messages[] = {"negative length -1", "negative length", "claims 2147483647"};
    for (int i = 0; i < 3; i++) {
        blob b = {0};
        put_i32(&b, 6);
        put_bytes(&b, &(float){0.0f}, 4);
        put_i32(&b, bad_lengths[i]);
        put_bytes(&b, "abcdefgh", 8);
        expect_load_error(save("badlen.bin", &b), 0, VKQ_ERR_FORMAT, messages[i]);
    }

    blob too_long = {0};
    put_i32(&too_long, 3);
    put_token(&too_long, 0.0f, "abcd");
    expect_load_error(save("toolong.bin", &too_long), 0, VKQ_ERR_FORMAT,
                      "more than max_token_length 3");

    blob nul = {0};
    put_i32(&nul, 6);
    put_bytes(&nul, &(float){0.0f}, 4);
    put_i32(&nul, 3);
    put_bytes(&nul, "a\0b", 3);
    expect_load_error(save("nul.bin", &nul), 0, VKQ_ERR_FORMAT, "NUL byte");
}

static void vocab_size_must_match_the_file(void **state)
{
    (void)state;
    blob b = {0};
    put_merge_vocab(&b);
    const char *path = save("sized.bin", &b);
    vkq_tokenizer *t = NULL;
    assert_int_equal(vkq_tokenizer_load(path, 0, &t), VKQ_OK);
    assert_int_equal(vkq_tokenizer_vocab_size(t), VOCAB_SIZE);
    vkq_tokenizer_free(t);
    expect_load_error(path, VOCAB_SIZE - 1, VKQ_ERR_FORMAT, "trailing garbage");
    expect_load_error(path, VOCAB_SIZE + 1, VKQ_ERR_FORMAT, "file ends after 272");
    expect_load_error(path, 0x80000000u, VKQ_ERR_INVALID_ARGUMENT, "does not fit");
}

/* Every proper prefix of a valid file is an error when the vocabulary size is known, and is
 * accepted without it only when it ends exactly after a token. */
static void every_truncation_is_an_error(void **state)
{
    (void)state;
    const char *pieces[] = {"<unk>", "\n<s>\n", "\n</s>\n", " ", "a", "ab", "\xC3\xA9", ""};
    enum { N = sizeof pieces / sizeof *pieces };
    blob full = {0};
    put_i32(&full, 6);
    for (int i = 0; i < N; i++)
        put_token(&full, -(float)i, pieces[i]);
    size_t boundaries = 0;
    for (size_t length = 0; length < full.size; length++) {
        blob b = full;
        b.size = length;
        const char *path = save("prefix.bin", &b);
        vkq_tokenizer *t = NULL;
        assert_int_equal(vkq_tokenizer_load(path, N, &t), VKQ_ERR_FORMAT);
        assert_non_null(strstr(vkq_last_error(), "truncated"));
        if (vkq_tokenizer_load(path, 0, &t) == VKQ_OK) {
            boundaries++;
            vkq_tokenizer_free(t);
        }
    }
    assert_int_equal(boundaries, N - 1); /* after token 0, 1, ..., N - 2 */
}

static int create_temp_dir(void **state)
{
    (void)state;
    return test_make_temp_dir(temp_dir, "tokenizer");
}

static int remove_temp_dir(void **state)
{
    (void)state;
    return test_remove_tree(temp_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(merges_follow_scores),
        cmocka_unit_test(codepoints_and_byte_fallback),
        cmocka_unit_test(encode_checks_the_buffer),
        cmocka_unit_test(decode_follows_run_c),
        cmocka_unit_test(decode_text_joins_pieces),
        cmocka_unit_test(decoding_an_encoding_gives_the_text),
        cmocka_unit_test(small_vocabularies_fail_cleanly),
        cmocka_unit_test(bad_files_are_reported),
        cmocka_unit_test(vocab_size_must_match_the_file),
        cmocka_unit_test(every_truncation_is_an_error),
    };
    return cmocka_run_group_tests(tests, create_temp_dir, remove_temp_dir);
}
