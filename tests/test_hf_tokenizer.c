/* tokenizer.json tokenizers.
 *   test_hf_tokenizer real   the real Qwen3, Llama 3 and Llama 2 tokenizers of
 *                            ../shared/tokenizers against the ids tokenizers.js gives for
 *                            tests/data/tokenizer_corpus.jsonl (tools/make_tokenizer_expected.mjs),
 *                            round trips, and chat prompts worked out by hand from the
 *                            shipped chat templates; skipped (exit 77) without those files.
 *   test_hf_tokenizer files  small tokenizer.json files written here, with encodings worked
 *                            out by hand, and every kind of malformed file. */
#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "support.h"
#include "vkquill/data.h"
#include "vkquill/tokenizer.h"


static char temp_dir[TEST_DIR_SIZE];

static char *read_all(const char *path)
{
    char *text = test_read_file(path, NULL);
    if (!text)
        fail_msg("cannot open %s", path);
    return text;
}

static const char *write_file(const char *name, const char *text)
{
    return test_write_text(test_path(temp_dir, name), text);
}

static void encode_all(const vkq_tokenizer *t, const char *text, int32_t **ids, uint32_t *n)
{
    size_t room = vkq_tokenizer_max_tokens(t, strlen(text));
    *ids = malloc(room * sizeof **ids);
    assert_non_null(*ids);
    OK(vkq_tokenizer_encode(t, text, 0, 0, *ids, (uint32_t)room, n));
}

static void expect_ids(const vkq_tokenizer *t, const char *text, const int32_t *want,
                       uint32_t n_want)
{
    int32_t *ids;
    uint32_t n;
    encode_all(t, text, &ids, &n);
    if (n != n_want || memcmp(ids, want, n * sizeof *ids) != 0) {
        fprintf(stderr, "\"%s\": got", text);
        for (uint32_t i = 0; i < n; i++)
            fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
        fail_msg("encoding of \"%s\" differs", text);
    }
    free(ids);
}

#define EXPECT_IDS(t, text, ...)                                                              \
    do {                                                                                      \
        const int32_t want_[] = {__VA_ARGS__};                                                \
        expect_ids(t, text, want_, sizeof want_ / sizeof want_[0]);                            \
    } while (0)

static void expect_round_trip(const vkq_tokenizer *t, const char *text, const char *want)
{
    int32_t *ids;
    uint32_t n;
    encode_all(t, text, &ids, &n);
    size_t length = 0;
    vkq_tokenizer_decode_all(t, ids, n, NULL, 0, &length);
    char *back = malloc(length + 1);
    assert_non_null(back);
    OK(vkq_tokenizer_decode_all(t, ids, n, back, length + 1, NULL));
    assert_string_equal(back, want);
    free(back);
    free(ids);
}

/* ---- real tokenizers -------------------------------------------------------------------- */

static const char *const REAL[] = {"qwen3", "llama3", "llama2"};

static vkq_tokenizer *load_real(const char *name)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", VKQ_TOKENIZERS_DIR, name);
    vkq_tokenizer *t = NULL;
    if (vkq_tokenizer_load(dir, 0, &t) != VKQ_OK)
        fail_msg("%s: %s", dir, vkq_last_error());
    return t;
}

/* Every corpus line encodes to tokenizers.js's ids and decodes back to the line (in NFC for
 * Qwen3, whose normalizer is NFC). */
static void corpus_matches_tokenizers_js(void **state)
{
    (void)state;
    char *corpus = read_all(VKQ_SOURCE_DIR "/tests/data/tokenizer_corpus.jsonl");
    char *expected_text = read_all(VKQ_SOURCE_DIR "/tests/data/tokenizer_expected.json");
    cJSON *expected = cJSON_Parse(expected_text);
    assert_non_null(expected);
    int lines = cJSON_GetObjectItem(expected, "lines")->valueint;
    assert_true(lines > 50);
    for (int k = 0; k < 3; k++) {
        vkq_tokenizer *t = load_real(REAL[k]);
        const cJSON *e = cJSON_GetObjectItem(cJSON_GetObjectItem(expected, "tokenizers"), REAL[k]);
        const cJSON *ids = cJSON_GetObjectItem(e, "ids"), *trip = cJSON_GetObjectItem(e, "round_trip");
        assert_int_equal(cJSON_GetArraySize(ids), lines);
        char *at = corpus;
        for (int i = 0; i < lines; i++) {
            char *end = strchr(at, '\n');
            assert_non_null(end);
            *end = '\0';
            cJSON *line = cJSON_Parse(at);
            *end = '\n';
            at = end + 1;
            const char *text = cJSON_GetObjectItem(line, "text")->valuestring;
            const cJSON *want = cJSON_GetArrayItem(ids, i);
            uint32_t n = (uint32_t)cJSON_GetArraySize(want);
            int32_t *w = malloc((n ? n : 1) * sizeof *w);
            for (uint32_t j = 0; j < n; j++)
                w[j] = cJSON_GetArrayItem(want, (int)j)->valueint;
            expect_ids(t, text, w, n);
            assert_true(vkq_tokenizer_min_tokens(t, strlen(text)) <= n);
            expect_round_trip(t, text, cJSON_GetArrayItem(trip, i)->valuestring);
            free(w);
            cJSON_Delete(line);
        }
        vkq_tokenizer_free(t);
    }
    cJSON_Delete(expected);
    free(expected_text);
    free(corpus);
}

