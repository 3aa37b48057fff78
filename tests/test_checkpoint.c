/* Llama configs, the parameter layout and llama2.c checkpoints: round trips, the file layout
 * worked out by hand, and malformed files. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/file.h"
#include "support.h"
#include "vkquill/llama2c.h"

static char temp_dir[TEST_DIR_SIZE];

/* D 8, H 12, L 2, 2 heads of size 4, 1 KV head (KVD 4), V 10, seq 6. */
static vkq_llama_config tiny_config(int shared)
{
    return (vkq_llama_config){.dim = 8, .hidden_dim = 12, .n_layers = 2, .n_heads = 2,
                              .n_kv_heads = 1, .vocab_size = 10, .seq_len = 6,
                              .shared_classifier = shared, .norm_eps = 1e-5f,
                              .rope_theta = 10000.0f};
}

/* Worked out by hand from the array shapes: tok_emb 10*8, rms_att 2*8, wq 2*8*8, wk 2*4*8,
 * wv 2*4*8, wo 2*8*8, rms_ffn 2*8, w1 2*12*8, w2 2*8*12, w3 2*12*8, rms_final 8, wcls 10*8. */
enum { TINY_SHARED_TOTAL = 1080, TINY_SEPARATE_TOTAL = 1160, TINY_ROPE = 6 * 2 };
enum { TINY_SHARED_BYTES = 28 + 4 * (TINY_SHARED_TOTAL + 2 * TINY_ROPE),
       TINY_SEPARATE_BYTES = 28 + 4 * (TINY_SEPARATE_TOTAL + 2 * TINY_ROPE) };
/* vkquill's checksum trailer: "vkqxxh64", then the XXH64 of every byte before it. */
enum { TRAILER = 16 };

static uint64_t checksum_of(const void *data, size_t n)
{
    vkq_checksum c;
    vkq_checksum_start(&c);
    vkq_checksum_add(&c, data, n);
    return vkq_checksum_value(&c);
}

