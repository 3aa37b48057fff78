/* The tokenizer and the checkpoint reader on the real reference files in VKQ_MODELS_DIR
 * (stories260K.bin and tok512.bin, see ../shared/models/README.md). Exits with 77 (skipped)
 * when they are absent. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "support.h"
#include "vkquill/llama2c.h"
#include "vkquill/tokenizer.h"

#define TOKENIZER_PATH VKQ_MODELS_DIR "/tok512.bin"
#define MODEL_PATH VKQ_MODELS_DIR "/stories260K.bin"

static vkq_tokenizer *tok;

static void vocabulary_has_the_documented_structure(void **state)
{
    (void)state;
    assert_int_equal(vkq_tokenizer_vocab_size(tok), 512);
    vkq_tokenizer *whole = NULL;
    OK(vkq_tokenizer_load(TOKENIZER_PATH, 0, &whole)); /* the file holds exactly 512 tokens */
    assert_int_equal(vkq_tokenizer_vocab_size(whole), 512);
    vkq_tokenizer_free(whole);
    assert_string_equal(vkq_tokenizer_piece(tok, VKQ_TOKEN_UNK), "<unk>");
    for (int b = 0; b < 256; b++) {
        char want[8];
        snprintf(want, sizeof want, "<0x%02X>", b);
        assert_string_equal(vkq_tokenizer_piece(tok, VKQ_TOKEN_FIRST_BYTE + b), want);
    }
}

static void expect_encoding(const char *text, const int32_t *want, uint32_t want_count)
{
    int32_t got[128];
    uint32_t count = 0;
    OK(vkq_tokenizer_encode(tok, text, 1, 0, got, 128, &count));
    assert_int_equal(count, want_count);
    assert_memory_equal(got, want, count * sizeof *got);
}

#define EXPECT_ENCODING(text, ...)                             \
    expect_encoding(text, (const int32_t[]){__VA_ARGS__},      \
                    sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t))

/* Expected tokens from llama2.c itself: run.c (karpathy/llama2.c 350e04f) built with
 * -DTESTING, build_tokenizer(tok512.bin, 512) and encode(text, bos=1, eos=0). */
static void encodings_match_llama2c(void **state)
{
    (void)state;
    EXPECT_ENCODING("Once upon a time, there was a little girl named Lily.", 1, 403, 407, 261,
                    378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426);
    EXPECT_ENCODING("Tom said: \"I can't!\"", 1, 274, 287, 336, 467, 313, 442, 280, 303, 439,
                    413, 443, 436);
    EXPECT_ENCODING("caf\xC3\xA9 \xE2\x82\xAC" "5 \xF0\x9F\x98\x80", 1, 280, 412, 431, 485, 410,
                    503, 480, 410, 243, 162, 155, 131);
    EXPECT_ENCODING("Hello", 1, 346, 306, 414);
}

static void decoding_an_encoding_gives_the_text(void **state)
{
    (void)state;
    const char *texts[] = {
        "Once upon a time, there was a little girl named Lily. She loved to play outside.",
        "  two leading spaces, a tab\tand a newline\n",
        "Unicode: na\xC3\xAFve caf\xC3\xA9, \xE2\x82\xAC" "5, \xE6\x97\xA5\xE6\x9C\xAC, "
        "\xF0\x9F\x98\x80",
        "\xFF\xFE invalid \xC3 UTF-8 \x80\x80",
        "x",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        int32_t tokens[256];
        uint32_t count;
        char back[512];
        OK(vkq_tokenizer_encode(tok, texts[i], 1, 1, tokens, 256, &count));
        assert_true(count <= strlen(texts[i]) + 3);
        OK(vkq_tokenizer_decode_text(tok, tokens, count, back, sizeof back, NULL));
        assert_string_equal(back, texts[i]);
    }
}

static double mean_of(const float *x, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    return sum / (double)n;
}

