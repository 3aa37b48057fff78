/* One step's choice of token (repetition penalty, greedy, temperature and nucleus sampling)
 * on logits worked out by hand, then seeded generation with a tiny random model. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "support.h"
#include "vkquill/generate.h"
#include "vkquill/llama.h"
#include "vkquill/tokenizer.h"

static void assert_logits(const float *got, const float *want, int n)
{
    for (int i = 0; i < n; i++)
        if (fabsf(got[i] - want[i]) > 1e-6f)
            fail_msg("logit %d: %.7f, expected %.7f", i, got[i], want[i]);
}

/* Ids 3 (three times) and 1 (twice) repeat: each distinct id is penalised once. */
static void penalty_applies_once_per_distinct_token(void **state)
{
    (void)state;
    float logits[6] = {2.4f, -1.5f, 0.6f, 3.0f, -0.2f, 1.2f};
    const int32_t seen[] = {1, 3, 0, 3, 3, 1, 4};
    OK(vkq_penalise_repeats(logits, 6, seen, 7, 1.2f));
    /* 2.4 / 1.2, -1.5 * 1.2, id 2 unseen, 3.0 / 1.2, -0.2 * 1.2, id 5 unseen */
    const float want[6] = {2.0f, -1.8f, 0.6f, 2.5f, -0.24f, 1.2f};
    assert_logits(logits, want, 6);
    /* Penalised once per occurrence, id 3 would fall to 3.0 / 1.2^3 = 1.736 below id 0's 2.0;
     * once, it stays the most likely. */
    int32_t next = -1;
    OK(vkq_sample_token(logits, 6, 0.0f, 1.0f, 0.0f, &next));
    assert_int_equal(next, 3);
}

static void penalty_leaves_zero_and_unseen_logits(void **state)
{
    (void)state;
    float logits[4] = {0.0f, 5.0f, -4.0f, 1.0f};
    const int32_t seen[] = {0, 2, 2};
    OK(vkq_penalise_repeats(logits, 4, seen, 3, 2.0f));
    const float want[4] = {0.0f, 5.0f, -8.0f, 1.0f};
    assert_logits(logits, want, 4);
}

/* Weights w over ids 0..3 written as logits 2 ln w: at temperature 2 the probabilities are
 * w / 8 = (0.125, 0.5, 0.125, 0.25); at temperature 1 they are w^2 / 22 = (1, 16, 1, 4) / 22. */
static void set_logits(float *logits)
{
    const float w[4] = {1.0f, 4.0f, 1.0f, 2.0f};
    for (int i = 0; i < 4; i++)
        logits[i] = 2.0f * logf(w[i]);
}

static int32_t draw(float temperature, float top_p, float u)
{
    float logits[4];
    set_logits(logits);
    int32_t token = -1;
    OK(vkq_sample_token(logits, 4, temperature, top_p, u, &token));
    return token;
}

/* top_p 0.7 at temperature 1: id 1 alone holds 16/22 = 0.727, so it is the whole nucleus. */
static void nucleus_at_temperature_1_keeps_one_token(void **state)
{
    (void)state;
    const float draws[] = {0.0f, 0.5f, 0.72f, 0.73f, 0.999f};
    for (size_t i = 0; i < sizeof draws / sizeof draws[0]; i++)
        assert_int_equal(draw(1.0f, 0.7f, draws[i]), 1);
}

/* top_p 0.7 at temperature 2: id 1 (0.5) is not enough, id 1 and id 3 (0.75) are; the draw
 * follows the renormalised (2/3, 1/3). Without the renormalisation u = 0.9 would pass both
 * (0.5 + 0.25) and land on id 0 or 2. */
static void nucleus_at_temperature_2_keeps_two_tokens(void **state)
{
    (void)state;
    assert_int_equal(draw(2.0f, 0.7f, 0.0f), 1);
    assert_int_equal(draw(2.0f, 0.7f, 0.66f), 1);
    assert_int_equal(draw(2.0f, 0.7f, 0.67f), 3);
    assert_int_equal(draw(2.0f, 0.7f, 0.9f), 3);
    assert_int_equal(draw(2.0f, 0.7f, 0.9999f), 3);
    /* A uniform grid of 1000 draws: 667 below 2/3 give id 1, the other 333 id 3. */
    int counts[4] = {0};
    for (int k = 0; k < 1000; k++)
        counts[draw(2.0f, 0.7f, (k + 0.5f) / 1000.0f)]++;
    assert_int_equal(counts[1], 667);
    assert_int_equal(counts[3], 333);
    assert_int_equal(counts[0] + counts[2], 0);
}

/* top_p 0.8 at temperature 2: 0.75 is short, so one of the two 0.125 tokens joins (the lower
 * id, 0): mass 0.875, renormalised (4, 2, 1) / 7; id 2 is never drawn. */
static void nucleus_breaks_ties_by_lower_id(void **state)
{
    (void)state;
    assert_int_equal(draw(2.0f, 0.8f, 0.57f), 1); /* below 4/7 = 0.5714 */
    assert_int_equal(draw(2.0f, 0.8f, 0.58f), 3);
    assert_int_equal(draw(2.0f, 0.8f, 0.85f), 3); /* below 6/7 = 0.8571 */
    assert_int_equal(draw(2.0f, 0.8f, 0.86f), 0);
    assert_int_equal(draw(2.0f, 0.8f, 0.9999f), 0);
}