static float *random_params(size_t n, uint64_t seed)
{
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (float)((double)(seed >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
    }
    return p;
}

static float float_at(const unsigned char *file, size_t float_index)
{
    float x;
    memcpy(&x, file + 28 + 4 * float_index, sizeof x);
    return x;
}

static void with_bias(vkq_llama_config *c) { c->qkv_bias = 1; }
static void with_qk_norm(vkq_llama_config *c) { c->qk_norm = 1; }
static void with_halves(vkq_llama_config *c) { c->rope_pairs = VKQ_ROPE_HALVES; }
static void with_head_dim(vkq_llama_config *c) { c->head_dim = 6; }

static void expect_config_problem(vkq_llama_config c, const char *what)
{
    vkq_status s = vkq_llama_config_check(&c);
    if (s != VKQ_ERR_INVALID_ARGUMENT || !strstr(vkq_last_error(), what))
        fail_msg("got \"%s\", want \"%s\"", vkq_last_error(), what);
}

static void layout_matches_hand_computation(void **state)
{
    (void)state;
    vkq_llama_config c = tiny_config(0);
    OK(vkq_llama_config_check(&c));
    vkq_llama_tensors l;
    vkq_llama_tensors_of(&c, &l);
    const size_t want[] = {0, 80, 96, 224, 288, 352, 480, 496, 688, 880, 1072, 1080, 1160};
    const vkq_tensor_id ids[] = {VKQ_TOK_EMB, VKQ_RMS_ATT, VKQ_WQ, VKQ_WK, VKQ_WV, VKQ_WO,
                                 VKQ_RMS_FFN, VKQ_W1, VKQ_W2, VKQ_W3, VKQ_RMS_FINAL, VKQ_WCLS};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        assert_int_equal(l.t[ids[i]].offset, want[i]);
    assert_int_equal(l.total, want[12]);
    const vkq_tensor_id absent[] = {VKQ_BQ, VKQ_BK, VKQ_BV, VKQ_Q_NORM, VKQ_K_NORM};
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
        assert_int_equal(vkq_tensor_floats(&l, absent[i]), 0);
    c.shared_classifier = 1;
    vkq_llama_tensors_of(&c, &l);
    assert_int_equal(l.t[VKQ_WCLS].offset, l.t[VKQ_TOK_EMB].offset);
    assert_int_equal(l.total, TINY_SHARED_TOTAL);
}

/* Qwen-style: head_dim 6 (QD 12 != D 8), q/k/v biases, q/k norms. By hand: tok_emb 80,
 * rms_att 16, wq 2*12*8, wk 2*6*8, wv 96, bq 2*12, bk 2*6, bv 12, q_norm 2*6, k_norm 12,
 * wo 2*8*12, rms_ffn 16, w1 192, w2 192, w3 192, rms_final 8. */
static void tensors_of_qwen_features(void **state)
{
    (void)state;
    vkq_llama_config c = tiny_config(1);
    c.head_dim = 6;
    c.qkv_bias = 1;
    c.qk_norm = 1;
    OK(vkq_llama_config_check(&c));
    vkq_llama_tensors l;
    vkq_llama_tensors_of(&c, &l);
    const size_t want[] = {0, 80, 96, 288, 384, 480, 504, 516, 528, 540, 552, 744, 760, 952,
                           1144, 1336, 1344};
    for (int i = 0; i < VKQ_TENSOR_COUNT - 1; i++)
        assert_int_equal(l.t[i].offset, want[i]);
    assert_int_equal(l.total, want[16]);
    assert_int_equal(l.t[VKQ_WO].rows, 8);
    assert_int_equal(l.t[VKQ_WO].cols, 12);
    assert_string_equal(l.t[VKQ_Q_NORM].name, "q_norm");
    c.head_dim = 5;
    expect_config_problem(c, "head_dim 5 is not an even number");
}


static void config_check_rejects_bad_shapes(void **state)
{
    (void)state;
    vkq_llama_config c = tiny_config(1);
    c.dim = 0;
    expect_config_problem(c, "dim 0 is outside");
    c = tiny_config(1);
    c.vocab_size = 1u << 30;
    expect_config_problem(c, "vocab_size 1073741824 is outside");
    c = tiny_config(1);
    c.n_heads = 3;
    expect_config_problem(c, "n_heads 3 does not divide dim 8");
    c = tiny_config(1);
    c.n_heads = 8; /* head size 1: RoPE needs pairs */
    c.n_kv_heads = 1;
    expect_config_problem(c, "even head size");
    c = tiny_config(1);
    c.n_heads = 4;
    c.n_kv_heads = 3;
    expect_config_problem(c, "n_kv_heads 3 does not divide n_heads 4");
    c = tiny_config(1);
    c.norm_eps = 0.0f;
    expect_config_problem(c, "norm_eps");
    c = tiny_config(1);
    c.rope_theta = NAN;
    expect_config_problem(c, "rope_theta");
}

static void round_trip(int shared)
{
    vkq_llama_config c = tiny_config(shared);
    vkq_llama_tensors l;
    vkq_llama_tensors_of(&c, &l);
    float *params = random_params(l.total, 42 + (uint64_t)shared);
    const char *path = test_path(temp_dir, "model.bin");
    OK(vkq_llama2c_write(path, &c, params));
    assert_false(test_file_exists(test_path(temp_dir, "model.bin.tmp")));

    vkq_llama_config back;
    float *read = NULL;
    OK(vkq_llama2c_read(path, &back, &read));
    assert_memory_equal(read, params, l.total * sizeof *params);
    assert_int_equal(back.dim, 8);
    assert_int_equal(back.hidden_dim, 12);
    assert_int_equal(back.n_layers, 2);
    assert_int_equal(back.n_heads, 2);
    assert_int_equal(back.n_kv_heads, 1);
    assert_int_equal(back.vocab_size, 10);
    assert_int_equal(back.seq_len, 6);
    assert_int_equal(back.shared_classifier, shared);
    assert_true(back.norm_eps == 1e-5f && back.rope_theta == 10000.0f);

    /* the file itself, byte by byte where the format fixes it */
    size_t size;
    unsigned char *file = (unsigned char *)test_read_file(path, &size);
    assert_non_null(file);
    size_t body = shared ? TINY_SHARED_BYTES : TINY_SEPARATE_BYTES;
    assert_int_equal(size, body + TRAILER);
    assert_memory_equal(file + body, "vkqxxh64", 8);
    uint64_t stored;
    memcpy(&stored, file + body + 8, sizeof stored);
    assert_true(stored == checksum_of(file, body));
    int32_t header[7];
    memcpy(header, file, sizeof header);
    const int32_t want_header[7] = {8, 12, 2, 2, 1, shared ? 10 : -10, 6};
    assert_memory_equal(header, want_header, sizeof header);
    assert_memory_equal(file + 28, params, TINY_SHARED_TOTAL * sizeof *params);
    /* RoPE tables [6][2] after rms_final: pos p, pair i at angle p * 10000^(-2i/4) */
    for (int p = 0; p < 6; p++)
        for (int i = 0; i < 2; i++) {
            double angle = p * pow(10000.0, -2.0 * i / 4);
            assert_float_equal(float_at(file, TINY_SHARED_TOTAL + 2 * p + i), cos(angle), 1e-6);
            assert_float_equal(float_at(file, TINY_SHARED_TOTAL + TINY_ROPE + 2 * p + i),
                               sin(angle), 1e-6);
        }
    if (!shared)
        assert_memory_equal(file + 28 + 4 * (TINY_SHARED_TOTAL + 2 * TINY_ROPE),
                            params + TINY_SHARED_TOTAL, 80 * sizeof *params);
    free(file);
    free(read);
    free(params);
    unlink(path);
}

static void shared_classifier_round_trips(void **state)
{
    (void)state;
    round_trip(1);
}

static void separate_classifier_round_trips(void **state)
{
    (void)state;
    round_trip(0);
}

/* Reading must fail with `status` and a message naming the file and containing `what`. */
static void expect_read_error(const char *path, vkq_status status, const char *what)
{
    vkq_llama_config c;
    float *params = (float *)&params; /* must be reset to NULL */
    vkq_status s = vkq_llama2c_read(path, &c, &params);
    if (s != status || !strstr(vkq_last_error(), path) || !strstr(vkq_last_error(), what))
        fail_msg("reading %s: got \"%s\" (%s), want %s with \"%s\"", path, vkq_last_error(),
                 vkq_status_name(s), vkq_status_name(status), what);
    assert_null(params);
}

/* A valid tiny checkpoint's bytes, for cutting and extending. */
static unsigned char *tiny_file(int shared, size_t *size)
{
    vkq_llama_config c = tiny_config(shared);
    float *params = random_params(TINY_SEPARATE_TOTAL, 7);
    const char *path = test_path(temp_dir, "tiny.bin");
    OK(vkq_llama2c_write(path, &c, params));
    free(params);
    unsigned char *file = (unsigned char *)test_read_file(path, size);
    assert_non_null(file);
    unlink(path);
    return file;
}

static void truncated_files_are_reported(void **state)
{
    (void)state;
    for (int shared = 0; shared <= 1; shared++) {
        size_t size;
        unsigned char *file = tiny_file(shared, &size);
        size_t body = size - TRAILER;
        const size_t cuts[] = {0, 27, 28, 29, 100, size / 2, body - 4, body - 1, body + 1,
                               size - 1};
        for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
            const char *path = test_path(temp_dir, "cut.bin");
            test_write_file(path, file, cuts[i]);
            char want[128];
            if (cuts[i] < 28)
                snprintf(want, sizeof want, "%zu bytes, less than the 28-byte header", cuts[i]);
            else if (cuts[i] < body)
                snprintf(want, sizeof want, "truncated: header implies %zu bytes, file has %zu",
                         body, cuts[i]);
            else
                snprintf(want, sizeof want, "truncated: header implies %zu bytes and a 16-byte "
                         "checksum trailer, file has %zu", body, cuts[i]);
            expect_read_error(path, VKQ_ERR_FORMAT, want);
            unlink(path);
        }
        free(file);
    }
}

