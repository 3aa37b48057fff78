/* The synthetic benchmark: determinism, the split by time and the histories, truth spans
 * recomputed here from the slots (not with the generator's code), the measures on
 * hand-worked cases, and truth files that are bad in one way each. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "support.h"
#include "vkquill/data.h"
#include "vkquill/synth.h"

static char temp_dir[TEST_DIR_SIZE];

enum { PATH_SIZE = 512 };

static const char *const FILES[] = {"train.jsonl", "val.jsonl", "test.jsonl", "truth.jsonl"};
static const char *const SPLITS[] = {"train", "val", "test"};

/* ---- files ----------------------------------------------------------------------------- */

/* A path in the temp dir, in the caller's buffer of PATH_SIZE bytes. */
static char *subdir(char *out, const char *name)
{
    snprintf(out, PATH_SIZE, "%s", test_path(temp_dir, name));
    return out;
}

static void remove_synth_dir(const char *dir)
{
    for (size_t i = 0; i < sizeof FILES / sizeof FILES[0]; i++)
        assert_int_equal(unlink(test_path(dir, FILES[i])), 0);
    assert_int_equal(rmdir(dir), 0);
}

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = test_read_file(a, &na), *y = test_read_file(b, &nb);
    assert_non_null(x);
    assert_non_null(y);
    int same = na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static void synth(const char *dir, uint32_t users, uint32_t per_user, uint64_t seed)
{
    vkq_synth_options o = {users, per_user, seed};
    OK(vkq_synth_write(&o, dir));
}

/* ---- determinism ----------------------------------------------------------------------- */

static void same_seed_same_bytes_other_seed_other_bytes(void **state)
{
    (void)state;
    char a[PATH_SIZE], b[PATH_SIZE], c[PATH_SIZE];
    synth(subdir(a, "a"), 5, 6, 7);
    synth(subdir(b, "b"), 5, 6, 7);
    synth(subdir(c, "c"), 5, 6, 8);
    for (size_t i = 0; i < sizeof FILES / sizeof FILES[0]; i++) {
        assert_true(same_file(test_path(a, FILES[i]), test_path(b, FILES[i])));
        assert_false(same_file(test_path(a, FILES[i]), test_path(c, FILES[i])));
    }
    remove_synth_dir(a);
    remove_synth_dir(b);
    remove_synth_dir(c);
}

static void bad_options_are_refused(void **state)
{
    (void)state;
    char x[PATH_SIZE];
    subdir(x, "x");
    vkq_synth_options o = {2, 2, 1};
    assert_int_equal(vkq_synth_write(&o, x), VKQ_ERR_INVALID_ARGUMENT);
    assert_string_equal(vkq_last_error(), "synthetic data: at least 3 items per user are needed "
                                          "(train, val and test), got 2");
    o = (vkq_synth_options){0, 5, 1};
    assert_int_equal(vkq_synth_write(&o, x), VKQ_ERR_INVALID_ARGUMENT);
    assert_string_equal(vkq_last_error(),
                        "synthetic data: the number of users must be 1 to 10000, got 0");
    assert_int_equal(access(x, F_OK), -1); /* nothing was created */
}

/* ---- split by time and histories ------------------------------------------------------- */

static void load_split(const char *dir, const char *split, vkq_dataset *d)
{
    char name[32];
    snprintf(name, sizeof name, "%s.jsonl", split);
    OK(vkq_dataset_load_jsonl(test_path(dir, name), 0, d));
}

static void expect_item(const vkq_history_item *h, const vkq_sample *s)
{
    assert_string_equal(h->input, s->input);
    assert_string_equal(h->output, s->target);
    assert_non_null(h->time);
}

/* Newest first: every time is later than the next (ISO dates order as strings). */
static void expect_newest_first(const vkq_sample *s)
{
    for (uint32_t i = 0; i + 1 < s->n_history; i++)
        assert_true(strcmp(s->history[i].time, s->history[i + 1].time) > 0);
}

/* Two users of four items: train holds items 1 and 2 of each user, val item 3, test item 4;
 * item k's history is items k-1 .. 1. */
