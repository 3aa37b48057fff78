/* The data layer: JSONL, LaMP and plain-text loading with their exact error messages,
 * templates, and pairs built with a byte-only tokenizer whose encodings are easy to work out
 * by hand: every text becomes the byte tokens of " " + text (the dummy prefix, then one token
 * per byte, since the vocabulary has nothing to merge into). */
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

static char temp_dir[TEST_DIR_SIZE];
static vkq_tokenizer *byte_tok;

/* ---- files ---------------------------------------------------------------------------- */

/* Writes size bytes to NAME in the temp dir; returns its path (one of a few rotating buffers). */
static const char *write_bytes(const char *name, const char *data, size_t size)
{
    return test_write_file(test_path(temp_dir, name), data, size);
}

static const char *write_text(const char *name, const char *text)
{
    return write_bytes(name, text, strlen(text));
}

/* JSON written with ' for " to keep the tests readable (no test text holds an apostrophe). */
static const char *write_json(const char *name, const char *text)
{
    char *copy = strdup(text);
    assert_non_null(copy);
    for (char *c = copy; *c; c++)
        if (*c == '\'')
            *c = '"';
    const char *path = write_text(name, copy);
    free(copy);
    return path;
}

/* The last error must be path followed by suffix. */
static void expect_message(const char *path, const char *suffix)
{
    char want[1100];
    snprintf(want, sizeof want, "%s%s", path, suffix);
    assert_string_equal(vkq_last_error(), want);
}

static void expect_empty(const vkq_dataset *d)
{
    assert_int_equal(d->count, 0);
    assert_null(d->samples);
}

/* ---- JSONL ----------------------------------------------------------------------------- */

static void jsonl_good_file_round_trips(void **state)
{
    (void)state;
    const char *path = write_json(
        "good.jsonl",
        "\xEF\xBB\xBF{'user': 'ana', 'input': 'Review: Dune', 'target': 'Sand, and more sand.',"
        " 'history': [{'input': 'Review: Emma', 'output': 'Witty.', 'time': '2024-02-01'},"
        " {'input': 'Review: Ulysses', 'output': 'Long.'}]}\r\n"
        "\n"
        "  \t\n"
        "{'input': 'caf\\u00e9 \\'q\\'', 'target': 'na\xC3\xAFve\\nline',"
        " 'extra': {'ignored': [1, 2]}, 'history': []}\n"
        "{'input': '', 'target': 'x', 'user': null, 'history': null}");
    vkq_dataset d;
    OK(vkq_dataset_load_jsonl(path, 0, &d));
    assert_int_equal(d.count, 3);
    assert_int_equal(d.skipped, 0);

    const vkq_sample *s = &d.samples[0];
    assert_string_equal(s->user, "ana");
    assert_string_equal(s->input, "Review: Dune");
    assert_string_equal(s->target, "Sand, and more sand.");
    assert_int_equal(s->line, 1);
    assert_int_equal(s->n_history, 2);
    assert_string_equal(s->history[0].input, "Review: Emma");
    assert_string_equal(s->history[0].output, "Witty.");
    assert_string_equal(s->history[0].time, "2024-02-01");
    assert_string_equal(s->history[1].input, "Review: Ulysses");
    assert_string_equal(s->history[1].output, "Long.");
    assert_null(s->history[1].time);

    s = &d.samples[1];
    assert_string_equal(s->user, "");
    assert_string_equal(s->input, "caf\xC3\xA9 \"q\"");
    assert_string_equal(s->target, "na\xC3\xAFve\nline");
    assert_int_equal(s->n_history, 0);
    assert_int_equal(s->line, 4);

    s = &d.samples[2];
    assert_string_equal(s->user, "");
    assert_string_equal(s->input, "");
    assert_string_equal(s->target, "x");
    assert_int_equal(s->n_history, 0);
    assert_int_equal(s->line, 5);
    vkq_dataset_free(&d);
    expect_empty(&d);
}

/* Unix seconds and milliseconds, as Amazon Reviews and most logs store them, become their
 * digits; the history keeps its order (native files are newest first already). */
static void jsonl_times_may_be_numbers(void **state)
{
    (void)state;
    const char *path = write_json(
        "times.jsonl",
        "{'input': 'a', 'target': 'b', 'history': [{'input': 'x', 'output': 'y', 'time': 0},"
        " {'input': 'x', 'output': 'y', 'time': 1700000000123},"
        " {'input': 'x', 'output': 'y', 'time': 1700000000},"
        " {'input': 'x', 'output': 'y', 'time': 9007199254740992},"
        " {'input': 'x', 'output': 'y', 'time': 1.7e9},"
        " {'input': 'x', 'output': 'y', 'time': null}]}");
    vkq_dataset d;
    OK(vkq_dataset_load_jsonl(path, 0, &d));
    const vkq_history_item *h = d.samples[0].history;
    assert_int_equal(d.samples[0].n_history, 6);
    assert_string_equal(h[0].time, "0");
    assert_string_equal(h[1].time, "1700000000123");
    assert_string_equal(h[2].time, "1700000000");
    assert_string_equal(h[3].time, "9007199254740992");
    assert_string_equal(h[4].time, "1700000000");
    assert_null(h[5].time);
    vkq_dataset_free(&d);
}

static void expect_jsonl_error(const char *data, size_t size, const char *suffix)
{
    const char *path = write_bytes("bad.jsonl", data, size);
    vkq_dataset d;
    assert_int_equal(vkq_dataset_load_jsonl(path, 0, &d), VKQ_ERR_FORMAT);
    expect_message(path, suffix);
    expect_empty(&d);
}

#define GOOD_LINE "{\"input\": \"a\", \"target\": \"b\"}\n"
#define TIME_RULE ": a time as a number must be a whole number of seconds or milliseconds since 1970, from 0 to 2^53"
#define WITH_HISTORY(history) "{\"input\": \"a\", \"target\": \"b\", \"history\": " history "}\n"