static void trailing_bytes_are_reported(void **state)
{
    (void)state;
    size_t size;
    unsigned char *file = tiny_file(1, &size);
    unsigned char *longer = calloc(size + 4, 1);
    memcpy(longer, file, size);
    const char *path = test_path(temp_dir, "long.bin");
    test_write_file(path, longer, size + 4);
    char want[128];
    snprintf(want, sizeof want, "header implies %zu bytes, file has %zu (20 trailing)",
             size - TRAILER, size + 4);
    expect_read_error(path, VKQ_ERR_FORMAT, want);
    unlink(path);
    free(longer);
    free(file);
}

/* The checksum is XXH64 with seed 0: published values of the xxHash reference, and the same
 * value however the bytes are split. */
static void checksum_is_xxh64(void **state)
{
    (void)state;
    assert_true(checksum_of("", 0) == 0xEF46DB3751D8E999ull);
    assert_true(checksum_of("abc", 3) == 0x44BC2CF5AD770999ull);
    assert_true(checksum_of("xxhash", 6) == 0x32DD38952C4BC720ull);
    unsigned char bytes[1000];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (unsigned char)(i * 7 + 3);
    vkq_checksum c;
    vkq_checksum_start(&c);
    for (size_t at = 0, piece = 1; at < sizeof bytes; at += piece, piece = piece * 3 % 97 + 1)
        vkq_checksum_add(&c, bytes + at, at + piece > sizeof bytes ? sizeof bytes - at : piece);
    assert_true(vkq_checksum_value(&c) == checksum_of(bytes, sizeof bytes));
}