/* The fewest tokens a text can need: none claimed for Qwen3 (its NFC normalizer can shrink a
 * text); for Llama 3 and Llama 2 the text's bytes over their longest vocabulary piece, 256 and
 * 48 bytes (read from the files with Python's json module). */
static void lower_bounds_of_real_tokenizers(void **state)
{
    (void)state;
    static const size_t LONGEST[] = {0, 256, 48};
    for (int k = 0; k < 3; k++) {
        vkq_tokenizer *t = load_real(REAL[k]);
        size_t bytes = 1 << 20;
        assert_int_equal(vkq_tokenizer_min_tokens(t, bytes), LONGEST[k] ? bytes / LONGEST[k] : 0);
        vkq_tokenizer_free(t);
    }
}

/* BOS and EOS from tokenizer_config.json, looked up in the vocabulary files by hand. */
static void special_tokens_come_from_the_config(void **state)
{
    (void)state;
    static const int32_t BOS[] = {-1, 128000, 1}, EOS[] = {151645, 128001, 2};
    for (int k = 0; k < 3; k++) {
        vkq_tokenizer *t = load_real(REAL[k]);
        assert_int_equal(vkq_tokenizer_bos(t), BOS[k]);
        assert_int_equal(vkq_tokenizer_eos(t), EOS[k]);
        int32_t ids[4];
        uint32_t n;
        OK(vkq_tokenizer_encode(t, "", 1, 1, ids, 4, &n));
        assert_int_equal(n, BOS[k] < 0 ? 1 : 2);
        assert_int_equal(ids[n - 1], EOS[k]);
        /* decode_text drops BOS and EOS, decode_all keeps them */
        char text[64];
        OK(vkq_tokenizer_decode_text(t, ids, n, text, sizeof text, NULL));
        assert_string_equal(text, "");
        vkq_tokenizer_free(t);
    }
    vkq_tokenizer *llama3 = load_real("llama3");
    assert_true(vkq_tokenizer_is_end(llama3, 128009)); /* <|eot_id|>, its chat turn's end */
    assert_false(vkq_tokenizer_is_end(llama3, 9906));
    vkq_tokenizer_free(llama3);
}

static void render(const char *name, vkq_chat_format want_format, const char *system,
                   const char *user, const char *want)
{
    vkq_tokenizer *t = load_real(name);
    vkq_chat_format format;
    OK(vkq_tokenizer_chat_format(t, &format));
    assert_int_equal(format, want_format);
    char *prompt = NULL;
    OK(vkq_chat_render_prompt(t, format, system, user, &prompt));
    assert_string_equal(prompt, want);
    free(prompt);
    vkq_tokenizer_free(t);
}

/* Qwen3's template for [system S, user U, assistant A] with A last: the system message
 * ('<|im_start|>system\n' + S + '<|im_end|>\n'), the user message ('<|im_start|>' + role +
 * '\n' + content + '<|im_end|>' + '\n'), then for the final assistant message after the last
 * query '<|im_start|>assistant\n<think>\n' + '' + '\n</think>\n\n' + A + '<|im_end|>\n'. The
 * prompt is all before A; A + <|im_end|> is the target. */
static void qwen_prompt_renders_as_its_template(void **state)
{
    (void)state;
    render("qwen3", VKQ_CHAT_CHATML, "Be brief.", "Input: hi\nOutput:",
           "<|im_start|>system\nBe brief.<|im_end|>\n"
           "<|im_start|>user\nInput: hi\nOutput:<|im_end|>\n"
           "<|im_start|>assistant\n<think>\n\n</think>\n\n");
    /* without a system message the template writes none */
    render("qwen3", VKQ_CHAT_CHATML, "", "Q", "<|im_start|>user\nQ<|im_end|>\n"
                                              "<|im_start|>assistant\n<think>\n\n</think>\n\n");
    vkq_tokenizer *t = load_real("qwen3");
    assert_int_equal(vkq_chat_turn_end(t, VKQ_CHAT_CHATML), 151645);
    vkq_tokenizer_free(t);
}

