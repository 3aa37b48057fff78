/* Every kernel family against its C reference, one variant per run: `test_kernels cpu` and
 * `test_kernels gpu` check the families that come in both variants, `test_kernels any` the
 * others. A variant this device cannot run exits with TEST_SKIPPED, so ctest shows it as
 * skipped rather than passed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
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

/* "any", "cpu" or "gpu"; AUTO stands for "any". */
static int parse_variant(const char *name, vkq_variant *out)
{
    for (vkq_variant v = VKQ_VARIANT_AUTO; v <= VKQ_VARIANT_GPU; v++)
        if (strcmp(name, v == VKQ_VARIANT_AUTO ? "any" : vkq_variant_name(v)) == 0) {
            *out = v;
            return 1;
        }
    return 0;
}

/* Whether this device can run the variant; the context is opened only to ask. */
static int device_runs(vkq_variant variant)
{
    if (test_ctx_create(&ctx) != 0)
        return -1;
    int runs = vkq_ctx_supports_variant(ctx, variant);
    if (test_ctx_destroy(ctx) != 0)
        return -1;
    return runs;
}

/* One test per family of this variant, from the self-test registry: a new family needs no edit. */
int main(int argc, char **argv)
{
    vkq_variant variant;
    if (argc != 2 || !parse_variant(argv[1], &variant)) {
        fprintf(stderr, "usage: test_kernels any|cpu|gpu\n");
        return 2;
    }
    if (variant != VKQ_VARIANT_AUTO) {
        int runs = device_runs(variant);
        if (runs < 0)
            return 1;
        if (!runs) {
            printf("skipped: this device cannot run the %s kernel variant\n", argv[1]);
            return TEST_SKIPPED;
        }
    }
    struct CMUnitTest tests[64];
    family_case cases[64];
    char names[64][48];
    size_t count = 0;
    for (unsigned i = 0; i < vkq_check_family_count() && count < 64; i++) {
        if (vkq_check_family_has_variants(i) != (variant != VKQ_VARIANT_AUTO))
            continue;
        const char *family = vkq_check_family_name(i);
        cases[count] = (family_case){family, variant};
        snprintf(names[count], sizeof names[count], "%s %s", family, argv[1]);
        tests[count] = (struct CMUnitTest){names[count], run_family, NULL, NULL, &cases[count]};
        count++;
    }
    return _cmocka_run_group_tests(argv[1], tests, count, setup, teardown);
}