static void jsonl_errors_name_file_line_and_column(void **state)
{
    (void)state;
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"{\"input\": \"a\", \"target\": }\n", ":1:26: malformed JSON"},
        {GOOD_LINE "{\"input\": \"a\" \"target\": \"b\"}\n", ":2:15: malformed JSON"},
        {"{\"input\": \"a\", \"target\": \"b\"} x\n", ":1:31: malformed JSON"},
        {"\n\n{\"input\": \"a\", \"target\": \"b\"\n", ":3:29: malformed JSON"},
        {"[\"input\", \"target\"]\n", ":1: a sample must be a JSON object"},
        {GOOD_LINE "\"a string\"\n", ":2: a sample must be a JSON object"},
        {"42\n", ":1: a sample must be a JSON object"},
        {"null\n", ":1: a sample must be a JSON object"},
        {"{\"input\": \"a\"}\n", ":1: missing field \"target\""},
        {"{\"target\": \"b\"}\n", ":1: missing field \"input\""},
        {"{\"input\": \"a\", \"target\": 7}\n", ":1: field \"target\" must be a string"},
        {"{\"input\": null, \"target\": \"b\"}\n", ":1: field \"input\" must be a string"},
        {"{\"user\": [], \"input\": \"a\", \"target\": \"b\"}\n",
         ":1: field \"user\" must be a string"},
        {"{\"input\": \"a\", \"target\": \"\"}\n", ":1: empty target"},
        {WITH_HISTORY("{}"), ":1: field \"history\" must be an array"},
        {WITH_HISTORY("\"none\""), ":1: field \"history\" must be an array"},
        {WITH_HISTORY("[\"x\"]"), ":1: field \"history[0]\" must be an object"},
        {WITH_HISTORY("[{\"input\": \"x\", \"output\": \"y\"}, {\"input\": \"x\"}]"),
         ":1: missing field \"history[1].output\""},
        {WITH_HISTORY("[{\"output\": \"y\"}]"), ":1: missing field \"history[0].input\""},
        {WITH_HISTORY("[{\"input\": \"x\", \"output\": \"y\", \"time\": true}]"),
         ":1: field \"history[0].time\" must be a string or a number"},
        {WITH_HISTORY("[{\"input\": \"x\", \"output\": \"y\", \"time\": [1]}]"),
         ":1: field \"history[0].time\" must be a string or a number"},
        {WITH_HISTORY("[{\"input\": \"x\", \"output\": \"y\", \"time\": -1}]"),
         ":1: field \"history[0].time\" is -1" TIME_RULE},
        {WITH_HISTORY("[{\"input\": \"x\", \"output\": \"y\", \"time\": 1700000000.5}]"),
         ":1: field \"history[0].time\" is 1.7e+09" TIME_RULE},
        {WITH_HISTORY("[{\"input\": \"x\", \"output\": \"y\", \"time\": 1e16}]"),
         ":1: field \"history[0].time\" is 1e+16" TIME_RULE},
        {WITH_HISTORY("[{\"input\": \"x\", \"output\": \"y\", \"time\": 1e999}]"),
         ":1: field \"history[0].time\" is inf" TIME_RULE},
        {WITH_HISTORY("[{\"input\": \"x\", \"output\": \"y\", \"time\": NaN}]"),
         ":1:81: malformed JSON"}, /* JSON has no NaN */
        {"{\"input\": \"caf\xC3\", \"target\": \"b\"}\n", ":1: invalid UTF-8 in \"input\""},
        {"{\"input\": \"a\", \"target\": \"\xC0\xAF\"}\n", ":1: invalid UTF-8 in \"target\""},
        {"{\"input\": \"a\", \"target\": \"\xED\xA0\x80\"}\n", ":1: invalid UTF-8 in \"target\""},
        {"{\"input\": \"a\", \"target\": \"\xF4\x90\x80\x80\"}\n",
         ":1: invalid UTF-8 in \"target\""},
        {"{\"user\": \"\xFF\", \"input\": \"a\", \"target\": \"b\"}\n",
         ":1: invalid UTF-8 in \"user\""},
        {WITH_HISTORY("[{\"input\": \"x\", \"output\": \"\x80y\"}]"),
         ":1: invalid UTF-8 in \"history[0].output\""},
        {GOOD_LINE "\r\n" GOOD_LINE "{\"input\": 1, \"target\": \"b\"}\r\n",
         ":4: field \"input\" must be a string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_jsonl_error(cases[i].text, strlen(cases[i].text), cases[i].message);

    static const char nul_line[] = "{\"input\": \"a\",\0 \"target\": \"b\"}\n";
    expect_jsonl_error(nul_line, sizeof nul_line - 1, ":1:15: NUL byte");
}

static void jsonl_survives_hostile_lines(void **state)
{
    (void)state;
    enum { DEPTH = 5000, LONG = 4 << 20 };
    char *text = malloc(2 * DEPTH + 2);
    assert_non_null(text);
    memset(text, '[', DEPTH);
    memset(text + DEPTH, ']', DEPTH);
    strcpy(text + 2 * DEPTH, "\n");
    const char *path = write_text("deep.jsonl", text);
    vkq_dataset d;
    assert_int_equal(vkq_dataset_load_jsonl(path, 0, &d), VKQ_ERR_FORMAT);
    /* cJSON refuses nesting past its limit, wherever that is */
    char want_start[600];
    snprintf(want_start, sizeof want_start, "%s:1:", path);
    assert_memory_equal(vkq_last_error(), want_start, strlen(want_start));
    assert_non_null(strstr(vkq_last_error(), ": malformed JSON"));
    free(text);

    /* a 4 MiB target loads; the same line without its closing brace fails at its end */
    const char *head = "{\"input\": \"a\", \"target\": \"";
    text = malloc(LONG + 64);
    assert_non_null(text);
    size_t length = strlen(head);
    memcpy(text, head, length);
    memset(text + length, 'x', LONG);
    strcpy(text + length + LONG, "\"}\n");
    OK(vkq_dataset_load_jsonl(write_text("long.jsonl", text), 0, &d));
    assert_int_equal(strlen(d.samples[0].target), LONG);
    vkq_dataset_free(&d);
    text[length + LONG + 1] = '\n';
    char want[600];
    snprintf(want, sizeof want, ":1:%zu: malformed JSON", length + LONG + 2);
    expect_jsonl_error(text, length + LONG + 2, want);
    free(text);
}

static void jsonl_skip_bad_counts_and_keeps_good_lines(void **state)
{
    (void)state;
    const char *path = write_text("mixed.jsonl",
                                  "{\"user\": \"u1\", \"input\": \"a\", \"target\": \"b\"}\n"
                                  "{\"input\": \"a\", \"target\": \n"
                                  "{\"input\": \"a\"}\n"
                                  "\n"
                                  "{\"user\": \"u2\", \"input\": \"c\", \"target\": \"d\"}\n"
                                  "{\"input\": \"\xFF\", \"target\": \"d\"}\n");
    vkq_dataset d;
    OK(vkq_dataset_load_jsonl(path, 1, &d));
    assert_int_equal(d.count, 2);
    assert_int_equal(d.skipped, 3);
    assert_string_equal(d.samples[0].user, "u1");
    assert_int_equal(d.samples[0].line, 1);
    assert_string_equal(d.samples[1].user, "u2");
    assert_int_equal(d.samples[1].line, 5);
    vkq_dataset_free(&d);

    path = write_text("all_bad.jsonl", "{\n[1]\n");
    assert_int_equal(vkq_dataset_load_jsonl(path, 1, &d), VKQ_ERR_FORMAT);
    expect_message(path, ": no good sample; 2 bad ones were skipped");
    expect_empty(&d);
}