/* Llama 3's template: bos_token before the first message; each message is
 * '<|start_header_id|>' + role + '<|end_header_id|>\n\n' + content|trim + '<|eot_id|>'; then
 * always '<|start_header_id|>assistant<|end_header_id|>\n\n'. */
static void llama3_prompt_renders_as_its_template(void **state)
{
    (void)state;
    render("llama3", VKQ_CHAT_LLAMA3, "  Be brief.\n", "\tInput: hi\nOutput: ",
           "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
           "<|start_header_id|>user<|end_header_id|>\n\nInput: hi\nOutput:<|eot_id|>"
           "<|start_header_id|>assistant<|end_header_id|>\n\n");
    render("llama3", VKQ_CHAT_LLAMA3, "", "Q",
           "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>"
           "<|start_header_id|>assistant<|end_header_id|>\n\n");
    vkq_tokenizer *t = load_real("llama3");
    assert_int_equal(vkq_chat_turn_end(t, VKQ_CHAT_LLAMA3), 128009);
    /* the rendered specials encode as single tokens */
    EXPECT_IDS(t, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>",
               128000, 128006, 882, 128007, 271, 9906, 128009);
    vkq_tokenizer_free(t);
}

/* Llama 2's config has no chat template: auto finds none, inst can be chosen. */
static void llama2_has_no_template_but_inst_works(void **state)
{
    (void)state;
    vkq_tokenizer *t = load_real("llama2");
    vkq_chat_format format = VKQ_CHAT_CHATML;
    OK(vkq_tokenizer_chat_format(t, &format));
    assert_int_equal(format, VKQ_CHAT_NONE);
    char *prompt = NULL;
    OK(vkq_chat_render_prompt(t, VKQ_CHAT_INST, "S", "U", &prompt));
    assert_string_equal(prompt, "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST]");
    free(prompt);
    assert_int_equal(vkq_chat_render_prompt(t, VKQ_CHAT_CHATML, "", "U", &prompt),
                     VKQ_ERR_UNSUPPORTED);
    assert_non_null(strstr(vkq_last_error(), "<|im_start|>"));
    vkq_tokenizer_free(t);
}

static void expect_span(const vkq_tokenizer *t, const int32_t *got, uint32_t n,
                        const char *text, int32_t end)
{
    int32_t *want;
    uint32_t n_want;
    encode_all(t, text, &want, &n_want);
    assert_int_equal(n, n_want + (end >= 0));
    assert_memory_equal(got, want, n_want * sizeof *want);
    if (end >= 0)
        assert_int_equal(got[n_want], end);
    free(want);
}

/* A training pair for Qwen3 in ChatML: the built-in template's prompt field (history block
 * included) is the user turn, the target then <|im_end|> the response. */
static void pairs_use_the_chat_format(void **state)
{
    (void)state;
    vkq_tokenizer *t = load_real("qwen3");
    vkq_template tpl;
    OK(vkq_template_default(&tpl));
    OK(vkq_template_use_chat(&tpl, t, "auto"));
    assert_int_equal(tpl.chat, VKQ_CHAT_CHATML);
    vkq_history_item item = {"Old input", "Old output", NULL};
    vkq_sample sample = {"u", "New input", "Great read.", &item, 1, 1};
    vkq_prompt_limits limits = {0};
    vkq_pair p;
    OK(vkq_pair_build(t, &tpl, &limits, &sample, &p));
    expect_span(t, p.with_history, p.with_prompt,
                "<|im_start|>user\nPrevious responses by this user:\nInput: Old input\n"
                "Output: Old output\n\nInput: New input\nOutput:<|im_end|>\n"
                "<|im_start|>assistant\n<think>\n\n</think>\n\n",
                -1);
    expect_span(t, p.without_history, p.without_prompt,
                "<|im_start|>user\nPrevious responses by this user:\nNone\n\n"
                "Input: New input\nOutput:<|im_end|>\n"
                "<|im_start|>assistant\n<think>\n\n</think>\n\n",
                -1);
    expect_span(t, p.with_history + p.with_prompt, p.n_response, "Great read.", 151645);
    vkq_pair_free(&p);
    /* none: the plain prompt, no BOS (Qwen has none), and EOS (<|im_end|>) after the target */
    OK(vkq_template_use_chat(&tpl, t, "none"));
    OK(vkq_pair_build(t, &tpl, &limits, &sample, &p));
    expect_span(t, p.without_history, p.without_prompt,
                "Previous responses by this user:\nNone\n\nInput: New input\nOutput:", -1);
    vkq_pair_free(&p);
    vkq_template_free(&tpl);
    vkq_tokenizer_free(t);
}