/* top_p 1: every token, in order of probability: 0.5, 0.25, 0.125 (id 0), 0.125 (id 2). */
static void without_a_cut_every_token_can_be_drawn(void **state)
{
    (void)state;
    assert_int_equal(draw(2.0f, 1.0f, 0.49f), 1);
    assert_int_equal(draw(2.0f, 1.0f, 0.51f), 3);
    assert_int_equal(draw(2.0f, 1.0f, 0.8f), 0);
    assert_int_equal(draw(2.0f, 1.0f, 0.9f), 2);
}

static void bad_sampling_arguments_are_refused(void **state)
{
    (void)state;
    float logits[4];
    set_logits(logits);
    int32_t token;
    assert_int_equal(vkq_sample_token(logits, 4, -1.0f, 0.9f, 0.5f, &token),
                     VKQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(vkq_sample_token(logits, 4, 1.0f, 0.9f, 1.0f, &token),
                     VKQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(vkq_sample_token(logits, 0, 1.0f, 0.9f, 0.5f, &token),
                     VKQ_ERR_INVALID_ARGUMENT);
}

/* Seeded sampling through the generator: with a nucleus too small for a second token every
 * seed's draw must land on the most likely token, so the text equals the greedy one; with no
 * cut at a high temperature some seed must leave it. */
static void seeded_draws_stay_in_the_nucleus(void **state)
{
    (void)state;
    vkq_ctx *ctx = NULL;
    OK(vkq_ctx_create(NULL, &ctx));
    char dir[TEST_DIR_SIZE];
    assert_int_equal(test_make_temp_dir(dir, "sampling"), 0);
    const char *path = test_path(dir, "tok.bin");
    OK(vkq_tokenizer_write_byte_level(path));
    vkq_tokenizer *tok;
    OK(vkq_tokenizer_load(path, VKQ_BYTE_TOKENIZER_VOCAB, &tok));
    assert_int_equal(test_remove_tree(dir), 0);
    vkq_llama_config c = {.dim = 16, .hidden_dim = 24, .n_layers = 1, .n_heads = 2,
                          .n_kv_heads = 1, .vocab_size = VKQ_BYTE_TOKENIZER_VOCAB,
                          .seq_len = 64, .shared_classifier = 1, .norm_eps = 1e-5f,
                          .rope_theta = 10000.0f, .bos_id = VKQ_TOKEN_BOS,
                          .eos_ids = {VKQ_TOKEN_EOS}, .n_eos = 1};
    vkq_llama_tensors l;
    vkq_llama_tensors_of(&c, &l);
    float *params = malloc(l.total * sizeof *params);
    vkq_llama_init_random(&c, 3, params);
    vkq_decoder *dec;
    vkq_flat_weights flat;
    vkq_tensor_source weights = vkq_flat_source(&flat, &c, params);
    OK(vkq_decoder_create(ctx, &c, &weights, 1, &dec));
    const char *prompt[] = {"once upon"};
    vkq_sampling greedy = {.steps = 24, .temperature = 0.0f, .top_p = 1.0f,
                           .repetition_penalty = 1.3f};
    vkq_generation g;
    OK(vkq_generate(dec, tok, prompt, 1, &greedy, &g));
    int left_greedy = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        vkq_sampling narrow = greedy, wide = greedy;
        narrow.temperature = 1.0f;
        narrow.top_p = 1e-6f;
        narrow.seed = seed;
        wide.temperature = 20.0f;
        wide.seed = seed;
        vkq_generation n, w;
        OK(vkq_generate(dec, tok, prompt, 1, &narrow, &n));
        OK(vkq_generate(dec, tok, prompt, 1, &wide, &w));
        assert_int_equal(n.n_tokens, g.n_tokens);
        assert_memory_equal(n.tokens, g.tokens, g.n_tokens * sizeof *g.tokens);
        left_greedy += w.n_tokens != g.n_tokens ||
                       memcmp(w.tokens, g.tokens, g.n_tokens * sizeof *g.tokens) != 0;
        vkq_generation_free(&n);
        vkq_generation_free(&w);
    }
    assert_true(left_greedy > 0);
    vkq_generation_free(&g);
    vkq_decoder_destroy(dec);
    free(params);
    vkq_tokenizer_free(tok);
    assert_int_equal(vkq_ctx_destroy(ctx), VKQ_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(penalty_applies_once_per_distinct_token),
        cmocka_unit_test(penalty_leaves_zero_and_unseen_logits),
        cmocka_unit_test(nucleus_at_temperature_1_keeps_one_token),
        cmocka_unit_test(nucleus_at_temperature_2_keeps_two_tokens),
        cmocka_unit_test(nucleus_breaks_ties_by_lower_id),
        cmocka_unit_test(without_a_cut_every_token_can_be_drawn),
        cmocka_unit_test(bad_sampling_arguments_are_refused),
        cmocka_unit_test(seeded_draws_stay_in_the_nucleus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