static void splits_by_time_with_all_earlier_items_as_history(void **state)
{
    (void)state;
    char dir[PATH_SIZE];
    subdir(dir, "small");
    synth(dir, 2, 4, 3);
    vkq_dataset train, val, test;
    load_split(dir, "train", &train);
    load_split(dir, "val", &val);
    load_split(dir, "test", &test);
    assert_int_equal(train.count, 4);
    assert_int_equal(val.count, 2);
    assert_int_equal(test.count, 2);
    for (uint32_t u = 0; u < 2; u++) {
        const char *user = u == 0 ? "user001" : "user002";
        const vkq_sample *t1 = &train.samples[2 * u], *t2 = &train.samples[2 * u + 1];
        const vkq_sample *v = &val.samples[u], *x = &test.samples[u];
        assert_string_equal(t1->user, user);
        assert_string_equal(t2->user, user);
        assert_string_equal(v->user, user);
        assert_string_equal(x->user, user);
        assert_int_equal(t1->n_history, 0);
        assert_int_equal(t2->n_history, 1);
        expect_item(&t2->history[0], t1);
        assert_int_equal(v->n_history, 2);
        expect_item(&v->history[0], t2);
        expect_item(&v->history[1], t1);
        assert_int_equal(x->n_history, 3);
        expect_item(&x->history[0], v);
        expect_item(&x->history[1], t2);
        expect_item(&x->history[2], t1);
        expect_newest_first(x);
    }
    vkq_dataset_free(&train);
    vkq_dataset_free(&val);
    vkq_dataset_free(&test);
    remove_synth_dir(dir);
}

/* ---- truth spans, recomputed ------------------------------------------------------------ */

static const char *slot(const vkq_synth_sample *s, vkq_synth_slot which)
{
    return s->slots[which];
}

static void push(vkq_synth_span *spans, uint32_t *n, size_t start, size_t length,
                 vkq_synth_slot which)
{
    spans[(*n)++] = (vkq_synth_span){(uint32_t)start, (uint32_t)(start + length), which};
}

/* The spans the target must have, found from the slots alone: the target is
 * OPENER " the " ITEM " is " RATING " and " ADJECTIVE PUNCT [" It " PHRASE PUNCT] " " SIGNOFF. */
static uint32_t expected_spans(const vkq_synth_sample *s, vkq_synth_span *spans)
{
    const char *t = s->target, *punct = slot(s, VKQ_SYNTH_PUNCT);
    size_t n = strlen(t), np = strlen(punct), ns = strlen(slot(s, VKQ_SYNTH_SIGNOFF));
    char first_end[64];
    snprintf(first_end, sizeof first_end, " and %s%s ", slot(s, VKQ_SYNTH_ADJECTIVE), punct);
    const char *at = strstr(t, first_end);
    assert_non_null(at);
    size_t adjective = (size_t)(at - t) + 5, na = strlen(slot(s, VKQ_SYNTH_ADJECTIVE));
    uint32_t count = 0;
    push(spans, &count, 0, strlen(slot(s, VKQ_SYNTH_OPENER)), VKQ_SYNTH_OPENER);
    push(spans, &count, adjective, na, VKQ_SYNTH_ADJECTIVE);
    push(spans, &count, adjective + na, np, VKQ_SYNTH_PUNCT);
    if (strcmp(slot(s, VKQ_SYNTH_LENGTH), "long") == 0) {
        push(spans, &count, adjective + na + np + 1, 2, VKQ_SYNTH_LENGTH);
        push(spans, &count, n - ns - 1 - np, np, VKQ_SYNTH_PUNCT);
    }
    push(spans, &count, n - ns, ns, VKQ_SYNTH_SIGNOFF);
    return count;
}

static const char *const RATING_WORDS[] = {"poor", "weak", "fine", "good", "great"};

/* The input decides " the ITEM is RATING and " right after the opener; returns the category. */
static void expect_input_words(const vkq_sample *d, const vkq_synth_sample *s, char *category)
{
    char colour[32], noun[32], middle[128];
    unsigned rating;
    assert_int_equal(sscanf(d->input, "item: %31s %31[a-z]; category: %31[a-z]; rating: %u",
                            colour, noun, category, &rating),
                     4);
    assert_true(rating >= 1 && rating <= 5);
    snprintf(middle, sizeof middle, " the %s %s is %s and ", colour, noun,
             RATING_WORDS[rating - 1]);
    assert_memory_equal(s->target + strlen(slot(s, VKQ_SYNTH_OPENER)), middle, strlen(middle));
}