static void jsonl_empty_and_missing_files_fail(void **state)
{
    (void)state;
    vkq_dataset d;
    const char *inputs[] = {"", "\n\n  \n", "\xEF\xBB\xBF"};
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++)
        for (int skip_bad = 0; skip_bad <= 1; skip_bad++) {
            const char *path = write_text("empty.jsonl", inputs[i]);
            assert_int_equal(vkq_dataset_load_jsonl(path, skip_bad, &d), VKQ_ERR_FORMAT);
            expect_message(path, ": no samples in the file");
            expect_empty(&d);
        }
    const char *missing = test_path(temp_dir, "absent.jsonl");
    assert_int_equal(vkq_dataset_load_jsonl(missing, 0, &d), VKQ_ERR_IO);
    expect_message(missing, ": cannot open: No such file or directory");
    assert_int_equal(vkq_dataset_load_jsonl(temp_dir, 0, &d), VKQ_ERR_IO);
    expect_message(temp_dir, ": not a regular file");
}

/* ---- LaMP ------------------------------------------------------------------------------ */

static const char *const LAMP4_QUESTIONS =
    "[{'id': 'q1', 'input': 'Generate a headline: Rain returns.', 'profile': ["
    "  {'text': 'Old article.', 'title': 'Old', 'id': 'p1', 'date': '2019-01-05'},"
    "  {'text': 'New article.', 'title': 'New', 'id': 'p2', 'date': '2021-07-30'},"
    "  {'text': 'Mid article.', 'title': 'Mid', 'id': 'p3', 'date': '2020-03-14'}]},"
    " {'id': 17, 'input': 'Generate a headline: Markets calm.', 'profile': ["
    "  {'text': 'A.', 'title': 'First'}, {'text': 'B.', 'title': 'Second'}]}]";
static const char *const LAMP4_OUTPUTS =
    "{'task': 'LaMP-4', 'golds': [{'id': '17', 'output': 'Calm markets'},"
    " {'id': 'q1', 'output': 'The rain is back'}]}";

static void expect_history(const vkq_history_item *item, const char *input, const char *output,
                           const char *time)
{
    assert_string_equal(item->input, input);
    assert_string_equal(item->output, output);
    if (time)
        assert_string_equal(item->time, time);
    else
        assert_null(item->time);
}

static void lamp_joins_questions_with_golds(void **state)
{
    (void)state;
    const char *questions = write_json("questions.json", LAMP4_QUESTIONS);
    const char *outputs = write_json("outputs.json", LAMP4_OUTPUTS);
    vkq_dataset d;
    OK(vkq_dataset_load_lamp(questions, outputs, 0, &d));
    assert_int_equal(d.count, 2);
    assert_int_equal(d.skipped, 0);

    const vkq_sample *s = &d.samples[0];
    assert_string_equal(s->user, "q1");
    assert_string_equal(s->input, "Generate a headline: Rain returns.");
    assert_string_equal(s->target, "The rain is back");
    assert_int_equal(s->line, 1);
    assert_int_equal(s->n_history, 3); /* dated: newest first */
    expect_history(&s->history[0], "New article.", "New", "2021-07-30");
    expect_history(&s->history[1], "Mid article.", "Mid", "2020-03-14");
    expect_history(&s->history[2], "Old article.", "Old", "2019-01-05");

    s = &d.samples[1];
    assert_string_equal(s->user, "17");
    assert_string_equal(s->target, "Calm markets");
    assert_int_equal(s->line, 2);
    assert_int_equal(s->n_history, 2); /* undated: as given */
    expect_history(&s->history[0], "A.", "First", NULL);
    expect_history(&s->history[1], "B.", "Second", NULL);
    vkq_dataset_free(&d);

    const char *const *names = vkq_lamp_task_names();
    size_t n = 0;
    int has_lamp4 = 0, has_longlamp2 = 0;
    for (; names[n]; n++) {
        has_lamp4 |= strcmp(names[n], "LaMP-4") == 0;
        has_longlamp2 |= strcmp(names[n], "LongLaMP-2") == 0;
    }
    assert_int_equal(n, 10);
    assert_true(has_lamp4 && has_longlamp2);
}

/* One question whose single profile item is item_json, under task. */
static void expect_rendering(const char *task, const char *item_json, const char *input,
                             const char *output)
{
    char text[512];
    snprintf(text, sizeof text, "[{'id': 'x', 'input': 'in', 'profile': [%s]}]", item_json);
    const char *questions = write_json("questions.json", text);
    snprintf(text, sizeof text, "{'task': '%s', 'golds': [{'id': 'x', 'output': 'out'}]}",
             task);
    const char *outputs = write_json("outputs.json", text);
    vkq_dataset d;
    OK(vkq_dataset_load_lamp(questions, outputs, 0, &d));
    assert_int_equal(d.samples[0].n_history, 1);
    expect_history(&d.samples[0].history[0], input, output, NULL);
    vkq_dataset_free(&d);
}

static void lamp_renders_profile_items_per_task(void **state)
{
    (void)state;
    expect_rendering("LaMP-3", "{'text': 'Nice.', 'score': '5'}", "Nice.", "5");
    expect_rendering("LaMP-5", "{'abstract': 'We study X.', 'title': 'On X', 'id': '1'}",
                     "We study X.", "On X");
    expect_rendering("LaMP-6", "{'text': 'Hi all, the meeting moved.', 'title': 'Moved'}",
                     "Hi all, the meeting moved.", "Moved");
    expect_rendering("LaMP-7", "{'text': 'cant sleep again lol', 'id': '9'}", "",
                     "cant sleep again lol");
    expect_rendering("LongLaMP-2", "{'abstract': 'We study X.', 'title': 'On X'}", "On X",
                     "We study X.");
    expect_rendering("LongLaMP-3",
                     "{'reviewText': 'Boils fast.', 'summary': 'Good kettle', 'overall': 4.0}",
                     "Rating 4: Good kettle", "Boils fast.");
    expect_rendering("LongLaMP-4", "{'summary': 'My first marathon', 'content': 'It hurt.'}",
                     "My first marathon", "It hurt.");
}

