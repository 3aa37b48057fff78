/* The golden-file reader against the committed files from tools/make_golden.py. The
 * expected names and shapes come from the generator's configuration (below), not from the
 * reader; malformed copies of the file must be rejected with a clear message. */
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

#include "golden/golden.h"
#include "support.h"

#define GOLDEN_DIR VKQ_SOURCE_DIR "/tests/golden"

/* tools/make_golden.py: the tiny model and the packed batch. */
enum {
    DIM = 32, HIDDEN = 80, LAYERS = 2, HEADS = 4, KV_HEADS = 2, VOCAB = 64, SEQ_LEN = 32,
    HEAD_SIZE = DIM / HEADS, KV_DIM = KV_HEADS * HEAD_SIZE,
    T = 7 + 12 + 5,          /* three sequences */
    R = (T - 3) - 2,         /* positions with a next token in their sequence, two dropped */
    STEPS = 10,
    /* llama2.c file order: tok_emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final */
    P = VOCAB * DIM + LAYERS * DIM + LAYERS * DIM * DIM + 2 * LAYERS * KV_DIM * DIM +
        LAYERS * DIM * DIM + LAYERS * DIM + 3 * LAYERS * HIDDEN * DIM + DIM,
};

static unsigned char *read_all(const char *path, size_t *size)
{
    unsigned char *bytes = (unsigned char *)test_read_file(path, size);
    if (!bytes)
        fail_msg("cannot open %s", path);
    return bytes;
}

