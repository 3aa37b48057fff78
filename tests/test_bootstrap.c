/* The two-way percentile bootstrap against cases whose intervals are known without it:
 * constant scores, two items or two seeds (whose resampled means take three values with
 * probabilities 1/4, 1/2, 1/4), the normal approximation for many items, and bad input. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vkquill/bootstrap.h"

#define OK(x) assert_int_equal((x), VKQ_OK)

static void constant_scores_give_a_point(void **state)
{
    (void)state;
    double s[6] = {0.4, 0.4, 0.4, 0.4, 0.4, 0.4};
    vkq_interval v;
    OK(vkq_bootstrap_mean(s, 2, 3, 100, 7, &v));
    assert_float_equal(v.mean, 0.4, 1e-12);
    assert_float_equal(v.lo, 0.4, 1e-12);
    assert_float_equal(v.hi, 0.4, 1e-12);
}

/* Items {0, 1}: a resample's mean is 0, 1/2 or 1, so the 2.5th and 97.5th percentiles of
 * 4000 of them are 0 and 1 (each end holds about 1000). */
static void two_items_span_both_ends(void **state)
{
    (void)state;
    double s[2] = {0, 1};
    vkq_interval v;
    OK(vkq_bootstrap_mean(s, 1, 2, 4000, 1, &v));
    assert_float_equal(v.mean, 0.5, 1e-12);
    assert_float_equal(v.lo, 0.0, 1e-12);
    assert_float_equal(v.hi, 1.0, 1e-12);
}

/* Seed 1 scores 0 on every item, seed 2 scores 1: the seeds are resampled too, so the
 * interval is [0, 1], not the point 0.5 that resampling items alone would give. */
static void seeds_are_resampled(void **state)
{
    (void)state;
    double s[200];
    for (int i = 0; i < 200; i++)
        s[i] = i < 100 ? 0.0 : 1.0;
    vkq_interval v;
    OK(vkq_bootstrap_mean(s, 2, 100, 4000, 3, &v));
    assert_float_equal(v.mean, 0.5, 1e-12);
    assert_float_equal(v.lo, 0.0, 1e-12);
    assert_float_equal(v.hi, 1.0, 1e-12);
}

/* 400 items, 120 of them 1: the normal approximation gives 0.3 -+ 1.96 sqrt(0.3 0.7 / 400)
 * = [0.2551, 0.3449]; the bootstrap must agree within its own noise (0.01). */
static void many_items_match_the_normal_interval(void **state)
{
    (void)state;
    double s[400];
    for (int i = 0; i < 400; i++)
        s[i] = i % 10 < 3 ? 1.0 : 0.0;
    vkq_interval v;
    OK(vkq_bootstrap_mean(s, 1, 400, 4000, 11, &v));
    assert_float_equal(v.mean, 0.3, 1e-12);
    assert_float_equal(v.lo, 0.2551, 0.01);
    assert_float_equal(v.hi, 0.3449, 0.01);
    vkq_interval again;
    OK(vkq_bootstrap_mean(s, 1, 400, 4000, 11, &again));
    assert_true(again.lo == v.lo && again.hi == v.hi); /* the same draws for the same seed */
}

static void bad_input_is_refused(void **state)
{
    (void)state;
    double s[2] = {0, NAN};
    vkq_interval v;
    assert_int_equal(vkq_bootstrap_mean(s, 0, 2, 100, 1, &v), VKQ_ERR_INVALID_ARGUMENT);
    assert_string_equal(vkq_last_error(),
                        "bootstrap: 0 seeds, 2 items, 100 resamples (need 1, 1, 2 or more)");
    assert_int_equal(vkq_bootstrap_mean(s, 1, 2, 1, 1, &v), VKQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(vkq_bootstrap_mean(s, 1, 2, 100, 1, &v), VKQ_ERR_INVALID_ARGUMENT);
    assert_string_equal(vkq_last_error(), "bootstrap: score 1 is not finite");
    assert_int_equal(vkq_bootstrap_mean(NULL, 1, 2, 100, 1, &v), VKQ_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(constant_scores_give_a_point),
        cmocka_unit_test(two_items_span_both_ends),
        cmocka_unit_test(seeds_are_resampled),
        cmocka_unit_test(many_items_match_the_normal_interval),
        cmocka_unit_test(bad_input_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