static void lamp_orders_profiles_by_date_when_every_item_has_one(void **state)
{
    (void)state;
    const char *questions = write_json(
        "questions.json",
        "[{'id': 'n', 'input': '', 'profile': [{'text': 'b', 'time': 1600000000},"
        "  {'text': 'c', 'time': 1800000000}, {'text': 'a', 'time': 1700000000}]},"
        " {'id': 'm', 'input': '', 'profile': [{'text': 'b', 'date': '2020-01-01'},"
        "  {'text': 'c'}, {'text': 'a', 'date': '2022-01-01'}]}]");
    const char *outputs = write_json(
        "outputs.json",
        "{'task': 'LaMP-7', 'golds': [{'id': 'n', 'output': 'y'}, {'id': 'm', 'output': 'z'}]}");
    vkq_dataset d;
    OK(vkq_dataset_load_lamp(questions, outputs, 0, &d));
    const vkq_sample *s = &d.samples[0];
    expect_history(&s->history[0], "", "c", "1800000000");
    expect_history(&s->history[1], "", "a", "1700000000");
    expect_history(&s->history[2], "", "b", "1600000000");
    s = &d.samples[1];
    expect_history(&s->history[0], "", "b", "2020-01-01");
    expect_history(&s->history[1], "", "c", NULL);
    expect_history(&s->history[2], "", "a", "2022-01-01");
    vkq_dataset_free(&d);
}

static const char *const LAMP_GOLD_X = "{'task': 'LaMP-4', 'golds': [{'id': 'x', 'output': 'X'}]}";
static const char *const LAMP_QUESTION_X =
    "[{'id': 'x', 'input': 'in', 'profile': [{'text': 't', 'title': 'T'}]}]";

/* Loading questions_json with outputs_json fails; the message is the named file's path
 * followed by suffix. */
static void expect_lamp_error(const char *questions_json, const char *outputs_json,
                              int blame_outputs, const char *suffix)
{
    const char *questions = write_json("questions.json", questions_json);
    const char *outputs = write_json("outputs.json", outputs_json);
    vkq_dataset d;
    assert_int_equal(vkq_dataset_load_lamp(questions, outputs, 0, &d), VKQ_ERR_FORMAT);
    expect_message(blame_outputs ? outputs : questions, suffix);
    expect_empty(&d);
}

/* The benchmarks' own spellings: LaMP's files say "LaMP_4"; LongLaMP is published as Hugging
 * Face configurations (LongLaMP/LongLaMP: abstract_generation_user, product_review_temporal,
 * ...) and named "LongLaMP-3" or "LongLaMP_3" elsewhere. */
static void lamp_accepts_the_published_task_names(void **state)
{
    (void)state;
    expect_rendering("LaMP_4", "{'text': 'Rain.', 'title': 'Wet'}", "Rain.", "Wet");
    expect_rendering("LaMP_7", "{'text': 'so tired', 'id': '9'}", "", "so tired");
    expect_rendering("LongLaMP_2", "{'abstract': 'We study X.', 'title': 'On X'}", "On X",
                     "We study X.");
    expect_rendering("abstract_generation_user", "{'abstract': 'We study X.', 'title': 'On X'}",
                     "On X", "We study X.");
    expect_rendering("abstract_generation_temporal",
                     "{'abstract': 'We study X.', 'title': 'On X'}", "On X", "We study X.");
    const char *review = "{'reviewText': 'Boils fast.', 'summary': 'Good kettle', 'overall': 4}";
    expect_rendering("LongLaMP_3", review, "Rating 4: Good kettle", "Boils fast.");
    expect_rendering("product_review_user", review, "Rating 4: Good kettle", "Boils fast.");
    expect_rendering("product_review_temporal", review, "Rating 4: Good kettle", "Boils fast.");
    const char *topic = "{'summary': 'My first marathon', 'content': 'It hurt.'}";
    expect_rendering("LongLaMP_4", topic, "My first marathon", "It hurt.");
    expect_rendering("topic_writing_user", topic, "My first marathon", "It hurt.");
    expect_rendering("topic_writing_temporal", topic, "My first marathon", "It hurt.");
}

/* Seconds and milliseconds order as numbers (as text "999" would come after "1000"). */
static void lamp_orders_numeric_times_as_numbers(void **state)
{
    (void)state;
    const char *questions = write_json(
        "questions.json",
        "[{'id': 'n', 'input': '', 'profile': [{'text': 'a', 'date': 999},"
        "  {'text': 'c', 'date': 1700000000123}, {'text': 'b', 'date': 1000}]}]");
    const char *outputs =
        write_json("outputs.json", "{'task': 'LaMP_7', 'golds': [{'id': 'n', 'output': 'y'}]}");
    vkq_dataset d;
    OK(vkq_dataset_load_lamp(questions, outputs, 0, &d));
    const vkq_sample *s = &d.samples[0];
    expect_history(&s->history[0], "", "c", "1700000000123");
    expect_history(&s->history[1], "", "b", "1000");
    expect_history(&s->history[2], "", "a", "999");
    vkq_dataset_free(&d);
}

static void lamp_bad_times(void **state)
{
    (void)state;
    static const struct {
        const char *profile, *message;
    } cases[] = {
        {"[{'text': 't', 'date': -5}]", "field \"profile[0].date\" is -5" TIME_RULE},
        {"[{'text': 't', 'date': '2020'}, {'text': 'u', 'time': 2.5}]",
         "field \"profile[1].time\" is 2.5" TIME_RULE},
        {"[{'text': 't', 'time': 1e300}]", "field \"profile[0].time\" is 1e+300" TIME_RULE},
        {"[{'text': 't', 'time': -1e999}]", "field \"profile[0].time\" is -inf" TIME_RULE},
        {"[{'text': 't', 'date': true}]",
         "field \"profile[0].date\" must be a string or a number"},
        {"[{'text': 't', 'date': {'year': 2020}}]",
         "field \"profile[0].date\" must be a string or a number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char questions[256], message[300];
        snprintf(questions, sizeof questions, "[{'id': 'x', 'input': 'in', 'profile': %s}]",
                 cases[i].profile);
        snprintf(message, sizeof message, ": question 1: %s", cases[i].message);
        expect_lamp_error(questions,
                          "{'task': 'LaMP-7', 'golds': [{'id': 'x', 'output': 'X'}]}", 0,
                          message);
    }
}

static void lamp_outputs_errors(void **state)
{
    (void)state;
    const char *const unknown[] = {"LaMP-9", "LaMP_9", "LaMP 4", "LaMP__4", "lamp_4", "LaMP-",
                                   "LongLaMP-1", "product_review", "product_review_", "LaMP-4_user"};
    for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++) {
        char outputs[128], message[512];
        snprintf(outputs, sizeof outputs, "{'task': '%s', 'golds': []}", unknown[i]);
        snprintf(message, sizeof message,
                 ": unknown task \"%s\" (known: LaMP-1, LaMP-2, LaMP-3, LaMP-4, LaMP-5, LaMP-6, "
                 "LaMP-7, LongLaMP-2, LongLaMP-3, LongLaMP-4; also with _ for -, and LongLaMP's "
                 "configurations such as product_review_user)",
                 unknown[i]);
        expect_lamp_error(LAMP_QUESTION_X, outputs, 1, message);
    }
    expect_lamp_error(LAMP_QUESTION_X, "{'golds': []}", 1, ": missing field \"task\"");
    expect_lamp_error(LAMP_QUESTION_X, "[{'task': 'LaMP-4'}]", 1,
                      ": the outputs must be a JSON object");
    expect_lamp_error(LAMP_QUESTION_X, "{'task': 'LaMP-4'}", 1, ": missing field \"golds\"");
    expect_lamp_error(LAMP_QUESTION_X, "{'task': 'LaMP-4', 'golds': {}}", 1,
                      ": field \"golds\" must be an array");
    expect_lamp_error(LAMP_QUESTION_X,
                      "{'task': 'LaMP-4', 'golds': [{'id': 'x', 'output': 'X'}, {'id': 'y'}]}",
                      1, ": missing field \"golds[1].output\"");
    expect_lamp_error(LAMP_QUESTION_X, "{'task': 'LaMP-4', 'golds': [{'output': 'X'}]}", 1,
                      ": missing field \"golds[0].id\"");
    expect_lamp_error(LAMP_QUESTION_X, "{'task': 'LaMP-4', 'golds': [{'id': [], 'output': 'X'}]}",
                      1, ": field \"golds[0].id\" must be a string or a number");
    expect_lamp_error(LAMP_QUESTION_X,
                      "{'task': 'LaMP-4', 'golds': [{'id': 'x', 'output': 'X'},"
                      " {'id': 'x', 'output': 'Y'}]}",
                      1, ": id \"x\" appears twice in \"golds\"");
    expect_lamp_error(LAMP_QUESTION_X, "{'task': 'LaMP-4',\n 'golds': [\n {'id': 'x' }}", 1,
                      ":3:14: malformed JSON");
}