/* A flipped bit anywhere before the trailer, or a damaged trailer, is refused by name. */
static void damaged_files_are_refused(void **state)
{
    (void)state;
    size_t size;
    unsigned char *file = tiny_file(0, &size);
    const char *path = test_path(temp_dir, "damaged.bin");
    const size_t flips[] = {28, 28 + 4 * 500 + 2, size - TRAILER - 1};
    for (size_t i = 0; i < sizeof flips / sizeof *flips; i++) {
        file[flips[i]] ^= 0x10;
        test_write_file(path, file, size);
        expect_read_error(path, VKQ_ERR_FORMAT, "checksum mismatch");
        /* opening reads only the header (vkquill plan needs no more); the first weight read
         * checks the whole file */
        vkq_llama2c_file *f = NULL;
        OK(vkq_llama2c_open(path, &f));
        assert_int_equal(vkq_llama2c_config(f)->dim, 8);
        vkq_tensor_source src = vkq_llama2c_weights(f);
        float one;
        assert_int_equal(src.read(src.user, VKQ_RMS_FINAL, 0, 1, &one), VKQ_ERR_FORMAT);
        assert_non_null(strstr(vkq_last_error(), "checksum mismatch"));
        vkq_llama2c_close(f);
        file[flips[i]] ^= 0x10;
    }
    file[size - TRAILER] = 'V';
    test_write_file(path, file, size);
    expect_read_error(path, VKQ_ERR_FORMAT, "are no vkquill checksum trailer");
    unlink(path);
    free(file);
}

/* A file of the plain llama2.c layout (what llama2.c's export writes) has no trailer. */
static void files_without_trailer_load(void **state)
{
    (void)state;
    size_t size;
    unsigned char *file = tiny_file(1, &size);
    const char *path = test_path(temp_dir, "plain.bin");
    test_write_file(path, file, size - TRAILER);
    vkq_llama_config c;
    float *params = NULL;
    OK(vkq_llama2c_read(path, &c, &params));
    assert_memory_equal(params, file + 28, TINY_SHARED_TOTAL * sizeof *params);
    free(params);
    unlink(path);
    free(file);
}

static void text_files_are_not_checkpoints(void **state)
{
    (void)state;
    const char text[] = "Once upon a time, there was a llama who liked to read binary files.\n";
    const char *path = test_path(temp_dir, "story.txt");
    test_write_file(path, text, sizeof text - 1);
    expect_read_error(path, VKQ_ERR_FORMAT, "not a llama2.c checkpoint: dim");
    unlink(path);
    expect_read_error(test_path(temp_dir, "missing.bin"), VKQ_ERR_IO, "cannot open");
    expect_read_error(temp_dir, VKQ_ERR_IO, "not a regular file");
}

/* A file of just a header (the size checks come after the header checks). */
static void expect_header_error(int32_t dim, int32_t hidden, int32_t layers, int32_t heads,
                                int32_t kv_heads, int32_t vocab, int32_t seq, const char *what)
{
    const int32_t header[7] = {dim, hidden, layers, heads, kv_heads, vocab, seq};
    const char *path = test_path(temp_dir, "header.bin");
    test_write_file(path, header, sizeof header);
    expect_read_error(path, VKQ_ERR_FORMAT, what);
    unlink(path);
}

