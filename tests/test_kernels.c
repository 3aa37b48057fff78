/* Every kernel family, in every variant this device can run, against its C reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "support.h"
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
    return test_ctx_create(&ctx);
}

static int teardown(void **state)
{
    (void)state;
    return test_ctx_destroy(ctx);
}

/* One test per family and variant, from the self-test registry: a new family needs no edit. */
int main(void)
{
    struct CMUnitTest tests[64];
    family_case cases[64];
    char names[64][48];
    size_t count = 0;
    for (unsigned i = 0; i < vkq_check_family_count(); i++) {
        const char *family = vkq_check_family_name(i);
        int variants = vkq_check_family_has_variants(i);
        for (vkq_variant v = VKQ_VARIANT_CPU; v <= VKQ_VARIANT_GPU; v++) {
            if (!variants && v != VKQ_VARIANT_CPU)
                continue;
            cases[count] = (family_case){family, variants ? v : VKQ_VARIANT_AUTO};
            snprintf(names[count], sizeof names[count], "%s%s%s", family, variants ? " " : "",
                     variants ? vkq_variant_name(v) : "");
            tests[count] = (struct CMUnitTest){names[count], run_family, NULL, NULL, &cases[count]};
            count++;
        }
    }
    return _cmocka_run_group_tests("kernels", tests, count, setup, teardown);
}
