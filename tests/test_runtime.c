/* The runtime: memory blocks, transfers, and barriers between dependent dispatches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "support.h"
#include "vkquill/kernels.h"

static vkq_ctx *ctx;

static void upload_download_round_trip(void **state)
{
    (void)state;
    enum { N = 100003 };
    float *in = malloc(N * sizeof *in), *out = calloc(N, sizeof *out);
    for (int i = 0; i < N; i++)
        in[i] = (float)i * 0.5f - 7.0f;
    vkq_buf b;
    OK(vkq_buf_alloc(ctx, N * sizeof *in, &b));
    OK(vkq_buf_upload(ctx, b, 0, in, N * sizeof *in));
    OK(vkq_buf_download(ctx, b, 0, out, N * sizeof *out));
    assert_memory_equal(in, out, N * sizeof *in);
    /* a partial download at an offset */
    float part[3];
    OK(vkq_buf_download(ctx, b, 4 * 1000, part, sizeof part));
    assert_true(part[0] == in[1000] && part[2] == in[1002]);
    vkq_buf_free(ctx, &b);
    free(in);
    free(out);
}

static void out_of_range_transfer_is_an_error(void **state)
{
    (void)state;
    vkq_buf b;
    float x[4] = {0};
    OK(vkq_buf_alloc(ctx, sizeof x, &b));
    assert_int_equal(vkq_buf_upload(ctx, b, 8, x, sizeof x), VKQ_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkq_last_error(), "outside a buffer of 16 bytes"));
    vkq_buf_free(ctx, &b);
}

static void freed_memory_is_reused(void **state)
{
    (void)state;
    uint64_t before = vkq_ctx_memory_in_use(ctx);
    vkq_buf a, b, c;
    OK(vkq_buf_alloc(ctx, 1000, &a));
    OK(vkq_buf_alloc(ctx, 5000, &b));
    OK(vkq_buf_alloc(ctx, 1000, &c));
    assert_true(vkq_ctx_memory_in_use(ctx) >= before + 7000);
    uint64_t b_offset = b.offset;
    vkq_buf_free(ctx, &a);
    vkq_buf_free(ctx, &b);
    /* a and b were neighbours: their ranges merge and take a request larger than either */
    vkq_buf d;
    OK(vkq_buf_alloc(ctx, 5500, &d));
    assert_true(d.offset < b_offset);
    vkq_buf_free(ctx, &c);
    vkq_buf_free(ctx, &d);
    assert_int_equal(vkq_ctx_memory_in_use(ctx), before);
}

/* Each dispatch reads what the previous one wrote, all in one command buffer: without the
 * recorder's barriers the chain would read stale values on a real GPU and under validation. */
static void dependent_dispatches_see_each_other(void **state)
{
    (void)state;
    enum { N = 4096 };
    vkq_buf x, y, total;
    OK(vkq_buf_alloc(ctx, N * 4, &x));
    OK(vkq_buf_alloc(ctx, N * 4, &y));
    OK(vkq_buf_alloc(ctx, 4, &total));
    vkq_rec *rec;
    OK(vkq_rec_create(ctx, &rec));
    OK(vkq_rec_begin(rec));
    OK(vkq_fill(rec, x, 1.5f, N));     /* x = 1.5 */
    OK(vkq_fill(rec, y, 2.0f, N));     /* y = 2 (independent of x) */
    OK(vkq_axpy(rec, 2.0f, x, y, N));  /* y = 5 */
    OK(vkq_scale(rec, y, x, 3.0f, N)); /* x = 15 */
    OK(vkq_add(rec, x, y, y, N));      /* y = 20 */
    OK(vkq_sum(rec, y, N, total));     /* 20 N, in two passes */
    OK(vkq_rec_end(rec));
    for (int run = 0; run < 2; run++) { /* a recording can be submitted again */
        OK(vkq_rec_submit(rec));
        float t;
        OK(vkq_buf_download(ctx, total, 0, &t, sizeof t));
        assert_float_equal(t, 20.0f * N, 1e-3);
    }
    assert_int_equal(vkq_rec_dispatch_count(rec), 7);
    vkq_rec_destroy(rec);
    vkq_buf_free(ctx, &x);
    vkq_buf_free(ctx, &y);
    vkq_buf_free(ctx, &total);
}

