/* ROUGE-1/ROUGE-L (rouge-score's defaults) and corpus BLEU (sacreBLEU's defaults) on small
 * examples whose expected values are worked out by hand from the definitions, in the comments:
 *   ROUGE-1: P = clipped unigram matches / prediction tokens, R = ... / reference tokens;
 *   ROUGE-L: P = LCS / prediction tokens, R = LCS / reference tokens; F = 2PR / (P + R);
 *   BLEU: p_n = 100 * clipped n-gram matches / prediction n-grams (summed over the corpus),
 *         'exp' smoothing p_n = 100 / (2^k * total_n) for the k-th order with no match,
 *         BP = exp(1 - r/c) when c < r, BLEU = BP * exp(mean of log p_n). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vkquill/metrics.h"

#define assert_near(got, want) assert_near_((got), (want), #got)

static void assert_near_(double got, double want, const char *what)
{
    if (!(fabs(got - want) <= 1e-12 * (1.0 + fabs(want))))
        fail_msg("%s = %.17g, expected %.17g", what, got, want);
}

static void assert_prf(vkq_prf got, double precision, double recall, double f1)
{
    assert_near(got.precision, precision);
    assert_near(got.recall, recall);
    assert_near(got.f1, f1);
}

static void assert_rouge_tokens(const char *text, const char *expected)
{
    char *got = NULL;
    assert_int_equal(vkq_tokenize_rouge(text, &got), VKQ_OK);
    assert_string_equal(got, expected);
    free(got);
}

static void assert_13a_tokens(const char *text, const char *expected)
{
    char *got = NULL;
    assert_int_equal(vkq_tokenize_13a(text, &got), VKQ_OK);
    assert_string_equal(got, expected);
    free(got);
}

static vkq_rouge_scores rouge(const char *prediction, const char *reference)
{
    vkq_rouge_scores r;
    assert_int_equal(vkq_rouge(prediction, reference, &r), VKQ_OK);
    return r;
}

static vkq_bleu bleu(const char *const *predictions, const char *const *references, uint32_t n)
{
    vkq_bleu b;
    assert_int_equal(vkq_corpus_bleu(predictions, references, n, &b), VKQ_OK);
    return b;
}

static void assert_counts(const vkq_bleu *b, const uint64_t correct[4], const uint64_t total[4])
{
    for (int n = 0; n < VKQ_BLEU_MAX_ORDER; n++) {
        assert_int_equal(b->correct[n], correct[n]);
        assert_int_equal(b->total[n], total[n]);
    }
}

/* Lower-case; every run of characters outside [a-z0-9] separates, non-ASCII letters too. */
static void test_rouge_tokenizer(void **state)
{
    (void)state;
    assert_rouge_tokens("The CAT, sat... on the mat!!", "the cat sat on the mat");
    assert_rouge_tokens("don't stop-me now: 3.5%", "don t stop me now 3 5");
    assert_rouge_tokens("", "");
    assert_rouge_tokens("?!... -- ()", "");
    assert_rouge_tokens("caf\xc3\xa9 na\xc3\xafve Stra\xc3\x9f" "e", "caf na ve stra e");
    assert_rouge_tokens("\xe4\xb8\xad\xe6\x96\x87text", "text"); /* CJK separates */
    /* str.lower() maps U+0130 to "i" + U+0307 (a separator) and the Kelvin sign to "k" */
    assert_rouge_tokens("\xc4\xb0stanbul", "i stanbul");
    assert_rouge_tokens("5\xe2\x84\xaa", "5k");
    /* invalid UTF-8 bytes are separators */
    assert_rouge_tokens("\xff\xfe" "abc\xc3", "abc");
}

/* pred "the the the cat" (4 tokens), ref "the cat sat on the mat" (6 tokens).
 * ROUGE-1: counts pred {the:3, cat:1}, ref {the:2, cat:1, sat, on, mat: 1 each};
 *   clipped matches = min(3,2) + min(1,1) = 3; P = 3/4, R = 3/6 = 1/2,
 *   F = 2 * 3/4 * 1/2 / (3/4 + 1/2) = (3/4) / (5/4) = 3/5.
 * ROUGE-L: ref has only two "the" and nothing after "cat" in pred matches after ref's "cat",
 *   so the longest common subsequence is 2 ("the cat" or "the the"); P = 2/4, R = 2/6,
 *   F = 2 * 1/2 * 1/3 / (1/2 + 1/3) = (1/3) / (5/6) = 2/5. */
