/* Conversion to the native format: LaMP and plain text loaded, written with
 * vkq_dataset_write_jsonl and read back with vkq_dataset_load_jsonl, every field checked
 * against what the inputs say, escapes and UTF-8 included; and the writer's refusals. */
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

/* ---- files ---------------------------------------------------------------------------- */

/* NAME in the temp dir (one of a few rotating buffers). */
static const char *path_of(const char *name)
{
    return test_path(temp_dir, name);
}

static const char *write_text(const char *name, const char *text)
{
    return test_write_text(path_of(name), text);
}

static void expect_file(const char *path, const char *want)
{
    char *got = test_read_file(path, NULL);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void expect_absent(const char *path)
{
    assert_false(test_file_exists(path));
}

static void expect_item(const vkq_history_item *h, const char *input, const char *output,
                        const char *time)
{
    assert_string_equal(h->input, input);
    assert_string_equal(h->output, output);
    if (time)
        assert_string_equal(h->time, time);
    else
        assert_null(h->time);
}

/* Writes d to NAME and reads it back (d is freed). */
static void round_trip(vkq_dataset *d, const char *name, vkq_dataset *back)
{
    const char *path = path_of(name);
    OK(vkq_dataset_write_jsonl(d, path));
    vkq_dataset_free(d);
    OK(vkq_dataset_load_jsonl(path, 0, back));
}

/* ---- LaMP ----------------------------------------------------------------------------- */

/* LaMP-4 (history input = text, output = title): escapes of every kind, \u escapes outside
 * ASCII (a surrogate pair among them), raw UTF-8, a numeric id, items with and without dates,
 * and a question without a gold output, skipped. */
static const char LAMP_QUESTIONS[] =
    "[{\"id\": \"u1\", \"input\": \"Headline: \\\"Rain\\\" \\\\ storm\\n\\tnext\",\n"
    "  \"profile\": [{\"text\": \"Older story\", \"title\": \"Old \\u00e9t\\u00e9\","
    " \"date\": \"2023-01-05\"},\n"
    "   {\"text\": \"Newer \\u0001 story\", \"title\": \"Caf\\u00e9 \\ud83d\\ude00 "
    "\\u65b0\\u95fb\", \"date\": \"2024-03-09\"}]},\n"
    " {\"id\": 17, \"input\": \"plain / slash\", \"profile\": [{\"text\": \"t\", \"title\": "
    "\"h\"}]},\n"
    " {\"id\": \"u3\", \"input\": \"no gold\", \"profile\": []}]\n";
static const char LAMP_OUTPUTS[] =
    "{\"task\": \"LaMP-4\", \"golds\": [{\"id\": \"u1\", \"output\": \"Sturm / \\\"Regen\\\""
    "\\r\\n\"},\n"
    " {\"id\": \"17\", \"output\": \"raw \xC3\xBC \xE2\x82\xAC\"}]}\n";

static void lamp_converts_and_reads_back(void **state)
{
    (void)state;
    const char *questions = write_text("questions.json", LAMP_QUESTIONS);
    const char *outputs = write_text("outputs.json", LAMP_OUTPUTS);
    vkq_dataset d, back;
    OK(vkq_dataset_load_lamp(questions, outputs, 1, &d));
    assert_int_equal(d.skipped, 1);
    round_trip(&d, "lamp.jsonl", &back);
    assert_int_equal(back.count, 2);
    assert_int_equal(back.skipped, 0);

    const vkq_sample *s = &back.samples[0];
    assert_int_equal(s->line, 1);
    assert_string_equal(s->user, "u1");
    assert_string_equal(s->input, "Headline: \"Rain\" \\ storm\n\tnext");
    assert_string_equal(s->target, "Sturm / \"Regen\"\r\n");
    assert_int_equal(s->n_history, 2); /* newest first */
    expect_item(&s->history[0], "Newer \x01 story",
                "Caf\xC3\xA9 \xF0\x9F\x98\x80 \xE6\x96\xB0\xE9\x97\xBB", "2024-03-09");
    expect_item(&s->history[1], "Older story", "Old \xC3\xA9t\xC3\xA9", "2023-01-05");

    s = &back.samples[1];
    assert_int_equal(s->line, 2);
    assert_string_equal(s->user, "17");
    assert_string_equal(s->input, "plain / slash");
    assert_string_equal(s->target, "raw \xC3\xBC \xE2\x82\xAC");
    assert_int_equal(s->n_history, 1);
    expect_item(&s->history[0], "t", "h", NULL);
    vkq_dataset_free(&back);
}

/* ---- plain text ----------------------------------------------------------------------- */

static void text_converts_and_reads_back(void **state)
{
    (void)state;
    const char *text = write_text("book.txt", "First \"para\"\\\tend\r\n"
                                              "second line \xC3\xA9\n"
                                              "\n \t\n"
                                              "Next: \xF0\x9F\x98\x80 \x7F\n");
    vkq_dataset d, back;
    OK(vkq_dataset_load_text(text, &d));
    round_trip(&d, "text.jsonl", &back);
    assert_int_equal(back.count, 2);
    const char *targets[2] = {"First \"para\"\\\tend\nsecond line \xC3\xA9",
                              "Next: \xF0\x9F\x98\x80 \x7F"};
    for (uint32_t i = 0; i < 2; i++) {
        const vkq_sample *s = &back.samples[i];
        assert_int_equal(s->line, i + 1);
        assert_string_equal(s->user, "");
        assert_string_equal(s->input, "");
        assert_string_equal(s->target, targets[i]);
        assert_int_equal(s->n_history, 0);
    }
    vkq_dataset_free(&back);
    /* JSON escapes where JSON needs them, UTF-8 as it is */
    expect_file(path_of("text.jsonl"),
                "{\"user\":\"\",\"input\":\"\",\"target\":\"First \\\"para\\\"\\\\\\tend\\n"
                "second line \xC3\xA9\",\"history\":[]}\n"
                "{\"user\":\"\",\"input\":\"\",\"target\":\"Next: \xF0\x9F\x98\x80 \x7F\","
                "\"history\":[]}\n");
}

/* ---- the writer's refusals ------------------------------------------------------------ */

static void writer_refuses_and_leaves_no_file(void **state)
{
    (void)state;
    vkq_dataset empty = {0};
    const char *path = path_of("refused.jsonl");
    assert_int_equal(vkq_dataset_write_jsonl(&empty, path), VKQ_ERR_INVALID_ARGUMENT);
    char want[600];
    snprintf(want, sizeof want, "%s: no samples to write", path);
    assert_string_equal(vkq_last_error(), want);
    char user[] = "", input[] = "in", target[] = "", bad[] = "\xC3(";
    vkq_sample s = {.user = user, .input = input, .target = target};
    vkq_dataset one = {.samples = &s, .count = 1};
    assert_int_equal(vkq_dataset_write_jsonl(&one, path), VKQ_ERR_INVALID_ARGUMENT);
    s.target = bad;
    assert_int_equal(vkq_dataset_write_jsonl(&one, path), VKQ_ERR_INVALID_ARGUMENT);
    assert_string_equal(vkq_last_error(),
                        "sample 1: a missing or invalid UTF-8 string, or an empty target");
    expect_absent(path);
    expect_absent(path_of("refused.jsonl.tmp"));

    s.target = input;
    const char *missing = path_of("no/such/dir.jsonl");
    assert_int_equal(vkq_dataset_write_jsonl(&one, missing), VKQ_ERR_IO);
    expect_absent(missing);
    OK(vkq_dataset_write_jsonl(&one, write_text("old.jsonl", "old contents\n")));
    expect_file(path_of("old.jsonl"), "{\"user\":\"\",\"input\":\"in\",\"target\":\"in\","
                                      "\"history\":[]}\n");
    expect_absent(path_of("old.jsonl.tmp"));
}

/* ---- set-up ----------------------------------------------------------------------------- */

static int set_up(void **state)
{
    (void)state;
    return test_make_temp_dir(temp_dir, "convert");
}

static int tear_down(void **state)
{
    (void)state;
    return test_remove_tree(temp_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lamp_converts_and_reads_back),
        cmocka_unit_test(text_converts_and_reads_back),
        cmocka_unit_test(writer_refuses_and_leaves_no_file),
    };
    return cmocka_run_group_tests(tests, set_up, tear_down);
}