static void checkpoint_header_and_offsets_are_plausible(void **state)
{
    (void)state;
    vkq_llama_config c;
    float *params = NULL;
    OK(vkq_llama2c_read(MODEL_PATH, &c, &params));
    assert_int_equal(c.dim, 64);
    assert_int_equal(c.hidden_dim, 172);
    assert_int_equal(c.n_layers, 5);
    assert_int_equal(c.n_heads, 8);
    assert_int_equal(c.n_kv_heads, 4);
    assert_int_equal(c.vocab_size, 512);
    assert_int_equal(c.seq_len, 512);
    assert_true(c.shared_classifier);
    vkq_llama_tensors l;
    vkq_llama_tensors_of(&c, &l);
    /* RMSNorm gains start at 1 and stay positive; embeddings are centred on zero */
    const float *rms_att0 = params + l.t[VKQ_RMS_ATT].offset;
    for (uint32_t i = 0; i < c.dim; i++)
        assert_true(rms_att0[i] > 0.0f);
    double gain = mean_of(rms_att0, c.dim);
    assert_true(gain > 0.2 && gain < 5.0);
    size_t n_emb = (size_t)c.vocab_size * c.dim;
    double emb_mean = mean_of(params + l.t[VKQ_TOK_EMB].offset, n_emb), emb_var = 0.0;
    for (size_t i = 0; i < n_emb; i++)
        emb_var += pow(params[l.t[VKQ_TOK_EMB].offset + i] - emb_mean, 2) / (double)n_emb;
    assert_true(fabs(emb_mean) < 0.25 * sqrt(emb_var));
    free(params);
}

/* Reading and writing back reproduces the file: header and weights bit for bit, and the RoPE
 * tables, which the writer computes itself, to float rounding of PyTorch's; vkquill's
 * 16-byte checksum trailer follows. */
static void checkpoint_rewrite_reproduces_the_file(void **state)
{
    (void)state;
    vkq_llama_config c;
    float *params = NULL;
    OK(vkq_llama2c_read(MODEL_PATH, &c, &params));
    char dir[TEST_DIR_SIZE];
    assert_int_equal(test_make_temp_dir(dir, "reference"), 0);
    const char *path = test_path(dir, "copy.bin");
    vkq_status written = vkq_llama2c_write(path, &c, params);

    enum { SIZE = 1056540 }; /* from the README's shape: 28 + 4 * (260032 + 2 * 512 * 4) */
    size_t want_size = 0, got_size = 0;
    unsigned char *want = (unsigned char *)test_read_file(MODEL_PATH, &want_size);
    unsigned char *got = (unsigned char *)test_read_file(path, &got_size);
    test_remove_tree(dir);
    OK(written);
    assert_int_equal(want_size, SIZE);
    assert_int_equal(got_size, SIZE + 16);
    assert_memory_equal(got + SIZE, "vkqxxh64", 8);
    size_t rope_start = 28 + 4 * (size_t)260032;
    assert_memory_equal(got, want, rope_start);
    for (size_t at = rope_start; at < SIZE; at += 4) {
        float x, y;
        memcpy(&x, got + at, 4);
        memcpy(&y, want + at, 4);
        assert_float_equal(x, y, 1e-5f);
    }
    free(want);
    free(got);
    free(params);
}

static int load_tokenizer(void **state)
{
    (void)state;
    if (vkq_tokenizer_load(TOKENIZER_PATH, 512, &tok) != VKQ_OK) {
        print_error("%s\n", vkq_last_error());
        return -1;
    }
    return 0;
}

static int free_tokenizer(void **state)
{
    (void)state;
    vkq_tokenizer_free(tok);
    return 0;
}

int main(void)
{
    if (!test_have_file(TOKENIZER_PATH) || !test_have_file(MODEL_PATH))
        return TEST_SKIPPED;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vocabulary_has_the_documented_structure),
        cmocka_unit_test(encodings_match_llama2c),
        cmocka_unit_test(decoding_an_encoding_gives_the_text),
        cmocka_unit_test(checkpoint_header_and_offsets_are_plausible),
        cmocka_unit_test(checkpoint_rewrite_reproduces_the_file),
    };
    return cmocka_run_group_tests(tests, load_tokenizer, free_tokenizer);
}