static void test_rouge_clipping_and_lcs(void **state)
{
    (void)state;
    vkq_rouge_scores r = rouge("the the the cat", "the cat sat on the mat");
    assert_prf(r.rouge1, 3.0 / 4, 1.0 / 2, 3.0 / 5);
    assert_prf(r.rougeL, 2.0 / 4, 2.0 / 6, 2.0 / 5);
}

/* pred "the" x7, ref "the cat is on the mat" (6 tokens): clipped unigram matches min(7,2) = 2,
 * LCS = 2 ("the the"); P = 2/7, R = 2/6 = 1/3, F = 2 * 2/7 * 1/3 / (2/7 + 1/3)
 * = (4/21) / (13/21) = 4/13 for both. */
static void test_rouge_repeated_words(void **state)
{
    (void)state;
    vkq_rouge_scores r = rouge("the the the the the the the", "the cat is on the mat");
    assert_prf(r.rouge1, 2.0 / 7, 1.0 / 3, 4.0 / 13);
    assert_prf(r.rougeL, 2.0 / 7, 1.0 / 3, 4.0 / 13);
}

/* "b a" against "a b": both unigrams match (P = R = F = 1), but the LCS is 1: P = R = F = 1/2. */
static void test_rouge_order(void **state)
{
    (void)state;
    vkq_rouge_scores r = rouge("b a", "a b");
    assert_prf(r.rouge1, 1.0, 1.0, 1.0);
    assert_prf(r.rougeL, 0.5, 0.5, 0.5);
}

/* Case and punctuation vanish in tokenization: "Hello, World!" vs "hello world" is a perfect
 * match; disjoint words score 0. */
static void test_rouge_perfect_and_disjoint(void **state)
{
    (void)state;
    vkq_rouge_scores r = rouge("Hello, World!", "hello world");
    assert_prf(r.rouge1, 1.0, 1.0, 1.0);
    assert_prf(r.rougeL, 1.0, 1.0, 1.0);
    r = rouge("red green", "blue");
    assert_prf(r.rouge1, 0.0, 0.0, 0.0);
    assert_prf(r.rougeL, 0.0, 0.0, 0.0);
}