static void bad_shapes_are_refused(void **state)
{
    (void)state;
    vkq_buf a;
    OK(vkq_buf_alloc(ctx, 16 * 4, &a));
    vkq_rec *rec;
    OK(vkq_rec_create(ctx, &rec));
    OK(vkq_rec_begin(rec));
    vkq_matmul_args args = {.form = VKQ_MATMUL_NN, .m = 4, .n = 4, .k = 8, .alpha = 1.0f};
    assert_int_equal(vkq_matmul(rec, &args, a, a, a), VKQ_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkq_last_error(), "operand A needs 32 elements"));
    /* a 16-bit B of 4 x 8 fits the 64 bytes; one in half a word does not */
    args = (vkq_matmul_args){.form = VKQ_MATMUL_NT, .m = 1, .n = 4, .k = 8, .alpha = 1.0f,
                             .type_b = VKQ_BF16};
    assert_int_equal(vkq_matmul(rec, &args, a, vkq_buf_slice(a, 2, 62), a),
                     VKQ_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkq_last_error(), "in whole 32-bit words"));
    args.n = 9;
    assert_int_equal(vkq_matmul(rec, &args, a, a, a), VKQ_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkq_last_error(), "operand B needs 72 elements but its buffer holds 32"));
    args.type_b = (vkq_dtype)7;
    assert_int_equal(vkq_matmul(rec, &args, a, a, a), VKQ_ERR_INVALID_ARGUMENT);
    args = (vkq_matmul_args){.form = VKQ_MATMUL_NN, .m = 4, .n = 4, .k = 0, .alpha = 1.0f};
    assert_int_equal(vkq_matmul(rec, &args, a, a, a), VKQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(vkq_add(rec, a, a, a, 17), VKQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(vkq_sum(rec, a, 0, a), VKQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(vkq_rec_dispatch_count(rec), 0);
    OK(vkq_rec_end(rec));
    vkq_rec_destroy(rec);
    vkq_buf_free(ctx, &a);
}

static void unknown_device_is_an_error(void **state)
{
    (void)state;
    vkq_ctx_options o = VKQ_CTX_OPTIONS_DEFAULT;
    o.device = "no-such-device-name";
    vkq_ctx *other = NULL;
    assert_int_equal(vkq_ctx_create(&o, &other), VKQ_ERR_NO_DEVICE);
    assert_null(other);
    assert_non_null(strstr(vkq_last_error(), "matches none of the"));
}

/* A context whose limits VKQ_DEBUG_MAX_BINDING and VKQ_DEBUG_MAX_ALLOCATION lower. */
static vkq_ctx *lowered_ctx(const char *binding, const char *allocation)
{
    setenv("VKQ_DEBUG_MAX_BINDING", binding, 1);
    setenv("VKQ_DEBUG_MAX_ALLOCATION", allocation, 1);
    vkq_ctx *small = NULL;
    vkq_status s = vkq_ctx_create(NULL, &small);
    unsetenv("VKQ_DEBUG_MAX_BINDING");
    unsetenv("VKQ_DEBUG_MAX_ALLOCATION");
    if (s != VKQ_OK)
        fail_msg("%s", vkq_last_error());
    return small;
}

static void debug_limits_lower_the_device_limits(void **state)
{
    (void)state;
    vkq_ctx *small = lowered_ctx("65536", "200000");
    const vkq_device_info *d = vkq_ctx_device(small);
    assert_true(d->debug_limits);
    assert_int_equal(d->max_storage_buffer_range, 65536);
    assert_int_equal(d->max_texel_buffer_elements, vkq_ctx_device(ctx)->max_texel_buffer_elements);
    assert_int_equal(d->max_allocation_size, 200000);
    assert_int_equal(vkq_ctx_max_binding(small), 65536);
    assert_false(vkq_ctx_device(ctx)->debug_limits);
    assert_true(vkq_ctx_max_binding(ctx) > 65536);
    OK(vkq_ctx_destroy(small));
}

static void bad_debug_limits_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"12x", "-5", "1000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("VKQ_DEBUG_MAX_BINDING", bad[i], 1);
        vkq_ctx *other = NULL;
        assert_int_equal(vkq_ctx_create(NULL, &other), VKQ_ERR_INVALID_ARGUMENT);
        assert_null(other);
        assert_non_null(strstr(vkq_last_error(), "VKQ_DEBUG_MAX_BINDING="));
        assert_non_null(strstr(vkq_last_error(), bad[i]));
    }
    unsetenv("VKQ_DEBUG_MAX_BINDING");
}

