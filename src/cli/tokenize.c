/* vkquill tokenize: a text's token ids (and each token's text); vkquill bench tokenize:
 * encoding speed. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "cli/cli.h"
#include "vkquill/tokenizer.h"

/* Bytes as a quoted string: UTF-8 characters as they are, control and stray bytes as \xNN. */
static void print_quoted(const char *s)
{
    putchar('"');
    for (size_t i = 0; s[i];) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c < 0x20 || c == 0x7F || n == 0 || !vkq_utf8_valid(s + i, strnlen(s + i, n)) ||
                 strnlen(s + i, n) < n)
            n = 0, printf("\\x%02X", c);
        else
            fwrite(s + i, 1, n, stdout);
        i += n ? n : 1;
    }
    putchar('"');
}

static vkq_status print_tokens(const vkq_tokenizer *tok, const int32_t *ids, uint32_t n,
                               int json)
{
    if (json) {
        cJSON *array = cJSON_CreateIntArray((const int *)ids, (int)n);
        if (!array)
            return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
        cli_emit_json(array);
        return VKQ_OK;
    }
    for (uint32_t i = 0; i < n; i++) {
        printf("%d\t", ids[i]);
        print_quoted(vkq_tokenizer_decode(tok, i ? ids[i - 1] : -1, ids[i]));
        putchar('\n');
    }
    return VKQ_OK;
}

static vkq_status encode_text(const vkq_tokenizer *tok, const char *text, int32_t **ids,
                              uint32_t *n)
{
    size_t room = vkq_tokenizer_max_tokens(tok, strlen(text));
    if (room > UINT32_MAX)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "the text is too long to encode at once");
    *ids = malloc((room ? room : 1) * sizeof **ids);
    if (!*ids)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate %zu tokens", room);
    return vkq_tokenizer_encode(tok, text, 0, 0, *ids, (uint32_t)room, n);
}

/* The text of --text, or the whole of --file (which must hold no NUL byte). */
static vkq_status input_text(const char *text, const char *file, char **out)
{
    if (!text == !file)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "tokenize: give --text TEXT or --file FILE");
    if (text)
        return vkq_copy_string(text, out);
    size_t length = 0;
    VKQ_TRY(vkq_read_text_file(file, out, &length));
    if (strlen(*out) != length) {
        free(*out);
        *out = NULL;
        return vkq_fail(VKQ_ERR_FORMAT, "%s: holds a NUL byte", file);
    }
    return VKQ_OK;
}

static vkq_status tokenize(int argc, char **argv)
{
    const char *tokenizer = NULL, *text = NULL, *file = NULL;
    int json = 0;
    const cli_option opts[] = {{"--tokenizer", CLI_STRING, &tokenizer},
                               {"--text", CLI_STRING, &text},
                               {"--file", CLI_STRING, &file},
                               {"--json", CLI_FLAG, &json}};
    VKQ_TRY(cli_parse("tokenize", argc, argv, 2, opts, 4));
    if (!tokenizer)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "tokenize: --tokenizer is required");
    char *input = NULL;
    VKQ_TRY(input_text(text, file, &input));
    vkq_tokenizer *tok = NULL;
    int32_t *ids = NULL;
    uint32_t n = 0;
    vkq_status s = vkq_tokenizer_load(tokenizer, 0, &tok);
    if (s == VKQ_OK)
        s = encode_text(tok, input, &ids, &n);
    if (s == VKQ_OK)
        s = print_tokens(tok, ids, n, json);
    free(ids);
    free(input);
    vkq_tokenizer_free(tok);
    return s;
}

int cmd_tokenize(int argc, char **argv)
{
    vkq_status s = tokenize(argc, argv);
    return s == VKQ_OK ? 0 : cli_fail(s);
}

/* ---- bench tokenize --------------------------------------------------------------------- */

/* Lines of several scripts and kinds, repeated up to the size asked for. */
static const char *const SAMPLE_LINES[] = {
    "The quick brown fox jumps over the lazy dog; it's 12:45 and we'll see 3.14159 of it.",
    "    for (int i = 0; i < n; i++) { total += values[i] * weights[i]; }",
    "Café déjà vu: naïve coöperation, Ångström units, and a résumé in Zürich.",
    "東京は日本の首都です。人工知能の研究が進んでいます。",
    "مرحبا بالعالم، هذه جملة باللغة العربية.",
    "Emoji: 👩‍💻 🇫🇷 👍🏽 and numbers 1234567890 0.001 -42.",
    "\tIndented\twith\ttabs and  double  spaces   here.",
};