/* No tokens on either side (empty or punctuation only) gives 0 everywhere. */
static void test_rouge_empty(void **state)
{
    (void)state;
    const char *cases[][2] = {{"", "abc"}, {"abc", ""}, {"", ""}, {"?!...", "a"}, {"a", "--"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vkq_rouge_scores r = rouge(cases[i][0], cases[i][1]);
        assert_prf(r.rouge1, 0.0, 0.0, 0.0);
        assert_prf(r.rougeL, 0.0, 0.0, 0.0);
    }
}

/* "café au lait" -> caf au lait; "cafe au lait" -> cafe au lait: 2 of 3 tokens match, in
 * order, so P = R = F = 2/3 for ROUGE-1 and ROUGE-L. CJK text next to "text" separates it. */
static void test_rouge_non_ascii(void **state)
{
    (void)state;
    vkq_rouge_scores r = rouge("caf\xc3\xa9 au lait", "cafe au lait");
    assert_prf(r.rouge1, 2.0 / 3, 2.0 / 3, 2.0 / 3);
    assert_prf(r.rougeL, 2.0 / 3, 2.0 / 3, 2.0 / 3);
    r = rouge("\xe4\xb8\xad\xe6\x96\x87text", "text");
    assert_prf(r.rouge1, 1.0, 1.0, 1.0);
}

/* mteval-v13a as sacreBLEU runs it: rstrip; drop "<skipped>" and "-\n"; "\n" -> " "; unescape
 * &quot; &amp; &lt; &gt; (in that order); then
 *   1. each of { | } ~ [ \ ] ^ _ ` space ! " # $ % & ( ) * + : ; < = > ? @ / -> " c ";
 *   2. a period or comma after a non-digit gets spaces;  3. ... before a non-digit;
 *   4. a dash after a digit gets spaces; then split on whitespace. */
static void test_13a_tokenizer(void **state)
{
    (void)state;
    /* "U." and "S." match rule 2 in turn; the apostrophe is no punctuation for 13a */
    assert_13a_tokens("U.S.", "U . S .");
    assert_13a_tokens("don't", "don't");
    /* "3.5": a digit before the period (2), a digit after it (3): kept whole; so is 1,000 */
    assert_13a_tokens("3.5 1,000", "3.5 1,000");
    assert_13a_tokens("end.", "end .");
    assert_13a_tokens("(a, b)", "( a , b )");
    /* rule 1 splits $; rule 3 the comma before the space; rule 2 the final period */
    assert_13a_tokens("U.S. don't pay $3.5, end.", "U . S . don't pay $ 3.5 , end .");
    /* a trailing period after a digit is split by rule 3 (followed by the padding space) */
    assert_13a_tokens("in 1999.", "in 1999 .");
    assert_13a_tokens("1-2 a-b 2-3-4", "1 - 2 a-b 2 - 3 - 4");
    /* &amp;quot; -> (&quot; has no match yet) -> &quot; which then stays, and is split */
    assert_13a_tokens("&quot;hi&quot; &amp;quot; a&lt;b", "\" hi \" & quot ; a < b");
    /* "-\n" joins lines, but rstrip comes first, so a final "-\n" only loses its newline */
    assert_13a_tokens("a-\nb c\nd x<skipped>y e-\n", "ab c d xy e-");
    assert_13a_tokens("  \t\n", "");
    /* case is kept; non-ASCII is ordinary text; NBSP and U+3000 are whitespace (str.split) */
    assert_13a_tokens("\xc3\x87" "a va, tr\xc3\xa8s bien.", "\xc3\x87" "a va , tr\xc3\xa8s bien .");
    assert_13a_tokens("a\xc2\xa0" "b\xe3\x80\x80" "c", "a b c");
}

/* pred "the cat sat on the mat" (c = 6), ref "the cat sat on the red mat" (r = 7).
 *   1-grams: all 6 match (ref has "the" twice)                        -> 6/6, p1 = 100
 *   2-grams: the cat, cat sat, sat on, on the match; the mat does not -> 4/5, p2 = 80
 *   3-grams: the cat sat, cat sat on, sat on the; not on the mat      -> 3/4, p3 = 75
 *   4-grams: the cat sat on, cat sat on the; not sat on the mat       -> 2/3, p4 = 66.67
 *   BP = exp(1 - 7/6); BLEU = BP * 100 * (1 * 0.8 * 0.75 * 2/3)^(1/4) = BP * 100 * 0.4^(1/4)
 *   ~= 0.846482 * 79.5271 ~= 67.318. */
static void test_bleu_brevity(void **state)
{
    (void)state;
    const char *pred[] = {"the cat sat on the mat"}, *ref[] = {"the cat sat on the red mat"};
    vkq_bleu b = bleu(pred, ref, 1);
    assert_counts(&b, (const uint64_t[]){6, 4, 3, 2}, (const uint64_t[]){6, 5, 4, 3});
    assert_int_equal(b.sys_len, 6);
    assert_int_equal(b.ref_len, 7);
    assert_near(b.brevity_penalty, exp(1.0 - 7.0 / 6.0));
    assert_near(b.precisions[0], 100.0);
    assert_near(b.precisions[1], 80.0);
    assert_near(b.precisions[2], 75.0);
    assert_near(b.precisions[3], 200.0 / 3.0);
    assert_near(b.score, exp(1.0 - 7.0 / 6.0) * 100.0 * pow(0.4, 0.25));
    assert_true(fabs(b.score - 67.318) < 1e-3);
}

/* pred "a b c d e", ref "a b x d e" (c = r = 5, BP = 1).
 *   1-grams: a b d e match -> 4/5, p1 = 80;  2-grams: "a b", "d e" of ab bc cd de -> 2/4, p2 = 50
 *   3-grams: abc bcd cde vs abx bxd xde -> 0/3: first zero, p3 = 100 / (2 * 3) = 16.67
 *   4-grams: abcd bcde vs abxd bxde -> 0/2: second zero, p4 = 100 / (4 * 2) = 12.5
 *   BLEU = (80 * 50 * 100/6 * 12.5)^(1/4) = (5e6 / 6)^(1/4) ~= 30.2138. */
static void test_bleu_exp_smoothing(void **state)
{
    (void)state;
    const char *pred[] = {"a b c d e"}, *ref[] = {"a b x d e"};
    vkq_bleu b = bleu(pred, ref, 1);
    assert_counts(&b, (const uint64_t[]){4, 2, 0, 0}, (const uint64_t[]){5, 4, 3, 2});
    assert_near(b.brevity_penalty, 1.0);
    assert_near(b.precisions[2], 100.0 / 6.0);
    assert_near(b.precisions[3], 12.5);
    assert_near(b.score, pow(5e6 / 6.0, 0.25));
    assert_true(fabs(b.score - 30.2138) < 1e-3);
}

/* pred "the" x7 against "the cat is on the mat" (c = 7 >= r = 6, BP = 1).
 *   1-grams: "the" 7 times, clipped to the reference's 2 -> 2/7, p1 = 200/7
 *   2..4-grams: "the the" x6, x5, x4 never occur in the reference -> smoothed
 *   p2 = 100 / (2 * 6), p3 = 100 / (4 * 5) = 5, p4 = 100 / (8 * 4) = 3.125
 *   BLEU = (200/7 * 100/12 * 5 * 3.125)^(1/4) ~= 7.8099. */
static void test_bleu_clipping(void **state)
{
    (void)state;
    const char *pred[] = {"the the the the the the the"}, *ref[] = {"the cat is on the mat"};
    vkq_bleu b = bleu(pred, ref, 1);
    assert_counts(&b, (const uint64_t[]){2, 0, 0, 0}, (const uint64_t[]){7, 6, 5, 4});
    assert_near(b.score, pow(200.0 / 7.0 * 100.0 / 12.0 * 5.0 * 3.125, 0.25));
    assert_true(fabs(b.score - 7.8099) < 1e-3);
}

/* The two pairs above as one corpus: the statistics add up before the score is taken.
 *   correct = 6+4, 4+2, 3+0, 2+0 = 10, 6, 3, 2;  total = 6+5, 5+4, 4+3, 3+2 = 11, 9, 7, 5
 *   c = 11, r = 12: BP = exp(1 - 12/11)
 *   BLEU = BP * 100 * (10/11 * 6/9 * 3/7 * 2/5)^(1/4) = BP * 100 * (8/77)^(1/4) ~= 51.84,
 *   not the mean of the two sentence scores (~48.77). */
static void test_bleu_corpus(void **state)
{
    (void)state;
    const char *pred[] = {"the cat sat on the mat", "a b c d e"};
    const char *ref[] = {"the cat sat on the red mat", "a b x d e"};
    vkq_bleu b = bleu(pred, ref, 2);
    assert_counts(&b, (const uint64_t[]){10, 6, 3, 2}, (const uint64_t[]){11, 9, 7, 5});
    assert_near(b.score, exp(1.0 - 12.0 / 11.0) * 100.0 * pow(8.0 / 77.0, 0.25));
    assert_true(fabs(b.score - 51.84) < 1e-2);
}

/* A perfect match of 7 tokens ("The cat sat on the mat ." after 13a): every p_n = 100, BLEU 100.
 * Non-ASCII text: "Ça va , très bien ." is 6 tokens, also perfect. */
static void test_bleu_perfect(void **state)
{
    (void)state;
    const char *text[] = {"The cat sat on the mat.", "\xc3\x87" "a va, tr\xc3\xa8s bien."};
    vkq_bleu b = bleu(text, text, 1);
    assert_counts(&b, (const uint64_t[]){7, 6, 5, 4}, (const uint64_t[]){7, 6, 5, 4});
    assert_near(b.score, 100.0);
    b = bleu(text + 1, text + 1, 1);
    assert_counts(&b, (const uint64_t[]){6, 5, 4, 3}, (const uint64_t[]){6, 5, 4, 3});
    assert_near(b.score, 100.0);
}

/* Zero cases. No match at all (disjoint words, or only a difference of case: sacreBLEU is
 * case-sensitive) gives 0 with every precision 0. A 2-token perfect match has no 3-grams:
 * total_3 = 0 stops the precisions at p3 = 0, whose log is sacreBLEU's -9999999999, so 0.
 * An empty prediction: c = 0 < r = 2 gives BP = 0. */
static void test_bleu_zero(void **state)
{
    (void)state;
    const char *pred[] = {"x y z", "THE CAT SAT ON THE MAT", "the cat", ""};
    const char *ref[] = {"a b c", "the cat sat on the mat", "the cat", "a b"};
    for (int i = 0; i < 4; i++) {
        vkq_bleu b = bleu(pred + i, ref + i, 1);
        assert_near(b.score, 0.0);
        if (i < 2)
            for (int n = 0; n < VKQ_BLEU_MAX_ORDER; n++)
                assert_near(b.precisions[n], 0.0);
    }
    vkq_bleu b = bleu(pred + 2, ref + 2, 1);
    assert_counts(&b, (const uint64_t[]){2, 1, 0, 0}, (const uint64_t[]){2, 1, 0, 0});
    assert_near(b.precisions[1], 100.0);
    assert_near(b.precisions[2], 0.0);
    b = bleu(pred + 3, ref + 3, 1);
    assert_int_equal(b.sys_len, 0);
    assert_near(b.brevity_penalty, 0.0);
}

/* Pairs: ("the cat sat on the mat", itself): ROUGE-1 = ROUGE-L = 1;
 *        ("the the the cat", "the cat sat on the mat"): ROUGE-1 F = 3/5, ROUGE-L F = 2/5
 *        (see test_rouge_clipping_and_lcs). Means: (1 + 0.6) / 2 = 0.8, (1 + 0.4) / 2 = 0.7.
 * BLEU: correct = 6+3, 5+1, 4+0, 3+0 = 9, 6, 4, 3 (pair 2: "the" clipped to 2 and "cat";
 *   bigram "the cat"; its 3-grams "the the the", "the the cat" and 4-gram do not occur);
 *   total = 6+4, 5+3, 4+2, 3+1 = 10, 8, 6, 4; c = 10 < r = 12: BP = exp(1 - 12/10);
 *   BLEU = BP * 100 * (9/10 * 6/8 * 4/6 * 3/4)^(1/4) = BP * 100 * (27/80)^(1/4). */
static void test_score_texts(void **state)
{
    (void)state;
    const char *pred[] = {"the cat sat on the mat", "the the the cat"};
    const char *ref[] = {"the cat sat on the mat", "the cat sat on the mat"};
    vkq_text_scores s;
    assert_int_equal(vkq_score_texts(pred, ref, 2, &s), VKQ_OK);
    assert_int_equal(s.pairs, 2);
    assert_near(s.rouge1, 0.8);
    assert_near(s.rougeL, 0.7);
    assert_near(s.bleu, exp(1.0 - 12.0 / 10.0) * 100.0 * pow(27.0 / 80.0, 0.25));
}

/* Invalid UTF-8 is tolerated: separators for ROUGE, ordinary bytes for BLEU. */
static void test_invalid_utf8(void **state)
{
    (void)state;
    const char *text[] = {"\xff\xfe" "abc \xc3 \xe2\x82 x\xf0\x9f"};
    assert_13a_tokens(text[0], "\xff\xfe" "abc \xc3 \xe2\x82 x\xf0\x9f");
    vkq_text_scores s;
    assert_int_equal(vkq_score_texts(text, text, 1, &s), VKQ_OK);
    assert_near(s.rouge1, 1.0); /* tokens "abc", "x" */
    assert_near(s.bleu, 100.0); /* 4 tokens, all orders match */
}

static void test_bad_arguments(void **state)
{
    (void)state;
    const char *pred[] = {"a", NULL}, *ref[] = {"a", "b"};
    vkq_text_scores s;
    vkq_bleu b;
    vkq_rouge_scores r;
    char *tokens;
    assert_int_equal(vkq_score_texts(pred, ref, 0, &s), VKQ_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkq_last_error(), "n = 0"));
    assert_int_equal(vkq_corpus_bleu(pred, ref, 0, &b), VKQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(vkq_score_texts(pred, ref, 2, &s), VKQ_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(vkq_last_error(), "pair 1 has a NULL prediction"));
    assert_int_equal(vkq_score_texts(NULL, ref, 1, &s), VKQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(vkq_score_texts(pred, ref, 1, NULL), VKQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(vkq_rouge(NULL, "a", &r), VKQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(vkq_rouge("a", "a", NULL), VKQ_ERR_INVALID_ARGUMENT);
    assert_int_equal(vkq_tokenize_13a(NULL, &tokens), VKQ_ERR_INVALID_ARGUMENT);
    assert_null(tokens);
    assert_int_equal(vkq_tokenize_rouge("a", NULL), VKQ_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rouge_tokenizer),
        cmocka_unit_test(test_rouge_clipping_and_lcs),
        cmocka_unit_test(test_rouge_repeated_words),
        cmocka_unit_test(test_rouge_order),
        cmocka_unit_test(test_rouge_perfect_and_disjoint),
        cmocka_unit_test(test_rouge_empty),
        cmocka_unit_test(test_rouge_non_ascii),
        cmocka_unit_test(test_13a_tokenizer),
        cmocka_unit_test(test_bleu_brevity),
        cmocka_unit_test(test_bleu_exp_smoothing),
        cmocka_unit_test(test_bleu_clipping),
        cmocka_unit_test(test_bleu_corpus),
        cmocka_unit_test(test_bleu_perfect),
        cmocka_unit_test(test_bleu_zero),
        cmocka_unit_test(test_score_texts),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