static void lamp_question_errors(void **state)
{
    (void)state;
    expect_lamp_error("[\n  {'id': 'x',\n   'input': }]", LAMP_GOLD_X, 0, ":3:13: malformed JSON");
    expect_lamp_error("{'id': 'x'}", LAMP_GOLD_X, 0, ": the questions must be a JSON array");
    expect_lamp_error("[]", LAMP_GOLD_X, 0, ": no samples in the file");
    expect_lamp_error("[7]", LAMP_GOLD_X, 0, ": question 1: a question must be a JSON object");
    expect_lamp_error("[{'id': true, 'input': 'in', 'profile': []}]", LAMP_GOLD_X, 0,
                      ": question 1: field \"id\" must be a string or a number");
    expect_lamp_error("[{'id': 'x', 'profile': []}]", LAMP_GOLD_X, 0,
                      ": question 1: missing field \"input\"");
    expect_lamp_error("[{'id': 'x', 'input': 'in'}]", LAMP_GOLD_X, 0,
                      ": question 1: missing field \"profile\"");
    expect_lamp_error("[{'id': 'x', 'input': 'in', 'profile': {}}]", LAMP_GOLD_X, 0,
                      ": question 1: field \"profile\" must be an array");
    expect_lamp_error("[{'id': 'x', 'input': 'in', 'profile': ['t']}]", LAMP_GOLD_X, 0,
                      ": question 1: field \"profile[0]\" must be an object");
    expect_lamp_error("[{'id': 'x', 'input': 'in', 'profile': [{'text': 't', 'title': 'T'},"
                      " {'text': 'u'}]}]",
                      LAMP_GOLD_X, 0, ": question 1: missing field \"profile[1].title\"");
    expect_lamp_error("[{'id': 'x', 'input': 'in', 'profile': [{'text': 't', 'title': null}]}]",
                      LAMP_GOLD_X, 0,
                      ": question 1: field \"profile[0].title\" must be a string or a number");
    expect_lamp_error("[{'id': 'x', 'input': 'in', 'profile': [{'text': 't', 'title': '\xFF'}]}]",
                      LAMP_GOLD_X, 0, ": question 1: invalid UTF-8 in \"profile[0].title\"");
    expect_lamp_error(LAMP_QUESTION_X, "{'task': 'LaMP-4', 'golds': [{'id': 'x', 'output': ''}]}",
                      0, ": question 1: empty target");
    expect_lamp_error(LAMP_QUESTION_X,
                      "{'task': 'LaMP-4', 'golds': [{'id': 'x', 'output': '\xC3('}]}", 0,
                      ": question 1: invalid UTF-8 in the gold output");
}

static void lamp_missing_gold_fails_or_is_skipped(void **state)
{
    (void)state;
    const char *questions = write_json(
        "questions.json", "[{'id': 'x', 'input': 'in', 'profile': []},"
                          " {'id': 'y', 'input': 'in', 'profile': []}]");
    const char *outputs = write_json("outputs.json", LAMP_GOLD_X);
    vkq_dataset d;
    assert_int_equal(vkq_dataset_load_lamp(questions, outputs, 0, &d), VKQ_ERR_FORMAT);
    char want[1200];
    snprintf(want, sizeof want, "%s: question 2: no gold output with id \"y\" in %s", questions,
             outputs);
    assert_string_equal(vkq_last_error(), want);
    expect_empty(&d);

    OK(vkq_dataset_load_lamp(questions, outputs, 1, &d));
    assert_int_equal(d.count, 1);
    assert_int_equal(d.skipped, 1);
    assert_string_equal(d.samples[0].user, "x");
    assert_int_equal(d.samples[0].n_history, 0);
    vkq_dataset_free(&d);

    questions = write_json("questions.json", "[{'id': 'y', 'input': 'in', 'profile': []}]");
    assert_int_equal(vkq_dataset_load_lamp(questions, outputs, 1, &d), VKQ_ERR_FORMAT);
    expect_message(questions, ": no good sample; 1 bad ones were skipped");
}

/* ---- plain text ------------------------------------------------------------------------ */

static void text_paragraphs_become_samples(void **state)
{
    (void)state;
    const char *path = write_text("story.txt", "First paragraph,\nsecond line.\n\n\n \t\n"
                                               "Second paragraph.\r\n\r\nThird");
    vkq_dataset d;
    OK(vkq_dataset_load_text(path, &d));
    assert_int_equal(d.count, 3);
    const char *targets[] = {"First paragraph,\nsecond line.", "Second paragraph.", "Third"};
    const uint32_t lines[] = {1, 6, 8};
    for (uint32_t i = 0; i < 3; i++) {
        assert_string_equal(d.samples[i].target, targets[i]);
        assert_int_equal(d.samples[i].line, lines[i]);
        assert_string_equal(d.samples[i].input, "");
        assert_string_equal(d.samples[i].user, "");
        assert_int_equal(d.samples[i].n_history, 0);
    }
    vkq_dataset_free(&d);
}

