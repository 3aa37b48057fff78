/* The runtime: memory blocks, transfers, and barriers between dependent dispatches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vkquill/kernels.h"

static vkq_ctx *ctx;

#define OK(expr)                                               \
    do {                                                       \
        vkq_status s_ = (expr);                                \
        if (s_ != VKQ_OK)                                      \
            fail_msg("%s: %s", #expr, vkq_last_error());       \
    } while (0)

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
    assert_non_null(strstr(vkq_last_error(), "operand A needs 32 floats"));
    args.k = 0;
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

static int setup(void **state)
{
    (void)state;
    vkq_status s = vkq_ctx_create(NULL, &ctx);
    if (s != VKQ_OK)
        print_error("%s\n", vkq_last_error());
    return s == VKQ_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return vkq_ctx_destroy(ctx) == VKQ_OK ? 0 : -1;
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