static void model_vocab_size_bounds_the_ids(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/qwen3/tokenizer.json", VKQ_TOKENIZERS_DIR);
    vkq_tokenizer *t = NULL;
    OK(vkq_tokenizer_load(path, 151936, &t)); /* Qwen3's embedding rows */
    assert_int_equal(vkq_tokenizer_vocab_size(t), 151669);
    vkq_tokenizer_free(t);
    assert_int_equal(vkq_tokenizer_load(path, 151000, &t), VKQ_ERR_FORMAT);
    assert_non_null(strstr(vkq_last_error(), "beyond the model's vocabulary of 151000"));
}

/* ---- small files ------------------------------------------------------------------------ */

/* GPT-2's byte-to-character map, from its definition: printable bytes stay, the others take
 * 256, 257, ... in byte order. */
static void byte_char(unsigned b, char out[3])
{
    int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    unsigned c = b;
    if (!printable) {
        unsigned n = 0;
        for (unsigned k = 0; k < b; k++)
            n += !((k >= 33 && k <= 126) || (k >= 161 && k <= 172) || (k >= 174));
        c = 256 + n;
    }
    if (c < 0x80) {
        out[0] = (char)c;
        out[1] = '\0';
    } else {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        out[2] = '\0';
    }
}

/* Byte-level: ids 0..255 are the bytes' characters; then he, ll, hell, Ġw, hello (ranks 0..4);
 * added tokens <x> (special) and [y] (not special, lstrip and rstrip). */
static const char *write_byte_level(void)
{
    cJSON *root = cJSON_CreateObject(), *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    for (unsigned b = 0; b < 256; b++) {
        char c[3];
        byte_char(b, c);
        cJSON_AddNumberToObject(vocab, c, b);
    }
    const char *merged[] = {"he", "ll", "hell", "\xC4\xA0w", "hello"};
    const char *merges[] = {"h e", "l l", "he ll", "\xC4\xA0 w", "hell o"};
    cJSON *list = cJSON_AddArrayToObject(model, "merges");
    for (int i = 0; i < 5; i++) {
        cJSON_AddNumberToObject(vocab, merged[i], 256 + i);
        cJSON_AddItemToArray(list, cJSON_CreateString(merges[i]));
    }
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    cJSON *x = cJSON_CreateObject(), *y = cJSON_CreateObject();
    cJSON_AddNumberToObject(x, "id", 300);
    cJSON_AddStringToObject(x, "content", "<x>");
    cJSON_AddBoolToObject(x, "special", 1);
    cJSON_AddNumberToObject(y, "id", 301);
    cJSON_AddStringToObject(y, "content", "[y]");
    cJSON_AddBoolToObject(y, "special", 0);
    cJSON_AddBoolToObject(y, "lstrip", 1);
    cJSON_AddBoolToObject(y, "rstrip", 1);
    cJSON_AddItemToArray(added, x);
    cJSON_AddItemToArray(added, y);
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "ByteLevel");
    cJSON_AddBoolToObject(pre, "add_prefix_space", 0);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(root, "decoder"), "type", "ByteLevel");
    char *text = cJSON_Print(root);
    const char *path = write_file("bytes.json", text);
    free(text);
    cJSON_Delete(root);
    return path;
}