static void text_errors(void **state)
{
    (void)state;
    vkq_dataset d;
    const char *path = write_text("blank.txt", "\n \n\t\n");
    assert_int_equal(vkq_dataset_load_text(path, &d), VKQ_ERR_FORMAT);
    expect_message(path, ": no samples in the file");
    path = write_text("utf8.txt", "fine\nbad \xFF byte\n");
    assert_int_equal(vkq_dataset_load_text(path, &d), VKQ_ERR_FORMAT);
    expect_message(path, ":2: invalid UTF-8");
    path = write_bytes("nul.txt", "ab\0c\n", 5);
    assert_int_equal(vkq_dataset_load_text(path, &d), VKQ_ERR_FORMAT);
    expect_message(path, ":1:3: NUL byte");
    expect_empty(&d);
}

/* ---- templates ------------------------------------------------------------------------- */

static void template_default_and_partial_file(void **state)
{
    (void)state;
    vkq_template t;
    OK(vkq_template_default(&t));
    assert_string_equal(t.system, "");
    assert_string_equal(t.history_item, "Input: {input}\nOutput: {output}\n\n");
    assert_string_equal(t.no_history, "None\n\n");
    assert_string_equal(t.prompt, "Previous responses by this user:\n{history}Input: {input}\n"
                                  "Output:");
    vkq_template_free(&t);
    assert_null(t.prompt);

    const char *path = write_json("partial.json", "{'no_history': '(none)\\n',"
                                                  " 'prompt': 'H:\\n{history}Q: {input}\\nA:'}");
    OK(vkq_template_load(path, &t));
    assert_string_equal(t.system, "");
    assert_string_equal(t.history_item, "Input: {input}\nOutput: {output}\n\n");
    assert_string_equal(t.no_history, "(none)\n");
    assert_string_equal(t.prompt, "H:\n{history}Q: {input}\nA:");
    vkq_template_free(&t);
}

static void template_errors_name_file_and_field(void **state)
{
    (void)state;
    static const struct {
        const char *json, *message;
    } cases[] = {
        {"{'prompt': '{history}{input}', 'colour': 'red'}",
         ": unknown field \"colour\" (known: system, history_item, no_history, prompt)"},
        {"{'system': 3}", ": field \"system\" must be a string"},
        {"{'no_history': null}", ": field \"no_history\" must be a string"},
        {"{'prompt': 'a', 'prompt': 'b'}", ":1: duplicate key \"prompt\" in one object"},
        {"['prompt']", ": a template must be a JSON object"},
        {"{'prompt': '{history} {input} {user}'}",
         ": unknown placeholder {user} in \"prompt\" (allowed: {history}, {input})"},
        {"{'history_item': '{input} {history}'}",
         ": unknown placeholder {history} in \"history_item\" (allowed: {input}, {output}, "
         "{time})"},
        {"{'system': 'Hi {input}'}", ": unknown placeholder {input} in \"system\" (allowed: none)"},
        {"{'no_history': '{}'}", ": unknown placeholder {} in \"no_history\" (allowed: none)"},
        {"{'prompt': '{history} Output:'}", ": \"prompt\" has no {input}"},
        {"{'prompt': '{input} Output:'}", ": \"prompt\" has no {history}"},
        {"{'prompt': '{history}{history}{input}'}",
         ": \"prompt\" has {history} 2 times; once is allowed"},
        {"{'prompt': '{history}{input} {oops'}",
         ": unterminated placeholder in \"prompt\" (a literal { is written {{)"},
        {"{'system': '\xFF'}", ": invalid UTF-8 in \"system\""},
        {"{\n  'prompt': '{history}{input}'\n  'system': ''\n}", ":3:3: malformed JSON"},
        {"", ":1:1: malformed JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *path = write_json("template.json", cases[i].json);
        vkq_template t;
        assert_int_equal(vkq_template_load(path, &t), VKQ_ERR_FORMAT);
        expect_message(path, cases[i].message);
        assert_null(t.prompt);
    }
}

/* ---- pairs ----------------------------------------------------------------------------- */

static int32_t byte_token(char c) { return VKQ_TOKEN_FIRST_BYTE + (unsigned char)c; }

/* got[0..n) must be the byte tokens of text. */
static void expect_bytes(const int32_t *got, uint32_t n, const char *text)
{
    assert_int_equal(n, strlen(text));
    for (uint32_t i = 0; i < n; i++)
        if (got[i] != byte_token(text[i]))
            fail_msg("token %u is %d, want %d ('%c' of \"%s\")", i, (int)got[i],
                     (int)byte_token(text[i]), text[i], text);
}

/* seq must be BOS, prompt, response, EOS (as bytes), with the offsets to match. */
static void expect_sequence(const int32_t *seq, uint32_t n, uint32_t prompt_end,
                            uint32_t n_response, const char *prompt, const char *response)
{
    assert_int_equal(seq[0], VKQ_TOKEN_BOS);
    assert_int_equal(prompt_end, 1 + strlen(prompt));
    assert_int_equal(n, prompt_end + n_response);
    assert_int_equal(n_response, strlen(response) + 1);
    expect_bytes(seq + 1, prompt_end - 1, prompt);
    expect_bytes(seq + prompt_end, n_response - 1, response);
    assert_int_equal(seq[n - 1], VKQ_TOKEN_EOS);
}

static void expect_pair(const vkq_pair *p, const char *with, const char *without,
                        const char *response)
{
    char with_text[256], without_text[256], response_text[256];
    snprintf(with_text, sizeof with_text, " %s", with);
    snprintf(without_text, sizeof without_text, " %s", without);
    snprintf(response_text, sizeof response_text, " %s", response);
    expect_sequence(p->with_history, p->n_with, p->with_prompt, p->n_response, with_text,
                    response_text);
    expect_sequence(p->without_history, p->n_without, p->without_prompt, p->n_response,
                    without_text, response_text);
}

static const vkq_history_item THREE_ITEMS[] = {
    {"a1", "o1", NULL}, {"a2", "o2", "t2"}, {"a3", "o3", NULL}};

static vkq_sample compact_sample(void)
{
    return (vkq_sample){.user = "u", .input = "q", .target = "xyz",
                        .history = (vkq_history_item *)THREE_ITEMS, .n_history = 3, .line = 7};
}

static vkq_template compact_template(void)
{
    return (vkq_template){.system = "S|", .history_item = "{input}>{output};",
                          .no_history = "-", .prompt = "H:{history}Q:{input}A:"};
}

/* Prompts: BOS + " " + text, so 2 + strlen tokens: "S|H:a1>o1;a2>o2;a3>o3;Q:qA:" 29,
 * two items 23, one item 17, none ("S|H:-Q:qA:") 12. */
static void pair_drops_history_from_the_oldest(void **state)
{
    (void)state;
    static const struct {
        uint32_t max_prompt, used;
        const char *prompt;
    } cases[] = {
        {0, 3, "S|H:a1>o1;a2>o2;a3>o3;Q:qA:"}, {29, 3, "S|H:a1>o1;a2>o2;a3>o3;Q:qA:"},
        {28, 2, "S|H:a1>o1;a2>o2;Q:qA:"},      {23, 2, "S|H:a1>o1;a2>o2;Q:qA:"},
        {22, 1, "S|H:a1>o1;Q:qA:"},            {17, 1, "S|H:a1>o1;Q:qA:"},
        {16, 0, "S|H:-Q:qA:"},                 {12, 0, "S|H:-Q:qA:"},
    };
    vkq_sample s = compact_sample();
    vkq_template t = compact_template();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vkq_prompt_limits limits = {.max_prompt_tokens = cases[i].max_prompt};
        vkq_pair p;
        OK(vkq_pair_build(byte_tok, &t, &limits, &s, &p));
        assert_int_equal(p.history_used, cases[i].used);
        expect_pair(&p, cases[i].prompt, "S|H:-Q:qA:", "xyz");
        vkq_pair_free(&p);
        assert_null(p.with_history);
    }
}