static vkq_status sample_text(const char *file, uint32_t megabytes, char **out)
{
    char *base = NULL;
    vkq_strbuf b = {0};
    if (file)
        VKQ_TRY(input_text(NULL, file, &base));
    size_t want = (size_t)megabytes << 20;
    vkq_status s = VKQ_OK;
    for (size_t i = 0; b.length < want && s == VKQ_OK; i++) {
        if (base && base[0] == '\0')
            s = vkq_fail(VKQ_ERR_FORMAT, "%s: empty", file);
        else if (base)
            s = vkq_strbuf_append_str(&b, base);
        else
            s = vkq_strbuf_append_str(&b, SAMPLE_LINES[i % (sizeof SAMPLE_LINES /
                                                            sizeof SAMPLE_LINES[0])]);
        if (s == VKQ_OK)
            s = vkq_strbuf_append(&b, "\n", 1);
    }
    free(base);
    if (s == VKQ_OK)
        s = vkq_strbuf_take(&b, out);
    vkq_strbuf_free(&b);
    return s;
}

/* Encodes text a line at a time, as training samples are; counts the tokens. */
static vkq_status encode_lines(const vkq_tokenizer *tok, char *text, uint64_t *tokens)
{
    vkq_status s = VKQ_OK;
    *tokens = 0;
    for (char *line = text; *line && s == VKQ_OK;) {
        char *newline = strchr(line, '\n');
        if (newline)
            *newline = '\0';
        int32_t *ids = NULL;
        uint32_t n = 0;
        s = encode_text(tok, line, &ids, &n);
        free(ids);
        *tokens += n;
        if (newline)
            *newline = '\n';
        line = newline ? newline + 1 : line + strlen(line);
    }
    return s;
}

static vkq_status bench_one(const char *path, char *text, int json)
{
    vkq_tokenizer *tok = NULL;
    double t0 = cli_now_seconds();
    VKQ_TRY(vkq_tokenizer_load(path, 0, &tok));
    double load = cli_now_seconds() - t0;
    uint64_t tokens = 0;
    t0 = cli_now_seconds();
    vkq_status s = encode_lines(tok, text, &tokens);
    double seconds = cli_now_seconds() - t0;
    vkq_tokenizer_free(tok);
    VKQ_TRY(s);
    double megabytes = (double)strlen(text) / 1e6;
    if (!json) {
        printf("%s: %.1f MB, %llu tokens in %.2f s: %.2f MB/s (loading took %.2f s)\n", path,
               megabytes, (unsigned long long)tokens, seconds, megabytes / seconds, load);
        return VKQ_OK;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "tokenizer", path);
    cJSON_AddNumberToObject(o, "megabytes", megabytes);
    cJSON_AddNumberToObject(o, "tokens", (double)tokens);
    cJSON_AddNumberToObject(o, "seconds", seconds);
    cJSON_AddNumberToObject(o, "mb_per_s", megabytes / seconds);
    cJSON_AddNumberToObject(o, "load_seconds", load);
    cli_emit_json(o);
    return VKQ_OK;
}

vkq_status cli_bench_tokenize(int argc, char **argv)
{
    const char *tokenizers = NULL, *file = NULL;
    uint32_t megabytes = 4;
    int json = 0;
    const cli_option opts[] = {{"--tokenizer", CLI_STRING, &tokenizers},
                               {"--file", CLI_STRING, &file},
                               {"--mb", CLI_U32, &megabytes},
                               {"--json", CLI_FLAG, &json}};
    VKQ_TRY(cli_parse("bench tokenize", argc, argv, 3, opts, 4));
    if (!tokenizers)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "bench tokenize: --tokenizer T[,T...] is required");
    char *text = NULL, *list = NULL;
    VKQ_TRY(sample_text(file, megabytes, &text));
    vkq_status s = vkq_copy_string(tokenizers, &list);
    char *save = NULL;
    for (char *path = list ? strtok_r(list, ",", &save) : NULL; path && s == VKQ_OK;
         path = strtok_r(NULL, ",", &save))
        s = bench_one(path, text, json);
    free(list);
    free(text);
    return s;
}