/* A long target's second sentence is "It " + the category's phrase + punct: the same phrase
 * for the same category, whoever writes it. */
typedef struct phrase_book {
    char category[16][32], phrase[16][64];
    uint32_t count;
} phrase_book;

static void expect_category_phrase(const vkq_synth_sample *s, const vkq_synth_span *spans,
                                   const char *category, phrase_book *book)
{
    if (strcmp(slot(s, VKQ_SYNTH_LENGTH), "long") != 0)
        return;
    char phrase[64];
    size_t start = spans[3].end + 1, end = spans[4].start;
    assert_true(end > start && end - start < sizeof phrase);
    memcpy(phrase, s->target + start, end - start);
    phrase[end - start] = '\0';
    for (uint32_t i = 0; i < book->count; i++)
        if (strcmp(book->category[i], category) == 0) {
            assert_string_equal(book->phrase[i], phrase);
            return;
        }
    assert_true(book->count < 16);
    snprintf(book->category[book->count], 32, "%s", category);
    snprintf(book->phrase[book->count++], 64, "%s", phrase);
}

static void expect_truth_of_split(const char *dir, const char *split, phrase_book *book)
{
    vkq_dataset d;
    vkq_synth_truth t;
    load_split(dir, split, &d);
    OK(vkq_synth_truth_load(test_path(dir, "truth.jsonl"), split, &t));
    assert_int_equal(t.count, d.count);
    for (uint32_t i = 0; i < t.count; i++) {
        const vkq_synth_sample *s = &t.samples[i];
        assert_int_equal(s->line, i + 1);
        assert_string_equal(s->user, d.samples[i].user);
        assert_string_equal(s->target, d.samples[i].target);
        vkq_synth_span want[8];
        uint32_t n = expected_spans(s, want);
        assert_int_equal(s->n_spans, n);
        for (uint32_t k = 0; k < n; k++) {
            assert_int_equal(s->spans[k].start, want[k].start);
            assert_int_equal(s->spans[k].end, want[k].end);
            assert_int_equal(s->spans[k].slot, want[k].slot);
        }
        char category[32];
        expect_input_words(&d.samples[i], s, category);
        expect_category_phrase(s, s->spans, category, book);
        size_t length = strlen(s->target);
        assert_true(length >= 40 && length <= 90);
        assert_true(strlen(d.samples[i].input) <= 60);
    }
    vkq_synth_truth_free(&t);
    vkq_dataset_free(&d);
}

/* Also: a user's slots are the same in every sample, and both lengths occur. */
static void spans_cover_the_users_choices_and_nothing_else(void **state)
{
    (void)state;
    char dir[PATH_SIZE];
    subdir(dir, "full");
    synth(dir, 24, 12, 1);
    phrase_book book = {0};
    for (int i = 0; i < 3; i++)
        expect_truth_of_split(dir, SPLITS[i], &book);
    assert_true(book.count >= 4); /* long targets of several categories were seen */
    vkq_synth_truth train, test;
    OK(vkq_synth_truth_load(test_path(dir, "truth.jsonl"), "train", &train));
    OK(vkq_synth_truth_load(test_path(dir, "truth.jsonl"), "test", &test));
    assert_int_equal(train.count, 24 * 10);
    for (uint32_t i = 0; i < train.count; i++)
        for (int k = 0; k < VKQ_SYNTH_SLOTS; k++)
            assert_string_equal(train.samples[i].slots[k], test.samples[i / 10].slots[k]);
    vkq_synth_truth_free(&train);
    vkq_synth_truth_free(&test);
    remove_synth_dir(dir);
}

/* ---- truth files that are bad in one way each -------------------------------------------- */

#define GOOD_SLOTS                                                                          \
    "\"slots\": {\"opener\": \"Well,\", \"adjective\": \"cozy\", \"punct\": \"!\", "        \
    "\"signoff\": \"Ciao!\", \"length\": \"short\"}"

static void expect_bad_truth(const char *text, const char *suffix)
{
    char path[PATH_SIZE];
    subdir(path, "truth.jsonl");
    test_write_text(path, text);
    vkq_synth_truth t;
    assert_int_equal(vkq_synth_truth_load(path, "test", &t), VKQ_ERR_FORMAT);
    char want[1024];
    snprintf(want, sizeof want, "%s%s", path, suffix);
    assert_string_equal(vkq_last_error(), want);
    assert_int_equal(t.count, 0);
    assert_int_equal(unlink(path), 0);
}