static void expect_format_error(const unsigned char *bytes, size_t size, const char *needle)
{
    vkq_golden g;
    vkq_status s = vkq_golden_parse(bytes, size, "copy", &g);
    if (s != VKQ_ERR_FORMAT)
        fail_msg("expected a format error mentioning \"%s\", got %s (%s)", needle,
                 vkq_status_name(s), vkq_last_error());
    if (needle && !strstr(vkq_last_error(), needle))
        fail_msg("message \"%s\" does not mention \"%s\"", vkq_last_error(), needle);
    assert_int_equal(g.n_records, 0);
    assert_null(g.records);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void committed_file_has_the_expected_records(void **state)
{
    (void)state;
    vkq_golden g;
    OK(vkq_golden_load(GOLDEN_DIR "/tiny_llama_golden.bin", &g));
    assert_int_equal(g.version, 1);

    static const struct {
        const char *name;
        vkq_golden_dtype dtype;
        uint32_t ndim, dims[2];
    } expected[] = {
        {"tokens", VKQ_GOLDEN_I32, 1, {T}},
        {"offsets", VKQ_GOLDEN_I32, 1, {4}},
        {"rows", VKQ_GOLDEN_I32, 1, {R}},
        {"targets", VKQ_GOLDEN_I32, 1, {R}},
        {"weights", VKQ_GOLDEN_F32, 1, {R}},
        {"logits", VKQ_GOLDEN_F32, 2, {R, VOCAB}},
        {"loss", VKQ_GOLDEN_F32, 1, {1}},
        {"grads", VKQ_GOLDEN_F32, 1, {P}},
        {"adamw_losses", VKQ_GOLDEN_F32, 1, {STEPS}},
        {"grad_norms", VKQ_GOLDEN_F32, 1, {STEPS}},
        {"params_after", VKQ_GOLDEN_F32, 1, {P}},
    };
    enum { N = sizeof expected / sizeof expected[0] };
    assert_int_equal(g.n_records, N);
    for (int i = 0; i < N; i++) {
        const vkq_golden_record *r;
        assert_string_equal(g.records[i].name, expected[i].name);
        OK(vkq_golden_get(&g, expected[i].name, expected[i].dtype, expected[i].ndim,
                          expected[i].dims, &r));
        assert_ptr_equal(r, &g.records[i]);
    }

    /* The batch is self-consistent: offsets as configured, rows inside their sequences. */
    const int32_t *tokens, *offsets, *rows, *targets;
    const float *weights, *loss, *grads, *losses, *norms;
    OK(vkq_golden_i32(&g, "tokens", T, &tokens));
    OK(vkq_golden_i32(&g, "offsets", 4, &offsets));
    OK(vkq_golden_i32(&g, "rows", R, &rows));
    OK(vkq_golden_i32(&g, "targets", R, &targets));
    OK(vkq_golden_f32(&g, "weights", R, &weights));
    OK(vkq_golden_f32(&g, "loss", 1, &loss));
    OK(vkq_golden_f32(&g, "grads", P, &grads));
    OK(vkq_golden_f32(&g, "adamw_losses", STEPS, &losses));
    OK(vkq_golden_f32(&g, "grad_norms", STEPS, &norms));
    static const int32_t want_offsets[4] = {0, 7, 19, 24};
    assert_memory_equal(offsets, want_offsets, sizeof want_offsets);
    for (int t = 0; t < T; t++)
        assert_in_range(tokens[t], 0, VOCAB - 1);
    double weight_sum = 0;
    for (int r = 0; r < R; r++) {
        int s = 0;
        while (rows[r] >= offsets[s + 1])
            s++;
        assert_true(r == 0 || rows[r] > rows[r - 1]);
        assert_true(rows[r] + 1 < offsets[s + 1]); /* the next token is in the same sequence */
        assert_int_equal(targets[r], tokens[rows[r] + 1]);
        assert_true(weights[r] > 0);
        weight_sum += weights[r];
    }
    assert_true(fabs(weight_sum - 1.0) < 1e-5);

    /* The first AdamW step starts from the same loss and gradient. */
    assert_true(isfinite(loss[0]) && loss[0] > 0);
    assert_true(losses[0] == loss[0]);
    double norm2 = 0;
    for (int i = 0; i < P; i++)
        norm2 += (double)grads[i] * grads[i];
    assert_true(fabs(sqrt(norm2) - norms[0]) <= 1e-5 * norms[0]);
    assert_true(losses[STEPS - 1] < losses[0]);

    /* Lookups that must fail, with a message naming what differs. */
    const vkq_golden_record *r;
    assert_null(vkq_golden_find(&g, "no_such_record"));
    assert_int_equal(vkq_golden_get(&g, "logits", VKQ_GOLDEN_I32, 2,
                                    (uint32_t[]){R, VOCAB}, &r), VKQ_ERR_FORMAT);
    assert_non_null(strstr(vkq_last_error(), "is float32 [19, 64], expected int32 [19, 64]"));
    assert_null(r);
    assert_int_equal(vkq_golden_get(&g, "logits", VKQ_GOLDEN_F32, 1, (uint32_t[]){R}, &r),
                     VKQ_ERR_FORMAT);
    OK(vkq_golden_get(&g, "logits", VKQ_GOLDEN_F32, 2, (uint32_t[]){VKQ_GOLDEN_ANY, VOCAB},
                      &r));
    assert_int_equal(r->count, (size_t)R * VOCAB);
    assert_int_equal(vkq_golden_f32(&g, "tokens", T, &weights), VKQ_ERR_FORMAT);
    assert_int_equal(vkq_golden_f32(&g, "missing", 1, &weights), VKQ_ERR_FORMAT);
    assert_non_null(strstr(vkq_last_error(), "no record \"missing\""));

    vkq_golden_free(&g);
    assert_int_equal(g.n_records, 0);
    vkq_golden_free(&g); /* freeing twice is harmless */
}

/* The model the golden values belong to: a llama2.c header and the exact file size. */
static void committed_model_matches_the_config(void **state)
{
    (void)state;
    size_t size;
    unsigned char *bytes = read_all(GOLDEN_DIR "/tiny_llama.bin", &size);
    int32_t header[7];
    memcpy(header, bytes, sizeof header);
    static const int32_t want[7] = {DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, VOCAB, SEQ_LEN};
    assert_memory_equal(header, want, sizeof want);
    /* parameters, then the two RoPE tables of seq_len x head_size/2; shared classifier */
    assert_int_equal(size, 28 + 4 * ((size_t)P + SEQ_LEN * HEAD_SIZE));
    free(bytes);
}

static void truncated_copies_are_rejected(void **state)
{
    (void)state;
    size_t size;
    unsigned char *bytes = read_all(GOLDEN_DIR "/tiny_llama_golden.bin", &size);

    /* A truncated copy on disk. */
    char path[] = "/tmp/vkq_golden_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, size - 100, f), size - 100);
    fclose(f);
    vkq_golden g;
    assert_int_equal(vkq_golden_load(path, &g), VKQ_ERR_FORMAT);
    assert_non_null(strstr(vkq_last_error(), path));
    assert_non_null(strstr(vkq_last_error(), "truncated"));
    assert_non_null(strstr(vkq_last_error(), "\"params_after\""));
    unlink(path);

    /* Every cut through the header and the first records, and a few through the data. */
    for (size_t cut = 0; cut < 600; cut++)
        expect_format_error(bytes, cut, "truncated");
    size_t cuts[] = {size / 3, size / 2, size - 4, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        expect_format_error(bytes, cuts[i], "truncated");
    free(bytes);
}

static void malformed_copies_are_rejected(void **state)
{
    (void)state;
    size_t size;
    unsigned char *orig = read_all(GOLDEN_DIR "/tiny_llama_golden.bin", &size);
    unsigned char *b = malloc(size + 1);
    assert_non_null(b);
    /* Record 0 is "tokens": name length at 12, name at 16, dtype at 22, ndim at 26, dim 30. */
    assert_memory_equal(orig + 16, "tokens", 6);
#define FRESH() memcpy(b, orig, size)

    FRESH(); b[0] = 'X';
    expect_format_error(b, size, "does not start with VKQG");
    FRESH(); put_u32(b + 4, 2);
    expect_format_error(b, size, "version 2");
    FRESH(); put_u32(b + 8, 0xFFFFFFFFu);
    expect_format_error(b, size, "records cannot fit");
    FRESH(); put_u32(b + 12, 0);
    expect_format_error(b, size, "name length of 0");
    FRESH(); b[17] = '\n';
    expect_format_error(b, size, "byte 0x0a");
    FRESH(); put_u32(b + 22, 7);
    expect_format_error(b, size, "dtype 7");
    FRESH(); put_u32(b + 26, 9);
    expect_format_error(b, size, "9 dimensions");
    FRESH(); put_u32(b + 30, 0x7FFFFFFFu);
    expect_format_error(b, size, "describes more data");
    /* rename record 2, "rows", to "loss": the name of record 6 */
    size_t rows_name = 12 + (4 + 6 + 8 + 4 + 4 * T) + (4 + 7 + 8 + 4 + 4 * 4) + 4;
    assert_memory_equal(orig + rows_name, "rows", 4);
    FRESH(); memcpy(b + rows_name, "loss", 4);
    expect_format_error(b, size, "record 6 (\"loss\") repeats the name of record 2");
    FRESH(); b[size] = 0;
    expect_format_error(b, size + 1, "1 unexpected bytes after the last record");

    vkq_golden g;
    assert_int_equal(vkq_golden_load(GOLDEN_DIR "/no_such_file.bin", &g), VKQ_ERR_IO);
    assert_non_null(strstr(vkq_last_error(), "no_such_file.bin"));
#undef FRESH
    free(b);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(committed_file_has_the_expected_records),
        cmocka_unit_test(committed_model_matches_the_config),
        cmocka_unit_test(truncated_copies_are_rejected),
        cmocka_unit_test(malformed_copies_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