static void byte_level_bpe_by_hand(void **state)
{
    (void)state;
    vkq_tokenizer *t = NULL;
    OK(vkq_tokenizer_load(write_byte_level(), 0, &t));
    assert_int_equal(vkq_tokenizer_vocab_size(t), 302);
    assert_null(vkq_tokenizer_piece(t, 280)); /* a gap in the ids */
    /* "hello": h e l l o -> he l l o (rank 0) -> he ll o (1) -> hell o (2) -> hello (4);
     * " world": Ġ w o r l d -> Ġw o r l d (3) */
    EXPECT_IDS(t, "hello world", 260, 259, 'o', 'r', 'l', 'd');
    /* "lll": both pairs are rank 1, the leftmost merges */
    EXPECT_IDS(t, "lll", 257, 'l');
    /* <x> is cut out first; "a " splits into "a" and " " (\s+), " b" into Ġb = Ġ b */
    EXPECT_IDS(t, "a <x> b", 'a', 32, 300, 32, 'b');
    /* [y] strips the whitespace on both sides */
    EXPECT_IDS(t, "a  [y]\t b", 'a', 301, 'b');
    EXPECT_IDS(t, "<x<x>>", '<', 'x', 300, '>');
    expect_round_trip(t, "hello world <x> again", "hello world <x> again");
    /* [y] takes any amount of whitespace into one token: no lower bound from the length */
    assert_int_equal(vkq_tokenizer_min_tokens(t, 1000), 0);
    int32_t none[1];
    uint32_t n = 0;
    assert_int_equal(vkq_tokenizer_encode(t, "\xC3(", 0, 0, none, 1, &n),
                     VKQ_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkq_last_error(), "not valid UTF-8"));
    vkq_tokenizer_free(t);
}

/* SentencePiece style: <unk> <s> </s>, the byte tokens 3..258, then ▁ a b ▁a ab ▁ab with
 * merges "▁ a" (0), "a b" (1), "▁a b" (2); Prepend ▁ and Replace " " -> ▁; byte fallback. */
static const char SENTENCEPIECE[] =
    "{\"added_tokens\": [{\"id\": 0, \"content\": \"<unk>\", \"special\": true},"
    " {\"id\": 1, \"content\": \"<s>\", \"special\": true},"
    " {\"id\": 2, \"content\": \"</s>\", \"special\": true}],"
    " \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": ["
    "  {\"type\": \"Prepend\", \"prepend\": \"\\u2581\"},"
    "  {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\\u2581\"}]},"
    " \"pre_tokenizer\": null,"
    " \"decoder\": {\"type\": \"Sequence\", \"decoders\": ["
    "  {\"type\": \"Replace\", \"pattern\": {\"String\": \"\\u2581\"}, \"content\": \" \"},"
    "  {\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"},"
    "  {\"type\": \"Strip\", \"content\": \" \", \"start\": 1, \"stop\": 0}]},"
    " \"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"byte_fallback\": true,"
    "  \"merges\": [\"\\u2581 a\", \"a b\", \"\\u2581a b\"], \"vocab\": {%s}}}";

static const char *write_sentencepiece(void)
{
    static char vocab[8192], json[16384];
    int used = snprintf(vocab, sizeof vocab, "\"<unk>\": 0, \"<s>\": 1, \"</s>\": 2");
    for (int b = 0; b < 256; b++)
        used += snprintf(vocab + used, sizeof vocab - (size_t)used, ", \"<0x%02X>\": %d", b,
                         3 + b);
    snprintf(vocab + used, sizeof vocab - (size_t)used,
             ", \"\\u2581\": 259, \"a\": 260, \"b\": 261, \"\\u2581a\": 262, \"ab\": 263,"
             " \"\\u2581ab\": 264");
    snprintf(json, sizeof json, SENTENCEPIECE, vocab);
    return write_file("sp.json", json);
}

static void sentencepiece_bpe_by_hand(void **state)
{
    (void)state;
    vkq_tokenizer *t = NULL;
    OK(vkq_tokenizer_load(write_sentencepiece(), 0, &t));
    /* "ab é" -> "▁ab▁é": ▁ a b ▁ é -> ▁a b ▁ é (0) -> ▁ab ▁ é (2); é has no token: its bytes
     * C3 A9 are ids 3 + 0xC3 and 3 + 0xA9 */
    EXPECT_IDS(t, "ab \xC3\xA9", 264, 259, 3 + 0xC3, 3 + 0xA9);
    /* "ba" -> "▁ba": ▁ b a, no pair merges */
    EXPECT_IDS(t, "ba", 259, 261, 260);
    /* each stretch between added tokens gets its own ▁ */
    EXPECT_IDS(t, "a<s>a", 262, 1, 262);
    expect_round_trip(t, "ab \xC3\xA9", "ab \xC3\xA9");
    expect_round_trip(t, " a<s>b  ", " a<s>b  ");
    assert_string_equal(vkq_tokenizer_decode(t, -1, 264), "ab");
    assert_string_equal(vkq_tokenizer_decode(t, 260, 264), " ab");
    assert_string_equal(vkq_tokenizer_decode(t, 1, 264), "ab");
    assert_string_equal(vkq_tokenizer_decode(t, 260, 3 + 'Z'), "Z");
    /* the text only grows (Prepend, space -> 3-byte ▁), every character gets a token, and the
     * longest pieces are the 6-byte "<0xXX>": at least one token per 6 bytes */
    assert_int_equal(vkq_tokenizer_min_tokens(t, 12), 2);
    assert_int_equal(vkq_tokenizer_min_tokens(t, 11), 1);
    vkq_tokenizer_free(t);
}