static void bad_truth_files_name_the_line(void **state)
{
    (void)state;
    const char *good = "{\"split\": \"test\", \"line\": 1, \"user\": \"u\", \"target\": "
                       "\"Well, a cozy! Ciao!\", " GOOD_SLOTS ", \"spans\": [[0, 5, \"opener\"], "
                       "[8, 12, \"adjective\"], [12, 13, \"punct\"], [14, 19, \"signoff\"]]}\n";
    char path[PATH_SIZE];
    subdir(path, "truth.jsonl");
    test_write_text(path, good);
    vkq_synth_truth t;
    OK(vkq_synth_truth_load(path, "test", &t));
    assert_int_equal(t.count, 1);
    assert_int_equal(t.samples[0].n_spans, 4);
    assert_int_equal(t.samples[0].spans[1].slot, VKQ_SYNTH_ADJECTIVE);
    vkq_synth_truth_free(&t);
    assert_int_equal(vkq_synth_truth_load(path, "dev", &t), VKQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(unlink(path), 0);

    char text[2048];
    snprintf(text, sizeof text, "%s{\"split\": \"test\",\n", good);
    expect_bad_truth(text, ":2:18: malformed JSON");
    expect_bad_truth("{\"split\": \"dev\"}\n", ":1: unknown split \"dev\"");
    expect_bad_truth("{\"split\": \"test\", \"line\": 0}\n",
                     ":1: field \"line\" must be a positive integer");
    expect_bad_truth("{\"split\": \"test\", \"line\": 1, \"user\": \"u\"}\n",
                     ":1: missing field \"target\"");
    snprintf(text, sizeof text, "%s\n%s", good, good);
    expect_bad_truth(text, ":3: line 1 of its split is out of order (2 expected)");
    expect_bad_truth("{\"split\": \"test\", \"line\": 1, \"user\": \"u\", \"target\": \"x\", "
                     "\"slots\": {\"opener\": \"Hi,\"}}\n",
                     ":1: \"slots.opener\" is \"Hi,\", not one of its choices");
    expect_bad_truth("{\"split\": \"test\", \"line\": 1, \"user\": \"u\", \"target\": "
                     "\"Well, a cozy! Ciao!\", " GOOD_SLOTS ", \"spans\": [[0, 4, \"opener\"]]}",
                     ":1: spans[0] [0, 4) does not hold the opener \"Well,\"");
    expect_bad_truth("{\"split\": \"test\", \"line\": 1, \"user\": \"u\", \"target\": "
                     "\"Well, a cozy! Ciao!\", " GOOD_SLOTS ", \"spans\": [[0, 50, \"mood\"]]}",
                     ":1: spans[0] names no slot: \"mood\"");
    expect_bad_truth("{\"split\": \"test\", \"line\": 1, \"user\": \"u\", \"target\": "
                     "\"Well, a cozy! Ciao!\", " GOOD_SLOTS ", \"spans\": [[0, -5, \"opener\"]]}",
                     ":1: spans[0] must be [start, end, \"slot\"]");
    snprintf(text, sizeof text, "%s", good);
    memcpy(strstr(text, "\"test\""), "\"val\" ", 6);
    expect_bad_truth(text, ": no line of split \"test\"");
}

/* ---- style accuracy -------------------------------------------------------------------- */

/* Two users: "Honestly," lovely ! Cheers! short, and "Look," grim ... "Peace out." long. */
static void hand_truth(vkq_synth_truth *t, vkq_synth_sample samples[2])
{
    static char *a[VKQ_SYNTH_SLOTS] = {"Honestly,", "lovely", "!", "Cheers!", "short"};
    static char *b[VKQ_SYNTH_SLOTS] = {"Look,", "grim", "...", "Peace out.", "long"};
    memset(samples, 0, 2 * sizeof *samples);
    memcpy(samples[0].slots, a, sizeof a);
    memcpy(samples[1].slots, b, sizeof b);
    *t = (vkq_synth_truth){samples, 2};
}

static double accuracy_of(const char *first, const char *second)
{
    vkq_synth_sample samples[2];
    vkq_synth_truth t;
    hand_truth(&t, samples);
    const char *predictions[2] = {first, second};
    double accuracy = -1;
    OK(vkq_style_accuracy(&t, predictions, 2, &accuracy));
    return accuracy;
}

static void style_accuracy_on_hand_written_predictions(void **state)
{
    (void)state;
    assert_true(accuracy_of("Honestly, the red mug is fine and lovely! Cheers!",
                            " Look, the blue hose is poor and grim... It brightens the "
                            "garden... Peace out.\n") == 1.0);
    /* opener, adjective (grimy is not grim), punct, sign-off and length all wrong */
    assert_true(accuracy_of("Well, the red mug is fine and sleek. It suits any kitchen. Ciao!",
                            "Honestly, the blue hose is poor and grimy! Cheers!") == 0.0);
    /* first: opener, adjective, length right; punct "." and "Cheers" without "!" wrong (3);
     * second: opener, adjective, punct, length (two runs) right, "Peace out" without its
     * "." wrong (4): 7 of 10 */
    assert_true(fabs(accuracy_of("Honestly, the red mug is lovely. Cheers",
                                 "Look, grim... It rocks... Peace out") - 0.7) < 1e-12);
    /* a sign-off glued to the marks is no sign-off, so it is a third sentence: 3 of 5 */
    assert_true(fabs(accuracy_of("Honestly, the red mug is fine and lovely! Cheers!",
                                 "Look, grim... It rocks...Peace out.") - 0.8) < 1e-12);
    vkq_synth_sample samples[2];
    vkq_synth_truth t;
    hand_truth(&t, samples);
    const char *one[1] = {"x"};
    double accuracy;
    assert_int_equal(vkq_style_accuracy(&t, one, 1, &accuracy), VKQ_ERR_INVALID_ARGUMENT);
    assert_string_equal(vkq_last_error(), "style accuracy: 1 predictions for 2 truth samples");
}

/* ---- token flags ----------------------------------------------------------------------- */

static vkq_tokenizer *load_tokenizer(const char *path)
{
    vkq_tokenizer *tok = NULL;
    OK(vkq_tokenizer_load(path, 0, &tok));
    assert_int_equal(unlink(path), 0);
    return tok;
}

/* "Well, it is cozy... Ciao!" with its opener, adjective, punct and sign-off. */
static const char BYTE_TARGET[] = "Well, it is cozy... Ciao!";
static const vkq_synth_span BYTE_SPANS[] = {{0, 5, VKQ_SYNTH_OPENER},
                                            {12, 16, VKQ_SYNTH_ADJECTIVE},
                                            {16, 19, VKQ_SYNTH_PUNCT},
                                            {20, 25, VKQ_SYNTH_SIGNOFF}};

/* The response as vkq_pair_build makes it: " " + 25 target bytes + EOS = 27 tokens. */
static uint32_t response_tokens(const vkq_tokenizer *tok, const char *target)
{
    vkq_template tpl;
    OK(vkq_template_default(&tpl));
    vkq_sample s = {.user = "u", .input = "in", .target = (char *)target, .line = 1};
    vkq_prompt_limits limits = {0};
    vkq_pair p;
    OK(vkq_pair_build(tok, &tpl, &limits, &s, &p));
    assert_int_equal(p.with_history[p.with_prompt], VKQ_TOKEN_FIRST_BYTE + ' ');
    assert_int_equal(p.with_history[p.n_with - 1], VKQ_TOKEN_EOS);
    uint32_t n = p.n_response;
    vkq_pair_free(&p);
    vkq_template_free(&tpl);
    return n;
}

static void token_flags_on_the_byte_level_tokenizer(void **state)
{
    (void)state;
    char path[PATH_SIZE];
    subdir(path, "bytes.bin");
    OK(vkq_tokenizer_write_byte_level(path));
    vkq_tokenizer *tok = load_tokenizer(path);
    uint32_t n = response_tokens(tok, BYTE_TARGET);
    assert_int_equal(n, 27);
    /* token 0 is the dummy space, token i >= 1 is byte i - 1, token 26 is EOS */
    static const uint8_t want[27] = {0, 1, 1, 1, 1, 1,         /*  "Well,"  */
                                     0, 0, 0, 0, 0, 0, 0,      /*  " it is " */
                                     1, 1, 1, 1, 1, 1, 1,      /*  "cozy..." */
                                     0, 1, 1, 1, 1, 1, 0};     /*  " Ciao!" EOS */
    uint8_t flags[28];
    OK(vkq_synth_token_flags(tok, BYTE_TARGET, BYTE_SPANS, 4, flags, n));
    assert_memory_equal(flags, want, sizeof want);
    /* a response cut to three target tokens, then EOS */
    static const uint8_t cut[4] = {0, 1, 1, 0};
    OK(vkq_synth_token_flags(tok, BYTE_TARGET, BYTE_SPANS, 4, flags, 4));
    assert_memory_equal(flags, cut, sizeof cut);
    assert_int_equal(vkq_synth_token_flags(tok, BYTE_TARGET, BYTE_SPANS, 4, flags, 28),
                     VKQ_ERR_INVALID_ARGUMENT);
    vkq_synth_span outside = {20, 26, VKQ_SYNTH_SIGNOFF};
    assert_int_equal(vkq_synth_token_flags(tok, BYTE_TARGET, &outside, 1, flags, 27),
                     VKQ_ERR_INVALID_ARGUMENT);
    vkq_tokenizer_free(tok);
}

/* Worked by hand from the choice lists: "Well," is the only opener starting with W, "cozy"
 * the only adjective with c; "." and "..." share the first dot, so the second one decides;
 * "Cheers!" and "Ciao!" share the C. */
static void decisive_bytes_are_where_the_choices_part(void **state)
{
    (void)state;
    vkq_synth_span out[16];
    uint32_t n = 0;
    OK(vkq_synth_decisive_spans(BYTE_TARGET, BYTE_SPANS, 4, out, 16, &n));
    static const uint32_t want[] = {0, 12, 16, 17, 20, 21};
    assert_int_equal(n, 6);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(out[i].start, want[i]);
        assert_int_equal(out[i].end, want[i] + 1);
    }
    assert_int_equal(out[3].slot, VKQ_SYNTH_PUNCT);
    /* a "." writer: the byte after the span (here the space) tells "." from "..." */
    static const vkq_synth_span dot = {8, 9, VKQ_SYNTH_PUNCT};
    OK(vkq_synth_decisive_spans("It is ok. Ciao!", &dot, 1, out, 16, &n));
    assert_int_equal(n, 2);
    assert_int_equal(out[0].start, 8);
    assert_int_equal(out[1].start, 9);
    static const vkq_synth_span length = {10, 12, VKQ_SYNTH_LENGTH};
    OK(vkq_synth_decisive_spans("Well, ok! It fits!", &length, 1, out, 16, &n));
    assert_int_equal(n, 1);
    assert_int_equal(out[0].start, 10);
    assert_int_equal(vkq_synth_decisive_spans(BYTE_TARGET, BYTE_SPANS, 4, out, 5, &n),
                     VKQ_ERR_INVALID_ARGUMENT);
    static const vkq_synth_span outside = {20, 26, VKQ_SYNTH_SIGNOFF};
    assert_int_equal(vkq_synth_decisive_spans(BYTE_TARGET, &outside, 1, out, 16, &n),
                     VKQ_ERR_INVALID_ARGUMENT);
}