/* Past the largest allocation a buffer is refused; past a block it gets a block of its own. */
static void allocations_respect_the_largest_allocation(void **state)
{
    (void)state;
    vkq_ctx *small = lowered_ctx("65536", "200000");
    vkq_buf a, b;
    assert_int_equal(vkq_buf_alloc(small, 300000, &a), VKQ_ERR_UNSUPPORTED);
    assert_non_null(strstr(vkq_last_error(), "largest memory allocation"));
    OK(vkq_buf_alloc(small, 150000, &a));
    OK(vkq_buf_alloc(small, 150000, &b));
    assert_ptr_not_equal(a.block, b.block); /* blocks of 200000 bytes hold one each */
    vkq_buf_free(small, &a);
    vkq_buf_free(small, &b);
    OK(vkq_ctx_destroy(small));
}

/* A binding past the limit is refused by the recorder, before Vulkan sees it. */
static void bindings_past_the_limit_are_refused(void **state)
{
    (void)state;
    vkq_ctx *small = lowered_ctx("4096", "1048576");
    vkq_buf big;
    OK(vkq_buf_alloc(small, 8192, &big));
    vkq_rec *rec;
    OK(vkq_rec_create(small, &rec));
    OK(vkq_rec_begin(rec));
    assert_int_equal(vkq_fill(rec, big, 1.0f, 2048), VKQ_ERR_UNSUPPORTED);
    assert_non_null(strstr(vkq_last_error(), "more than this device's limit of 4096"));
    OK(vkq_fill(rec, vkq_buf_slice(big, 0, 4096), 1.0f, 1024));
    OK(vkq_rec_end(rec));
    OK(vkq_rec_submit(rec));
    vkq_rec_destroy(rec);
    vkq_buf_free(small, &big);
    OK(vkq_ctx_destroy(small));
}

/* Pieces of whole rows, each within a binding; an upload and download across pieces. */
static void pieces_hold_whole_rows(void **state)
{
    (void)state;
    vkq_ctx *small = lowered_ctx("4096", "1048576");
    enum { ROWS = 100, COLS = 24 }; /* 96-byte rows: 42 a piece, 4032 bytes */
    vkq_pieces p;
    OK(vkq_pieces_alloc(small, ROWS, COLS * 4, &p));
    assert_int_equal(p.per_piece, 42);
    assert_int_equal(p.count, 3);
    assert_int_equal(vkq_pieces_units(&p, 2), 16);
    float in[ROWS * COLS], out[ROWS * COLS];
    for (int i = 0; i < ROWS * COLS; i++)
        in[i] = (float)i;
    OK(vkq_pieces_upload(small, &p, 0, ROWS, in));
    memset(out, 0, sizeof out);
    OK(vkq_pieces_download(small, &p, 0, ROWS, out));
    assert_memory_equal(in, out, sizeof in);
    OK(vkq_pieces_download(small, &p, 40, 5, out)); /* rows 40..44 span pieces 0 and 1 */
    assert_memory_equal(in + 40 * COLS, out, 5 * COLS * sizeof *out);
    assert_int_equal(vkq_pieces_download(small, &p, 99, 2, out), VKQ_ERR_INVALID_ARGUMENT);
    vkq_pieces_free(small, &p);
    assert_int_equal(vkq_pieces_alloc(small, 2, 8192, &p), VKQ_ERR_UNSUPPORTED);
    assert_non_null(strstr(vkq_last_error(), "largest binding of 4096 bytes"));
    OK(vkq_ctx_destroy(small));
}

static int setup(void **state)
{
    (void)state;
    return test_ctx_create(&ctx);
}

static int teardown(void **state)
{
    (void)state;
    return test_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(upload_download_round_trip),
        cmocka_unit_test(out_of_range_transfer_is_an_error),
        cmocka_unit_test(freed_memory_is_reused),
        cmocka_unit_test(dependent_dispatches_see_each_other),
        cmocka_unit_test(bad_shapes_are_refused),
        cmocka_unit_test(unknown_device_is_an_error),
        cmocka_unit_test(debug_limits_lower_the_device_limits),
        cmocka_unit_test(bad_debug_limits_are_refused),
        cmocka_unit_test(allocations_respect_the_largest_allocation),
        cmocka_unit_test(bindings_past_the_limit_are_refused),
        cmocka_unit_test(pieces_hold_whole_rows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