static void directory_and_tok_bin_are_told_apart(void **state)
{
    (void)state;
    const char *dir = test_path(temp_dir, "model");
    assert_int_equal(mkdir(dir, 0700), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(" \n{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, "
          "\"merges\": [[\"a\", \"b\"]]}}",
          f);
    fclose(f);
    vkq_tokenizer *t = NULL;
    OK(vkq_tokenizer_load(dir, 0, &t));
    EXPECT_IDS(t, "abba", 2, 1, 0);
    /* no unknown or byte tokens: "c" has no token and vanishes, so no lower bound */
    int32_t none[1];
    uint32_t n = 1;
    OK(vkq_tokenizer_encode(t, "ccc", 0, 0, none, 1, &n));
    assert_int_equal(n, 0);
    assert_int_equal(vkq_tokenizer_min_tokens(t, 1000), 0);
    vkq_tokenizer_free(t);
    const char *bin = test_path(temp_dir, "tok.bin");
    OK(vkq_tokenizer_write_byte_level(bin));
    OK(vkq_tokenizer_load(bin, 0, &t));
    assert_int_equal(vkq_tokenizer_vocab_size(t), VKQ_BYTE_TOKENIZER_VOCAB);
    assert_int_equal(vkq_tokenizer_bos(t), VKQ_TOKEN_BOS);
    vkq_tokenizer_free(t);
    unlink(path);
    rmdir(dir);
    unlink(bin);
}

static const char MINIMAL_MODEL[] =
    "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": "
    "[\"a b\"]}";

static void expect_failure(const char *name, const char *text, vkq_status want,
                           const char *message)
{
    const char *path = write_file(name, text);
    vkq_tokenizer *t = (vkq_tokenizer *)1;
    vkq_status s = vkq_tokenizer_load(path, 0, &t);
    if (s != want || !strstr(vkq_last_error(), message) || !strstr(vkq_last_error(), path) ||
        strchr(vkq_last_error(), '\n'))
        fail_msg("%s: got %d \"%s\", want %d with \"%s\"", text, s, vkq_last_error(), want,
                 message);
    assert_null(t);
    unlink(path);
}

static void malformed_tokenizer_json_fails_in_one_line(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        vkq_status status;
        const char *message;
    } CASES[] = {
        {"{\"model\": ", VKQ_ERR_FORMAT, "malformed JSON"},
        {"{\"model\": {\"type\": \"BPE\"}} trailing", VKQ_ERR_FORMAT, "malformed JSON"},
        {"{}", VKQ_ERR_FORMAT, "no \"model\""},
        {"{\"model\": []}", VKQ_ERR_FORMAT, "\"model\" must be an object"},
        {"{\"model\": {\"vocab\": {}}}", VKQ_ERR_FORMAT, "model.type must be a string"},
        {"{\"model\": {\"type\": \"WordPiece\"}}", VKQ_ERR_UNSUPPORTED,
         "model type \"WordPiece\" is not supported"},
        {"{\"model\": {\"type\": \"Unigram\"}}", VKQ_ERR_UNSUPPORTED, "\"Unigram\""},
        {"{\"model\": {\"type\": \"BPE\", \"merges\": []}}", VKQ_ERR_FORMAT,
         "model has no \"vocab\""},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": [\"a\"], \"merges\": []}}", VKQ_ERR_FORMAT,
         "model.vocab must be an object"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}", VKQ_ERR_FORMAT,
         "model.vocab is empty"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"0\"}, \"merges\": []}}",
         VKQ_ERR_FORMAT, "model.vocab[\"a\"] must be a token id"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 1.5}, \"merges\": []}}",
         VKQ_ERR_FORMAT, "must be a token id"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}",
         VKQ_ERR_FORMAT, "must be a token id"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 5333330}, \"merges\": []}}",
         VKQ_ERR_FORMAT, "model.vocab[\"a\"] must be a token id (an integer from 0 to 4194303)"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"a\": 1}, \"merges\": []}}",
         VKQ_ERR_FORMAT, "duplicate key \"a\" in one object"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}}}", VKQ_ERR_FORMAT,
         "model has no \"merges\""},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": {}}}",
         VKQ_ERR_FORMAT, "model.merges must be an array"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"ab\"]}}",
         VKQ_ERR_FORMAT, "model.merges[0] \"ab\" is not two tokens and one space"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [[\"a\"]]}}",
         VKQ_ERR_FORMAT, "model.merges[0] must be a string \"a b\" or a pair"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [7]}}",
         VKQ_ERR_FORMAT, "model.merges[0] must be"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"ab\": 1}, \"merges\": "
         "[\"a b\"]}}",
         VKQ_ERR_FORMAT, "model.merges[0]: \"b\" is not in the vocab"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": "
         "[[\"a\", \"b\"]]}}",
         VKQ_ERR_FORMAT, "the merged \"ab\" is not in the vocab"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], "
         "\"unk_token\": \"?\"}}",
         VKQ_ERR_FORMAT, "unk_token \"?\" is not in the vocab"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], "
         "\"byte_fallback\": 1}}",
         VKQ_ERR_FORMAT, "\"byte_fallback\" must be true or false"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], "
         "\"end_of_word_suffix\": \"</w>\"}}",
         VKQ_ERR_UNSUPPORTED, "model.end_of_word_suffix is not supported"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
        expect_failure("bad.json", CASES[i].text, CASES[i].status, CASES[i].message);
}