static void bad_headers_are_reported(void **state)
{
    (void)state;
    expect_header_error(8, 12, 2, 4, 3, 10, 6, "n_kv_heads 3 does not divide n_heads 4");
    expect_header_error(0, 12, 2, 2, 1, 10, 6, "not a llama2.c checkpoint: dim is 0");
    expect_header_error(8, 12, -2, 2, 1, 10, 6, "n_layers is -2");
    expect_header_error(8, 12, 2, 2, 1, 0, 6, "vocab_size is 0");
    expect_header_error(8, 12, 2, 2, 1, 10, -1, "seq_len is -1");
    expect_header_error(8, 12, 2, 2, 1, INT32_MIN, 6, "vocab_size 2147483648 is outside");
    expect_header_error(8, -12, 2, 2, 1, 10, 6, "hidden_dim is -12");
    expect_header_error(INT32_MAX, 12, 2, 2, 1, 10, 6, "dim 2147483647 is outside");
    /* the largest shape allowed: its size is computed, not allocated, before the length check */
    expect_header_error(1 << 16, 1 << 18, 1 << 10, 1 << 10, 1 << 10, -(1 << 21), 1 << 20,
                        "truncated: header implies");
}

static void failed_writes_leave_nothing(void **state)
{
    (void)state;
    vkq_llama_config c = tiny_config(1);
    float *params = random_params(TINY_SHARED_TOTAL, 3);

    const char *nowhere = test_path(temp_dir, "no/such/dir/model.bin");
    assert_int_equal(vkq_llama2c_write(nowhere, &c, params), VKQ_ERR_IO);
    assert_non_null(strstr(vkq_last_error(), "model.bin.tmp: cannot create"));

    /* the final rename fails when PATH is a directory; the temporary file must go */
    const char *dir = test_path(temp_dir, "taken");
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(vkq_llama2c_write(dir, &c, params), VKQ_ERR_IO);
    assert_non_null(strstr(vkq_last_error(), "cannot rename"));
    assert_false(test_file_exists(test_path(temp_dir, "taken.tmp")));
    assert_int_equal(rmdir(dir), 0);

    assert_int_equal(vkq_make_dirs(""), VKQ_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkq_last_error(), "empty name"));

    /* what the format cannot hold is refused before anything is written */
    const char *path = test_path(temp_dir, "invalid.bin");
    const struct { void (*change)(vkq_llama_config *); const char *why; } unheld[] = {
        {with_bias, "biases"}, {with_qk_norm, "normalised"}, {with_halves, "halves"},
        {with_head_dim, "head_dim 6"}};
    for (size_t i = 0; i < sizeof unheld / sizeof unheld[0]; i++) {
        vkq_llama_config u = c;
        unheld[i].change(&u);
        assert_int_equal(vkq_llama2c_write(path, &u, params), VKQ_ERR_UNSUPPORTED);
        assert_non_null(strstr(vkq_last_error(), unheld[i].why));
        assert_false(test_file_exists(path));
    }

    c.n_kv_heads = 3;
    assert_int_equal(vkq_llama2c_write(path, &c, params), VKQ_ERR_INVALID_ARGUMENT);
    assert_false(test_file_exists(path));
    assert_false(test_file_exists(test_path(temp_dir, "invalid.bin.tmp")));

    assert_int_equal(test_count_entries(temp_dir), 0);
    free(params);
}

static int create_temp_dir(void **state)
{
    (void)state;
    return test_make_temp_dir(temp_dir, "checkpoint");
}

/* Tests remove what they create; this also clears up after a failed one. */
static int remove_temp_dir(void **state)
{
    (void)state;
    return test_remove_tree(temp_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(layout_matches_hand_computation),
        cmocka_unit_test(tensors_of_qwen_features),
        cmocka_unit_test(config_check_rejects_bad_shapes),
        cmocka_unit_test(shared_classifier_round_trips),
        cmocka_unit_test(separate_classifier_round_trips),
        cmocka_unit_test(truncated_files_are_reported),
        cmocka_unit_test(trailing_bytes_are_reported),
        cmocka_unit_test(checksum_is_xxh64),
        cmocka_unit_test(damaged_files_are_refused),
        cmocka_unit_test(files_without_trailer_load),
        cmocka_unit_test(text_files_are_not_checkpoints),
        cmocka_unit_test(bad_headers_are_reported),
        cmocka_unit_test(failed_writes_leave_nothing),
    };
    return cmocka_run_group_tests(tests, create_temp_dir, remove_temp_dir);
}
