/* Every kernel family, in every variant this device can run, against its C reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "vkquill/selftest.h"

static vkq_ctx *ctx;

typedef struct family_case {
    const char *family;
    vkq_variant variant;
} family_case;

static void print_failure(const vkq_check_result *r, void *user)
{
    (void)user;
    if (!r->passed)
        print_error("%s [%s] %s: nmse %.3e > %.0e%s\n", r->kernel, r->variant, r->case_name,
                    r->error, r->threshold, r->guards_ok ? "" : " (guard words overwritten)");
}

static void run_family(void **state)
{
    const family_case *c = *state;
    if (!vkq_ctx_supports_variant(ctx, c->variant))
        skip();
    unsigned failed = 99;
    vkq_status s = vkq_selftest(ctx, c->family, c->variant, print_failure, NULL, &failed);
    if (s != VKQ_OK)
        fail_msg("%s", vkq_last_error());
    assert_int_equal(failed, 0);
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
        {"matmul cpu", run_family, NULL, NULL, &(family_case){"matmul", VKQ_VARIANT_CPU}},
        {"matmul gpu", run_family, NULL, NULL, &(family_case){"matmul", VKQ_VARIANT_GPU}},
        {"elementwise", run_family, NULL, NULL, &(family_case){"elementwise", VKQ_VARIANT_AUTO}},
        {"rmsnorm", run_family, NULL, NULL, &(family_case){"rmsnorm", VKQ_VARIANT_AUTO}},
        {"embedding", run_family, NULL, NULL, &(family_case){"embedding", VKQ_VARIANT_AUTO}},
        {"rope", run_family, NULL, NULL, &(family_case){"rope", VKQ_VARIANT_AUTO}},
        {"swiglu", run_family, NULL, NULL, &(family_case){"swiglu", VKQ_VARIANT_AUTO}},
        {"rows", run_family, NULL, NULL, &(family_case){"rows", VKQ_VARIANT_AUTO}},
        {"cross_entropy", run_family, NULL, NULL,
         &(family_case){"cross_entropy", VKQ_VARIANT_AUTO}},
        {"adamw", run_family, NULL, NULL, &(family_case){"adamw", VKQ_VARIANT_AUTO}},
        {"reduce", run_family, NULL, NULL, &(family_case){"reduce", VKQ_VARIANT_AUTO}},
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