/* A tok.bin of the special tokens, the 256 byte tokens, and then pieces with scores. */
static void write_vocabulary(const char *path, const char *const *pieces, const float *scores,
                             int n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    int32_t max_length = 6;
    fwrite(&max_length, sizeof max_length, 1, f);
    for (int id = 0; id < 259 + n; id++) {
        char byte[8];
        if (id >= 3 && id < 259)
            snprintf(byte, sizeof byte, "<0x%02X>", id - 3);
        const char *piece = id == 0 ? "<unk>" : id == 1 ? "<s>" : id == 2 ? "</s>"
                          : id < 259 ? byte : pieces[id - 259];
        float score = id < 259 ? 0.0f : scores[id - 259];
        int32_t length = (int32_t)strlen(piece);
        fwrite(&score, sizeof score, 1, f);
        fwrite(&length, sizeof length, 1, f);
        fwrite(piece, 1, (size_t)length, f);
    }
    assert_int_equal(fclose(f), 0);
}

/* "Hi, ok!" merges to " Hi" "," " ok" "!": the dummy space joins the first token, which is
 * flagged for overlapping the opener; " ok" is flagged only when a span touches it. */
static void token_flags_by_overlap_on_merged_tokens(void **state)
{
    (void)state;
    static const char *const pieces[] = {" ", "H", "i", ",", "o", "k", "!", " H", " Hi", "ok",
                                         " ok"};
    static const float scores[] = {0, 0, 0, 0, 0, 0, 0, 1, 2, 1, 3};
    char path[PATH_SIZE];
    subdir(path, "merges.bin");
    write_vocabulary(path, pieces, scores, 11);
    vkq_tokenizer *tok = load_tokenizer(path);
    int32_t ids[10];
    uint32_t count;
    OK(vkq_tokenizer_encode(tok, "Hi, ok!", 0, 0, ids, 10, &count));
    assert_int_equal(count, 4);
    assert_string_equal(vkq_tokenizer_piece(tok, ids[0]), " Hi");
    assert_string_equal(vkq_tokenizer_piece(tok, ids[2]), " ok");
    vkq_synth_span spans[2] = {{0, 3, VKQ_SYNTH_OPENER}, {6, 7, VKQ_SYNTH_PUNCT}};
    uint8_t flags[5];
    static const uint8_t want[5] = {1, 1, 0, 1, 0};
    OK(vkq_synth_token_flags(tok, "Hi, ok!", spans, 2, flags, 5));
    assert_memory_equal(flags, want, sizeof want);
    vkq_synth_span o = {4, 5, VKQ_SYNTH_ADJECTIVE}; /* the "o" of "ok" */
    static const uint8_t want_o[5] = {0, 0, 1, 0, 0};
    OK(vkq_synth_token_flags(tok, "Hi, ok!", &o, 1, flags, 5));
    assert_memory_equal(flags, want_o, sizeof want_o);
    vkq_tokenizer_free(tok);
}