static void malformed_parts_fail_in_one_line(void **state)
{
    (void)state;
    static const struct {
        const char *part;
        vkq_status status;
        const char *message;
    } CASES[] = {
        {"\"added_tokens\": {}", VKQ_ERR_FORMAT, "\"added_tokens\" must be an array"},
        {"\"added_tokens\": [{\"id\": 5}]", VKQ_ERR_FORMAT,
         "added_tokens[0]: \"content\" must be a non-empty string"},
        {"\"added_tokens\": [{\"content\": \"<x>\"}]", VKQ_ERR_FORMAT,
         "added_tokens[0].id must be a token id"},
        {"\"added_tokens\": [{\"id\": 5, \"content\": \"<x>\", \"special\": \"yes\"}]",
         VKQ_ERR_FORMAT, "added_tokens[0]: \"special\" must be true or false"},
        {"\"normalizer\": {\"type\": \"BertNormalizer\"}", VKQ_ERR_UNSUPPORTED,
         "normalizer type \"BertNormalizer\" is not supported"},
        {"\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": "
         "\"Lowercase\"}]}",
         VKQ_ERR_UNSUPPORTED, "normalizer type \"Lowercase\""},
        {"\"normalizer\": \"NFC\"", VKQ_ERR_FORMAT, "a normalizer must be an object"},
        {"\"normalizer\": {\"type\": \"Prepend\"}", VKQ_ERR_FORMAT,
         "a Prepend normalizer needs a \"prepend\" string"},
        {"\"normalizer\": {\"type\": \"Replace\", \"pattern\": {\"Regex\": \" +\"}, "
         "\"content\": \" \"}",
         VKQ_ERR_UNSUPPORTED, "Replace normalizer with a Regex pattern"},
        {"\"pre_tokenizer\": {\"type\": \"Whitespace\"}", VKQ_ERR_UNSUPPORTED,
         "pre-tokenizer type \"Whitespace\" is not supported"},
        {"\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": 3}", VKQ_ERR_FORMAT,
         "a Sequence pre-tokenizer needs a \"pretokenizers\" array"},
        {"\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(a\"}, "
         "\"behavior\": \"Isolated\"}",
         VKQ_ERR_FORMAT, "pattern \"(a\" does not compile"},
        {"\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"a\"}, "
         "\"behavior\": \"MergedWithNext\"}",
         VKQ_ERR_UNSUPPORTED, "Split behavior \"MergedWithNext\" is not supported"},
        {"\"pre_tokenizer\": {\"type\": \"Split\", \"behavior\": \"Isolated\"}", VKQ_ERR_FORMAT,
         "a Split pre-tokenizer needs a pattern"},
        {"\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": "
         "\"ByteLevel\"}, {\"type\": \"Metaspace\"}]}",
         VKQ_ERR_UNSUPPORTED, "ByteLevel pre-tokenizer is supported only as the last one"},
        {"\"pre_tokenizer\": {\"type\": \"Metaspace\", \"split\": true}", VKQ_ERR_UNSUPPORTED,
         "\"split\": true is not supported"},
        {"\"decoder\": {\"type\": \"WordPiece\"}", VKQ_ERR_UNSUPPORTED,
         "decoder type \"WordPiece\" is not supported"},
        {"\"decoder\": {\"type\": \"Sequence\"}", VKQ_ERR_FORMAT,
         "a Sequence decoder needs a \"decoders\" array"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "{%s, %s}", MINIMAL_MODEL, CASES[i].part);
        expect_failure("bad.json", text, CASES[i].status, CASES[i].message);
    }
}