static void pair_fails_when_even_no_history_does_not_fit(void **state)
{
    (void)state;
    vkq_sample s = compact_sample();
    vkq_template t = compact_template();
    vkq_prompt_limits limits = {.max_prompt_tokens = 11};
    vkq_pair p;
    assert_int_equal(vkq_pair_build(byte_tok, &t, &limits, &s, &p), VKQ_ERR_FORMAT);
    assert_string_equal(vkq_last_error(), "sample at line 7: the prompt needs 12 tokens without "
                                          "history, more than --max-prompt-tokens 11");
    assert_null(p.with_history);
    assert_null(p.without_history);
}

/* The same prompts with the 5-token response (" xyz" + EOS): sequences of 34, 28, 22 and 17
 * tokens. The context drops history from the oldest, like the prompt limit, and the tighter
 * of the two wins. */
static void pair_fits_the_model_context(void **state)
{
    (void)state;
    static const struct {
        uint32_t max_prompt, max_sequence, used;
        const char *prompt;
    } cases[] = {
        {0, 34, 3, "S|H:a1>o1;a2>o2;a3>o3;Q:qA:"}, {0, 33, 2, "S|H:a1>o1;a2>o2;Q:qA:"},
        {0, 28, 2, "S|H:a1>o1;a2>o2;Q:qA:"},       {0, 27, 1, "S|H:a1>o1;Q:qA:"},
        {0, 21, 0, "S|H:-Q:qA:"},                  {0, 17, 0, "S|H:-Q:qA:"},
        {22, 33, 1, "S|H:a1>o1;Q:qA:"},            {29, 27, 1, "S|H:a1>o1;Q:qA:"},
    };
    vkq_sample s = compact_sample();
    vkq_template t = compact_template();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vkq_prompt_limits limits = {.max_prompt_tokens = cases[i].max_prompt,
                                    .max_sequence_tokens = cases[i].max_sequence};
        vkq_pair p;
        OK(vkq_pair_build(byte_tok, &t, &limits, &s, &p));
        assert_int_equal(p.history_used, cases[i].used);
        assert_true(p.n_with <= cases[i].max_sequence);
        expect_pair(&p, cases[i].prompt, "S|H:-Q:qA:", "xyz");
        vkq_pair_free(&p);
    }
    vkq_prompt_limits limits = {.max_sequence_tokens = 16};
    vkq_pair p;
    assert_int_equal(vkq_pair_build(byte_tok, &t, &limits, &s, &p), VKQ_ERR_FORMAT);
    assert_string_equal(vkq_last_error(), "sample at line 7: 12 prompt tokens without history + "
                                          "5 response tokens = 17, more than the model's "
                                          "context length 16");
    assert_null(p.with_history);
}

static void pair_uses_at_most_k_items(void **state)
{
    (void)state;
    vkq_template t = compact_template();
    vkq_sample s = compact_sample();
    vkq_prompt_limits limits = {.history_k = 1};
    vkq_pair p;
    OK(vkq_pair_build(byte_tok, &t, &limits, &s, &p));
    assert_int_equal(p.history_used, 1);
    expect_pair(&p, "S|H:a1>o1;Q:qA:", "S|H:-Q:qA:", "xyz");
    vkq_pair_free(&p);

    vkq_history_item ten[10];
    char texts[10][2][4];
    for (int i = 0; i < 10; i++) {
        snprintf(texts[i][0], sizeof texts[i][0], "i%d", i);
        snprintf(texts[i][1], sizeof texts[i][1], "o%d", i);
        ten[i] = (vkq_history_item){texts[i][0], texts[i][1], NULL};
    }
    s.history = ten;
    s.n_history = 10;
    limits.history_k = 0; /* the default, 8 */
    OK(vkq_pair_build(byte_tok, &t, &limits, &s, &p));
    assert_int_equal(p.history_used, 8);
    expect_pair(&p, "S|H:i0>o0;i1>o1;i2>o2;i3>o3;i4>o4;i5>o5;i6>o6;i7>o7;Q:qA:", "S|H:-Q:qA:",
                "xyz");
    vkq_pair_free(&p);
}

static void pair_cuts_the_target_and_appends_eos(void **state)
{
    (void)state;
    vkq_template t = compact_template();
    vkq_sample s = compact_sample();
    vkq_prompt_limits limits = {.max_prompt_tokens = 17, .max_target_tokens = 2};
    vkq_pair p;
    OK(vkq_pair_build(byte_tok, &t, &limits, &s, &p));
    /* " xyz" is 4 tokens, cut to " x", then EOS */
    assert_int_equal(p.n_response, 3);
    expect_pair(&p, "S|H:a1>o1;Q:qA:", "S|H:-Q:qA:", "x");
    assert_int_equal(p.with_prompt, 17);
    assert_int_equal(p.without_prompt, 12);
    assert_memory_equal(p.with_history + p.with_prompt, p.without_history + p.without_prompt,
                        p.n_response * sizeof(int32_t));
    vkq_pair_free(&p);

    limits.max_target_tokens = 4; /* exactly the target: nothing cut */
    OK(vkq_pair_build(byte_tok, &t, &limits, &s, &p));
    assert_int_equal(p.n_response, 5);
    expect_pair(&p, "S|H:a1>o1;Q:qA:", "S|H:-Q:qA:", "xyz");
    vkq_pair_free(&p);
}