/* ---- detection ------------------------------------------------------------------------- */

static void detection_scores_on_a_hand_worked_example(void **state)
{
    (void)state;
    /* above 0.05: tokens 0, 2, 4 (NaN never is); flagged: 0, 1, 4, 5; both: 0 and 4 */
    const float dce[6] = {0.2f, 0.01f, 0.5f, -0.3f, 0.06f, NAN};
    const uint8_t flags[6] = {1, 1, 0, 0, 1, 1};
    double precision = -1, recall = -1;
    OK(vkq_detection_scores(dce, flags, 6, 0.05f, &precision, &recall));
    assert_true(fabs(precision - 2.0 / 3.0) < 1e-12);
    assert_true(recall == 0.5);
    /* nothing above delta: precision 0/0 and recall 0/4 are both 0 */
    const float low[6] = {0};
    OK(vkq_detection_scores(low, flags, 6, 0.05f, &precision, &recall));
    assert_true(precision == 0.0 && recall == 0.0);
    /* nothing flagged: recall 0/0 is 0 */
    const uint8_t none[6] = {0};
    OK(vkq_detection_scores(dce, none, 6, 0.05f, &precision, &recall));
    assert_true(precision == 0.0 && recall == 0.0);
    /* all of one kind: 1 and 1 */
    OK(vkq_detection_scores(dce, flags, 1, 0.05f, &precision, &recall));
    assert_true(precision == 1.0 && recall == 1.0);
}

static int setup(void **state)
{
    (void)state;
    return test_make_temp_dir(temp_dir, "synth");
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(temp_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_same_bytes_other_seed_other_bytes),
        cmocka_unit_test(bad_options_are_refused),
        cmocka_unit_test(splits_by_time_with_all_earlier_items_as_history),
        cmocka_unit_test(spans_cover_the_users_choices_and_nothing_else),
        cmocka_unit_test(bad_truth_files_name_the_line),
        cmocka_unit_test(style_accuracy_on_hand_written_predictions),
        cmocka_unit_test(token_flags_on_the_byte_level_tokenizer),
        cmocka_unit_test(token_flags_by_overlap_on_merged_tokens),
        cmocka_unit_test(decisive_bytes_are_where_the_choices_part),
        cmocka_unit_test(detection_scores_on_a_hand_worked_example),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