static void malformed_config_fails_in_one_line(void **state)
{
    (void)state;
    static const struct {
        const char *config;
        const char *message;
    } CASES[] = {
        {"{\"bos_token\": ", "tokenizer_config.json:1:15: malformed JSON"},
        {"[1]", "a tokenizer_config.json must be a JSON object"},
        {"{\"bos_token\": 3}", "\"bos_token\" must be a string, an object"},
        {"{\"eos_token\": \"</s>\"}", "eos_token \"</s>\" is not in the tokenizer's vocabulary"},
        {"{\"eos_token\": {\"content\": 1}}", "\"eos_token\" must be a string"},
        {"{\"chat_template\": 5}", "chat_template must be a string"},
        {"{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"x\"}]}",
         "chat_template is a list without a \"default\""},
    };
    char tokenizer[256], path[512];
    snprintf(tokenizer, sizeof tokenizer, "{%s}", MINIMAL_MODEL);
    snprintf(path, sizeof path, "%s", write_file("tokenizer.json", tokenizer));
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const char *config = write_file("tokenizer_config.json", CASES[i].config);
        vkq_tokenizer *t = NULL;
        assert_int_equal(vkq_tokenizer_load(path, 0, &t), VKQ_ERR_FORMAT);
        if (!strstr(vkq_last_error(), CASES[i].message) || !strstr(vkq_last_error(), config))
            fail_msg("%s: got \"%s\"", CASES[i].config, vkq_last_error());
        assert_null(t);
    }
    /* a template of no known family is an error only when the format is asked for */
    write_file("tokenizer_config.json", "{\"chat_template\": \"{{ messages }}\", "
                                        "\"eos_token\": \"ab\"}");
    vkq_tokenizer *t = NULL;
    OK(vkq_tokenizer_load(path, 0, &t));
    assert_int_equal(vkq_tokenizer_eos(t), 2);
    vkq_chat_format format;
    assert_int_equal(vkq_tokenizer_chat_format(t, &format), VKQ_ERR_UNSUPPORTED);
    assert_non_null(strstr(vkq_last_error(), "chatml, llama3, inst or none"));
    vkq_tokenizer_free(t);
    int is_auto;
    assert_int_equal(vkq_chat_format_parse("zephyr", &format, &is_auto),
                     VKQ_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkq_last_error(), "auto, none, chatml, llama3 or inst"));
    OK(vkq_chat_format_parse("auto", &format, &is_auto));
    assert_true(is_auto);
    unlink(test_path(temp_dir, "tokenizer_config.json"));
    unlink(path);
}

static int make_temp_dir(void **state)
{
    (void)state;
    return test_make_temp_dir(temp_dir, "hf-tokenizer");
}

static int remove_temp_dir(void **state)
{
    (void)state;
    const char *names[] = {"bytes.json", "sp.json", "bad.json", "tokenizer.json",
                           "tokenizer_config.json"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(test_path(temp_dir, names[i]));
    return rmdir(temp_dir);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "real") == 0) {
        char path[512];
        snprintf(path, sizeof path, "%s/qwen3/tokenizer.json", VKQ_TOKENIZERS_DIR);
        for (int k = 0; k < 3; k++) {
            snprintf(path, sizeof path, "%s/%s/tokenizer.json", VKQ_TOKENIZERS_DIR, REAL[k]);
            if (!test_have_file(path))
                return TEST_SKIPPED;
        }
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(corpus_matches_tokenizers_js),
            cmocka_unit_test(lower_bounds_of_real_tokenizers),
            cmocka_unit_test(special_tokens_come_from_the_config),
            cmocka_unit_test(qwen_prompt_renders_as_its_template),
            cmocka_unit_test(llama3_prompt_renders_as_its_template),
            cmocka_unit_test(llama2_has_no_template_but_inst_works),
            cmocka_unit_test(pairs_use_the_chat_format),
            cmocka_unit_test(model_vocab_size_bounds_the_ids),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(byte_level_bpe_by_hand),
        cmocka_unit_test(sentencepiece_bpe_by_hand),
        cmocka_unit_test(directory_and_tok_bin_are_told_apart),
        cmocka_unit_test(malformed_tokenizer_json_fails_in_one_line),
        cmocka_unit_test(malformed_parts_fail_in_one_line),
        cmocka_unit_test(malformed_config_fails_in_one_line),
    };
    return cmocka_run_group_tests(tests, make_temp_dir, remove_temp_dir);
}