static void pair_sequences_differ_only_in_the_history_block(void **state)
{
    (void)state;
    vkq_template t;
    OK(vkq_template_default(&t));
    vkq_sample s = compact_sample();
    vkq_prompt_limits limits = {.history_k = 2};
    vkq_pair p;
    OK(vkq_pair_build(byte_tok, &t, &limits, &s, &p));
    const char *before = "Previous responses by this user:\n";
    const char *after = "Input: q\nOutput:";
    expect_pair(&p,
                "Previous responses by this user:\nInput: a1\nOutput: o1\n\nInput: a2\n"
                "Output: o2\n\nInput: q\nOutput:",
                "Previous responses by this user:\nNone\n\nInput: q\nOutput:", "xyz");
    size_t head = 2 + strlen(before), tail = strlen(after) + p.n_response;
    assert_memory_equal(p.with_history, p.without_history, head * sizeof(int32_t));
    assert_memory_equal(p.with_history + p.n_with - tail, p.without_history + p.n_without - tail,
                        tail * sizeof(int32_t));
    vkq_pair_free(&p);

    s.n_history = 0; /* no history: the same sequence twice */
    OK(vkq_pair_build(byte_tok, &t, &limits, &s, &p));
    assert_int_equal(p.history_used, 0);
    assert_int_equal(p.n_with, p.n_without);
    assert_int_equal(p.with_prompt, p.without_prompt);
    assert_memory_equal(p.with_history, p.without_history, p.n_with * sizeof(int32_t));
    vkq_pair_free(&p);
    vkq_template_free(&t);
}

static void pair_renders_times_and_literal_braces(void **state)
{
    (void)state;
    vkq_template t = {.system = "{{sys}", .history_item = "{{{time}}{output};",
                      .no_history = "{{}", .prompt = "{history}{input}{input}"};
    vkq_sample s = compact_sample();
    vkq_prompt_limits limits = {0};
    vkq_pair p;
    OK(vkq_pair_build(byte_tok, &t, &limits, &s, &p));
    expect_pair(&p, "{sys}{}o1;{t2}o2;{}o3;qq", "{sys}{}qq", "xyz");
    vkq_pair_free(&p);
}

static void pair_checks_hand_built_templates(void **state)
{
    (void)state;
    vkq_template t = compact_template();
    t.prompt = "Q:{input}A:";
    vkq_sample s = compact_sample();
    vkq_prompt_limits limits = {0};
    vkq_pair p;
    assert_int_equal(vkq_pair_build(byte_tok, &t, &limits, &s, &p), VKQ_ERR_FORMAT);
    assert_string_equal(vkq_last_error(), "template: \"prompt\" has no {history}");
    assert_null(p.with_history);
}

/* ---- the example dataset --------------------------------------------------------------- */

static void example_dataset_and_template_load(void **state)
{
    (void)state;
    vkq_dataset d;
    OK(vkq_dataset_load_jsonl(VKQ_SOURCE_DIR "/assets/examples/reviews.jsonl", 0, &d));
    assert_true(d.count >= 8 && d.count <= 12);
    vkq_template t;
    OK(vkq_template_load(VKQ_SOURCE_DIR "/assets/examples/template.json", &t));
    int users_seen = 0;
    for (uint32_t i = 0; i < d.count; i++) {
        users_seen |= (strcmp(d.samples[i].user, "maya") == 0) << 0 |
                      (strcmp(d.samples[i].user, "tom") == 0) << 1 |
                      (strcmp(d.samples[i].user, "ines") == 0) << 2;
        vkq_prompt_limits limits = {0};
        vkq_pair p;
        OK(vkq_pair_build(byte_tok, &t, &limits, &d.samples[i], &p));
        assert_int_equal(p.history_used, d.samples[i].n_history);
        vkq_pair_free(&p);
    }
    assert_int_equal(users_seen, 7);
    vkq_template_free(&t);
    vkq_dataset_free(&d);
}

/* ---- fixtures -------------------------------------------------------------------------- */

/* The byte-level tok.bin that `vkquill init` writes: <unk>, BOS, EOS and the 256 byte pieces. */
static vkq_tokenizer *load_byte_tokenizer(void)
{
    const char *path = test_path(temp_dir, "bytes.bin");
    vkq_tokenizer *t = NULL;
    if (vkq_tokenizer_write_byte_level(path) != VKQ_OK ||
        vkq_tokenizer_load(path, VKQ_BYTE_TOKENIZER_VOCAB, &t) != VKQ_OK)
        return NULL;
    return t;
}

static int set_up(void **state)
{
    (void)state;
    if (test_make_temp_dir(temp_dir, "data") != 0)
        return -1;
    byte_tok = load_byte_tokenizer();
    return byte_tok ? 0 : -1;
}

static int tear_down(void **state)
{
    (void)state;
    vkq_tokenizer_free(byte_tok);
    return test_remove_tree(temp_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jsonl_good_file_round_trips),
        cmocka_unit_test(jsonl_errors_name_file_line_and_column),
        cmocka_unit_test(jsonl_survives_hostile_lines),
        cmocka_unit_test(jsonl_times_may_be_numbers),
        cmocka_unit_test(jsonl_skip_bad_counts_and_keeps_good_lines),
        cmocka_unit_test(jsonl_empty_and_missing_files_fail),
        cmocka_unit_test(lamp_joins_questions_with_golds),
        cmocka_unit_test(lamp_renders_profile_items_per_task),
        cmocka_unit_test(lamp_orders_profiles_by_date_when_every_item_has_one),
        cmocka_unit_test(lamp_accepts_the_published_task_names),
        cmocka_unit_test(lamp_orders_numeric_times_as_numbers),
        cmocka_unit_test(lamp_bad_times),
        cmocka_unit_test(lamp_outputs_errors),
        cmocka_unit_test(lamp_question_errors),
        cmocka_unit_test(lamp_missing_gold_fails_or_is_skipped),
        cmocka_unit_test(text_paragraphs_become_samples),
        cmocka_unit_test(text_errors),
        cmocka_unit_test(template_default_and_partial_file),
        cmocka_unit_test(template_errors_name_file_and_field),
        cmocka_unit_test(pair_drops_history_from_the_oldest),
        cmocka_unit_test(pair_fails_when_even_no_history_does_not_fit),
        cmocka_unit_test(pair_uses_at_most_k_items),
        cmocka_unit_test(pair_fits_the_model_context),
        cmocka_unit_test(pair_cuts_the_target_and_appends_eos),
        cmocka_unit_test(pair_sequences_differ_only_in_the_history_block),
        cmocka_unit_test(pair_renders_times_and_literal_braces),
        cmocka_unit_test(pair_checks_hand_built_templates),
        cmocka_unit_test(example_dataset_and_template_load),
    };
    return cmocka_run_group_tests(tests, set_up, tear_down);
}
