/* Pairs of the example dataset (assets/examples) with the real tok512.bin from VKQ_MODELS_DIR:
 * the sequences decode to the rendered prompt and target, share every token outside the
 * history block, and drop history under a tighter prompt limit. Exits with 77 (skipped) when
 * the tokenizer is absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "support.h"
#include "vkquill/data.h"

#define TOKENIZER_PATH VKQ_MODELS_DIR "/tok512.bin"
#define EXAMPLES VKQ_SOURCE_DIR "/assets/examples"

enum { TEXT_SIZE = 16384 };

static vkq_tokenizer *tok;
static vkq_dataset reviews;
static vkq_template template;

/* The text of seq[from..to), each token decoded after the one before it (from >= 1). */
static void decode_range(const int32_t *seq, uint32_t from, uint32_t to, char *text)
{
    size_t length = 0;
    text[0] = '\0';
    for (uint32_t i = from; i < to; i++) {
        const char *piece = vkq_tokenizer_decode(tok, seq[i - 1], seq[i]);
        assert_non_null(piece);
        assert_true(length + strlen(piece) < TEXT_SIZE);
        strcpy(text + length, piece);
        length += strlen(piece);
    }
}

static int starts_with(const char *text, const char *start)
{
    return strncmp(text, start, strlen(start)) == 0;
}

static int ends_with(const char *text, const char *end)
{
    size_t n = strlen(text), m = strlen(end);
    return n >= m && strcmp(text + n - m, end) == 0;
}

/* What the example template renders around the history block, and the block itself. */
static const char BEFORE[] = "Earlier reviews by this reader, newest first:\n\n";

static void render_block(const vkq_sample *s, uint32_t n_history, char *text)
{
    size_t length = 0;
    text[0] = '\0';
    for (uint32_t i = 0; i < n_history; i++)
        length += (size_t)snprintf(text + length, TEXT_SIZE - length, "Book: %s\nReview: %s\n\n",
                                   s->history[i].input, s->history[i].output);
    if (n_history == 0)
        strcpy(text, "No earlier reviews.\n\n");
}

static void expect_decodes_to(const int32_t *seq, uint32_t n, const vkq_sample *s,
                              uint32_t n_history)
{
    static char want[2 * TEXT_SIZE], block[TEXT_SIZE], got[2 * TEXT_SIZE];
    render_block(s, n_history, block);
    snprintf(want, sizeof want, "%s%sBook: %s\nReview: %s", BEFORE, block, s->input, s->target);
    OK(vkq_tokenizer_decode_text(tok, seq, n, got, sizeof got, NULL));
    assert_string_equal(got, want);
}

static void pairs_decode_to_the_rendered_text(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < reviews.count; i++) {
        const vkq_sample *s = &reviews.samples[i];
        vkq_prompt_limits limits = {0};
        vkq_pair p;
        OK(vkq_pair_build(tok, &template, &limits, s, &p));
        assert_int_equal(p.history_used, s->n_history);
        expect_decodes_to(p.with_history, p.n_with, s, p.history_used);
        expect_decodes_to(p.without_history, p.n_without, s, 0);
        /* the response alone decodes to the target: its leading space is the dummy prefix */
        static char response[TEXT_SIZE];
        OK(vkq_tokenizer_decode_text(tok, p.with_history + p.with_prompt, p.n_response - 1,
                                     response, sizeof response, NULL));
        assert_string_equal(response, s->target);
        vkq_pair_free(&p);
    }
}

static void shared_tokens_cover_all_text_outside_the_block(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < reviews.count; i++) {
        const vkq_sample *s = &reviews.samples[i];
        if (s->n_history == 0) /* then both sequences are the same */
            continue;
        vkq_prompt_limits limits = {0};
        vkq_pair p;
        OK(vkq_pair_build(tok, &template, &limits, s, &p));
        uint32_t shorter = p.n_with < p.n_without ? p.n_with : p.n_without, head = 0, tail = 0;
        while (head < shorter && p.with_history[head] == p.without_history[head])
            head++;
        while (tail < shorter &&
               p.with_history[p.n_with - 1 - tail] == p.without_history[p.n_without - 1 - tail])
            tail++;
        assert_true(tail >= p.n_response);
        static char text[TEXT_SIZE], after[TEXT_SIZE];
        decode_range(p.with_history, 1, head, text);
        assert_true(starts_with(text, BEFORE));
        decode_range(p.with_history, p.n_with - tail, p.n_with - 1, text);
        snprintf(after, sizeof after, "Book: %s\nReview: %s", s->input, s->target);
        if (!ends_with(text, after))
            fail_msg("sample %u: the shared tail \"%s\" does not cover \"%s\"", i, text, after);
        vkq_pair_free(&p);
    }
}

static void a_tighter_limit_drops_the_oldest_items(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < reviews.count; i++) {
        const vkq_sample *s = &reviews.samples[i];
        if (s->n_history == 0)
            continue;
        vkq_prompt_limits limits = {0};
        vkq_pair full, cut;
        OK(vkq_pair_build(tok, &template, &limits, s, &full));
        limits.max_prompt_tokens = full.with_prompt - 1;
        OK(vkq_pair_build(tok, &template, &limits, s, &cut));
        assert_int_equal(cut.history_used, full.history_used - 1);
        assert_true(cut.with_prompt <= limits.max_prompt_tokens);
        expect_decodes_to(cut.with_history, cut.n_with, s, cut.history_used);
        vkq_pair_free(&full);
        vkq_pair_free(&cut);
    }
}

static int load_all(void **state)
{
    (void)state;
    if (vkq_tokenizer_load(TOKENIZER_PATH, 512, &tok) != VKQ_OK ||
        vkq_dataset_load_jsonl(EXAMPLES "/reviews.jsonl", 0, &reviews) != VKQ_OK ||
        vkq_template_load(EXAMPLES "/template.json", &template) != VKQ_OK) {
        print_error("%s\n", vkq_last_error());
        return -1;
    }
    return 0;
}

static int free_all(void **state)
{
    (void)state;
    vkq_template_free(&template);
    vkq_dataset_free(&reviews);
    vkq_tokenizer_free(tok);
    return 0;
}

int main(void)
{
    if (!test_have_file(TOKENIZER_PATH))
        return TEST_SKIPPED;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pairs_decode_to_the_rendered_text),
        cmocka_unit_test(shared_tokens_cover_all_text_outside_the_block),
        cmocka_unit_test(a_tighter_limit_drops_the_oldest_items),
    };
    return cmocka_run_group_tests(tests, load_all, free_all);
}
