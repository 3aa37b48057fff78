/* ROUGE-1/ROUGE-L as rouge-score computes them by default, and corpus BLEU as sacreBLEU does.
 * Both tokenizers work on UTF-8 bytes: every pattern they apply is ASCII, so byte-wise
 * matching gives the same tokens as Python's matching by code point. */
#include "vkquill/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/status_internal.h"

static vkq_status out_of_memory(void)
{
    return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory");
}

/* ---- UTF-8 and Python's notion of whitespace ---- */

/* Length of the sequence a UTF-8 lead byte starts; 0 for a byte that starts none. */
static size_t utf8_length(unsigned char lead)
{
    if (lead < 0x80)
        return 1;
    if (lead < 0xC2)
        return 0;
    if (lead < 0xE0)
        return 2;
    return lead < 0xF0 ? 3 : lead < 0xF5 ? 4 : 0;
}

/* Decodes the character at s (not at the terminating NUL); returns its length in bytes. An
 * invalid byte is one character of length 1, U+FFFD. */
static size_t utf8_next(const char *s, uint32_t *cp)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    const unsigned char *u = (const unsigned char *)s;
    size_t n = utf8_length(u[0]);
    *cp = 0xFFFD;
    if (n == 0)
        return 1;
    uint32_t c = n == 1 ? u[0] : u[0] & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return 1;
        c = c << 6 | (u[i] & 0x3Fu);
    }
    if (c < min_cp[n] || c > 0x10FFFF)
        return 1;
    *cp = c;
    return n;
}

/* Python's str.isspace(), which str.split() and str.rstrip() use. */
static bool is_py_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Length of the whitespace character at s; 0 when s starts anything else. */
static size_t space_at(const char *s)
{
    uint32_t c;
    size_t n = utf8_next(s, &c);
    return is_py_space(c) ? n : 0;
}

/* ---- token lists ---- */

typedef struct tokens {
    char *text;         /* the tokens, each followed by a NUL */
    const char **token; /* into text */
    uint32_t count;
} tokens;

static void tokens_free(tokens *t)
{
    free(t->text);
    free(t->token);
    *t = (tokens){0};
}

/* Copies the token starting at s to *w (with its NUL); returns where the token ends in s. */
static const char *copy_token(const char *s, char **w)
{
    while (*s && !space_at(s)) {
        uint32_t c;
        size_t n = utf8_next(s, &c);
        memcpy(*w, s, n);
        *w += n;
        s += n;
    }
    *(*w)++ = '\0';
    return s;
}

/* Python's s.split(): the runs of non-whitespace characters. */
static vkq_status split_tokens(const char *s, tokens *out)
{
    size_t n = strlen(s), max_tokens = n / 2 + 1;
    if (max_tokens > UINT32_MAX)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "metrics: a text of %zu bytes is too long", n);
    *out = (tokens){malloc(n + 1), malloc(max_tokens * sizeof *out->token), 0};
    if (!out->text || !out->token) {
        tokens_free(out);
        return out_of_memory();
    }
    char *w = out->text;
    while (*s) {
        size_t space = space_at(s);
        if (space) {
            s += space;
            continue;
        }
        out->token[out->count++] = w;
        s = copy_token(s, &w);
    }
    return VKQ_OK;
}

static vkq_status join_tokens(const tokens *t, char **out)
{
    size_t n = 1;
    for (uint32_t i = 0; i < t->count; i++)
        n += strlen(t->token[i]) + 1;
    char *w = *out = malloc(n);
    if (!w)
        return out_of_memory();
    for (uint32_t i = 0; i < t->count; i++) {
        size_t len = strlen(t->token[i]);
        memcpy(w, t->token[i], len);
        w += len;
        *w++ = ' ';
    }
    *(t->count ? w - 1 : w) = '\0';
    return VKQ_OK;
}

/* ---- rouge-score's tokenizer ---- */

static bool is_ascii_alnum(uint32_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static char ascii_lower(uint32_t c)
{
    return (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
}

/* Writes what one character becomes after text.lower() and re.sub(r"[^a-z0-9]+", " ", ...).
 * Only two non-ASCII characters lower-case to ASCII letters: U+0130 (to "i" and a combining
 * dot, which is a separator) and the Kelvin sign U+212A (to "k"). */
static char *rouge_char(uint32_t c, char *w)
{
    if (is_ascii_alnum(c)) {
        *w++ = ascii_lower(c);
    } else if (c == 0x130) {
        *w++ = 'i';
        *w++ = ' ';
    } else {
        *w++ = c == 0x212A ? 'k' : ' ';
    }
    return w;
}

/* rouge_score.tokenize.tokenize(text, stemmer=None). */
static vkq_status tokenize_rouge(const char *s, tokens *out)
{
    char *mapped = malloc(strlen(s) + 1); /* no character grows */
    if (!mapped)
        return out_of_memory();
    char *w = mapped;
    while (*s) {
        uint32_t c;
        s += utf8_next(s, &c);
        w = rouge_char(c, w);
    }
    *w = '\0';
    vkq_status st = split_tokens(mapped, out);
    free(mapped);
    return st;
}

/* ---- sacreBLEU's 13a tokenizer ---- */

typedef struct strbuf {
    char *p; /* NUL-terminated */
    size_t len;
} strbuf;

/* sent.rstrip() into a new text. */
static vkq_status copy_rstripped(const char *s, strbuf *out)
{
    size_t end = 0;
    for (size_t i = 0; s[i];) {
        size_t space = space_at(s + i);
        uint32_t c;
        i += space ? space : utf8_next(s + i, &c);
        if (!space)
            end = i;
    }
    out->p = malloc(end + 1);
    if (!out->p)
        return out_of_memory();
    memcpy(out->p, s, end);
    out->p[end] = '\0';
    out->len = end;
    return VKQ_OK;
}

/* Python's str.replace(from, to) where to is no longer than from, so it works in place. */
static void replace_in_place(strbuf *t, const char *from, const char *to)
{
    size_t n_from = strlen(from), n_to = strlen(to), w = 0;
    for (size_t r = 0; r < t->len;) {
        if (strncmp(t->p + r, from, n_from) == 0) {
            memcpy(t->p + w, to, n_to);
            w += n_to;
            r += n_from;
        } else {
            t->p[w++] = t->p[r++];
        }
    }
    t->len = w;
    t->p[w] = '\0';
}

/* The language-independent part of Tokenizer13a, in its order. */
static void replace_13a(strbuf *t)
{
    static const char *const pairs[][2] = {
        {"<skipped>", ""}, {"-\n", ""},   {"\n", " "},  {"&quot;", "\""},
        {"&amp;", "&"},    {"&lt;", "<"}, {"&gt;", ">"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        replace_in_place(t, pairs[i][0], pairs[i][1]);
}

/* The class [\{-\~\[-\` -\&\(-\+\:-\@\/] of TokenizerRegexp's first rule. */
static bool is_13a_punct(unsigned char c)
{
    return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') ||
           (c >= '(' && c <= '+') || (c >= ':' && c <= '@') || c == '/';
}

static char *put_13a_char(char c, char *w)
{
    bool punct = is_13a_punct((unsigned char)c);
    if (punct)
        *w++ = ' ';
    *w++ = c;
    if (punct)
        *w++ = ' ';
    return w;
}

/* Swaps in a new buffer of room for cap bytes and its NUL; the old one goes to *old. */
static vkq_status renew(strbuf *t, size_t cap, char **old)
{
    char *p = malloc(cap + 1);
    if (!p)
        return out_of_memory();
    *old = t->p;
    t->p = p;
    return VKQ_OK;
}

/* f" {line} " and then the first rule: every character of the class becomes " c ". */
static vkq_status pad_and_split_punct(strbuf *t)
{
    char *in = NULL;
    if (t->len > (SIZE_MAX - 8) / 3)
        return out_of_memory();
    VKQ_TRY(renew(t, 3 * (t->len + 2), &in));
    char *w = put_13a_char(' ', t->p);
    for (size_t i = 0; i < t->len; i++)
        w = put_13a_char(in[i], w);
    w = put_13a_char(' ', w);
    *w = '\0';
    t->len = (size_t)(w - t->p);
    free(in);
    return VKQ_OK;
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool not_digit(unsigned char c) { return !is_digit(c); }
static bool is_period_or_comma(unsigned char c) { return c == '.' || c == ','; }
static bool is_dash(unsigned char c) { return c == '-'; }

/* A two-character rule (first)(second): a space goes between the two, and optionally before
 * or after them. re.sub scans left to right and never reuses a matched character. */
typedef struct pair_rule {
    bool (*first)(unsigned char c);
    bool (*second)(unsigned char c);
    bool space_before, space_after;
} pair_rule;

static const pair_rule pair_rules[] = {
    {not_digit, is_period_or_comma, false, true}, /* ([^0-9])([\.,]) -> '\1 \2 ' */
    {is_period_or_comma, not_digit, true, false}, /* ([\.,])([^0-9]) -> ' \1 \2' */
    {is_digit, is_dash, false, true},             /* ([0-9])(-)      -> '\1 \2 ' */
};

static vkq_status apply_pair_rule(strbuf *t, const pair_rule *r)
{
    char *in = NULL;
    if (t->len > SIZE_MAX / 2 - 1)
        return out_of_memory();
    VKQ_TRY(renew(t, 2 * t->len, &in)); /* two characters become at most four */
    char *w = t->p;
    for (size_t i = 0; i < t->len;) {
        unsigned char a = (unsigned char)in[i], b = (unsigned char)in[i + 1];
        if (i + 1 < t->len && r->first(a) && r->second(b)) {
            if (r->space_before)
                *w++ = ' ';
            *w++ = (char)a;
            *w++ = ' ';
            *w++ = (char)b;
            if (r->space_after)
                *w++ = ' ';
            i += 2;
        } else {
            *w++ = in[i++];
        }
    }
    *w = '\0';
    t->len = (size_t)(w - t->p);
    free(in);
    return VKQ_OK;
}

/* BLEU._preprocess_segment with the defaults: Tokenizer13a()(sent.rstrip()), split. */
static vkq_status tokenize_13a(const char *s, tokens *out)
{
    strbuf t = {0};
    vkq_status st = copy_rstripped(s, &t);
    if (st == VKQ_OK) {
        replace_13a(&t);
        st = pad_and_split_punct(&t);
    }
    for (size_t i = 0; st == VKQ_OK && i < sizeof pair_rules / sizeof pair_rules[0]; i++)
        st = apply_pair_rule(&t, &pair_rules[i]);
    if (st == VKQ_OK)
        st = split_tokens(t.p, out);
    free(t.p);
    return st;
}

/* ---- a pair of token sequences as ids ---- */

typedef vkq_status (*tokenizer_fn)(const char *s, tokens *out);

typedef struct id_pair {
    uint32_t *ids; /* the prediction's, then the reference's; equal tokens, equal ids */
    uint32_t n_pred, n_ref, vocab;
} id_pair;

static const uint32_t *pred_ids(const id_pair *p) { return p->ids; }
static const uint32_t *ref_ids(const id_pair *p) { return p->ids + p->n_pred; }

typedef struct slot {
    const char *token;
    size_t index;
} slot;

static int by_token(const void *a, const void *b)
{
    return strcmp(((const slot *)a)->token, ((const slot *)b)->token);
}

/* Numbers the tokens of both sequences in sorted order, into p->ids. */
static vkq_status number_tokens(const tokens *pred, const tokens *ref, id_pair *p)
{
    size_t n = (size_t)pred->count + ref->count;
    slot *slots = malloc((n + 1) * sizeof *slots);
    if (!slots)
        return out_of_memory();
    for (size_t i = 0; i < n; i++)
        slots[i] = (slot){i < pred->count ? pred->token[i] : ref->token[i - pred->count], i};
    qsort(slots, n, sizeof *slots, by_token);
    p->vocab = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(slots[i].token, slots[i - 1].token) != 0)
            p->vocab++;
        p->ids[slots[i].index] = p->vocab;
    }
    p->vocab += n > 0;
    free(slots);
    return VKQ_OK;
}

static vkq_status tokenize_pair(tokenizer_fn tokenize, const char *prediction,
                                const char *reference, id_pair *out)
{
    tokens pred = {0}, ref = {0};
    *out = (id_pair){0};
    vkq_status st = tokenize(prediction, &pred);
    if (st == VKQ_OK)
        st = tokenize(reference, &ref);
    if (st == VKQ_OK && (uint64_t)pred.count + ref.count > UINT32_MAX)
        st = vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "metrics: too many tokens in one pair");
    if (st == VKQ_OK) {
        *out = (id_pair){malloc(((size_t)pred.count + ref.count + 1) * sizeof *out->ids),
                         pred.count, ref.count, 0};
        st = out->ids ? number_tokens(&pred, &ref, out) : out_of_memory();
    }
    tokens_free(&pred);
    tokens_free(&ref);
    if (st != VKQ_OK) {
        free(out->ids);
        out->ids = NULL;
    }
    return st;
}

/* ---- ROUGE ---- */

/* rouge-score's scoring.fmeasure, with the operations in its order. */
static vkq_prf prf(double precision, double recall)
{
    double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
    return (vkq_prf){precision, recall, f1};
}

static double ratio(uint64_t num, uint64_t den) { return (double)num / (double)(den ? den : 1); }

/* Unigram overlap with clipped counts: sum over tokens of min(count in pred, count in ref). */
static vkq_status rouge1_of(const id_pair *p, vkq_prf *out)
{
    uint32_t *counts = calloc(2 * (size_t)p->vocab + 1, sizeof *counts);
    if (!counts)
        return out_of_memory();
    for (uint32_t i = 0; i < p->n_pred; i++)
        counts[2 * (size_t)pred_ids(p)[i]]++;
    for (uint32_t i = 0; i < p->n_ref; i++)
        counts[2 * (size_t)ref_ids(p)[i] + 1]++;
    uint64_t hits = 0;
    for (size_t v = 0; v < p->vocab; v++)
        hits += counts[2 * v] < counts[2 * v + 1] ? counts[2 * v] : counts[2 * v + 1];
    free(counts);
    *out = prf(ratio(hits, p->n_pred), ratio(hits, p->n_ref));
    return VKQ_OK;
}

/* The classic dynamic programme, one row at a time. */
static vkq_status lcs_length(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb,
                             uint32_t *out)
{
    uint32_t *row = calloc((size_t)nb + 1, sizeof *row);
    if (!row)
        return out_of_memory();
    for (uint32_t i = 0; i < na; i++) {
        uint32_t diagonal = 0;
        for (uint32_t j = 1; j <= nb; j++) {
            uint32_t up = row[j];
            row[j] = a[i] == b[j - 1] ? diagonal + 1 : (up > row[j - 1] ? up : row[j - 1]);
            diagonal = up;
        }
    }
    *out = row[nb];
    free(row);
    return VKQ_OK;
}

static vkq_status rougeL_of(const id_pair *p, vkq_prf *out)
{
    *out = (vkq_prf){0};
    if (p->n_pred == 0 || p->n_ref == 0)
        return VKQ_OK;
    uint32_t lcs = 0;
    VKQ_TRY(lcs_length(ref_ids(p), p->n_ref, pred_ids(p), p->n_pred, &lcs));
    *out = prf(ratio(lcs, p->n_pred), ratio(lcs, p->n_ref));
    return VKQ_OK;
}

static vkq_status check_text(const char *s, const char *what)
{
    if (!s)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "metrics: the %s is NULL", what);
    return VKQ_OK;
}

vkq_status vkq_rouge(const char *prediction, const char *reference, vkq_rouge_scores *out)
{
    VKQ_TRY(check_text(prediction, "prediction"));
    VKQ_TRY(check_text(reference, "reference"));
    if (!out)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_rouge: NULL result");
    id_pair p;
    vkq_status st = tokenize_pair(tokenize_rouge, prediction, reference, &p);
    if (st == VKQ_OK)
        st = rouge1_of(&p, &out->rouge1);
    if (st == VKQ_OK)
        st = rougeL_of(&p, &out->rougeL);
    free(p.ids);
    return st;
}

/* ---- BLEU ---- */

typedef struct ngram {
    uint32_t id[VKQ_BLEU_MAX_ORDER]; /* unused tail zero */
    uint32_t from_ref;
} ngram;

static int by_ngram(const void *a, const void *b)
{
    const ngram *x = a, *y = b;
    return memcmp(x->id, y->id, sizeof x->id);
}

/* Appends the order-n n-grams of ids[0..len) to out; returns how many. */
static size_t collect_ngrams(const uint32_t *ids, uint32_t len, uint32_t n, uint32_t from_ref,
                             ngram *out)
{
    size_t count = len >= n ? len - n + 1 : 0;
    for (size_t i = 0; i < count; i++) {
        out[i] = (ngram){.from_ref = from_ref};
        memcpy(out[i].id, ids + i, n * sizeof *ids);
    }
    return count;
}

/* Sum over distinct order-n n-grams of min(count in pred, count in ref); buf has room for
 * every unigram of the pair. */
static uint64_t clipped_matches(const id_pair *p, uint32_t n, ngram *buf)
{
    size_t m = collect_ngrams(pred_ids(p), p->n_pred, n, 0, buf);
    m += collect_ngrams(ref_ids(p), p->n_ref, n, 1, buf + m);
    qsort(buf, m, sizeof *buf, by_ngram);
    uint64_t matches = 0;
    for (size_t i = 0, j; i < m; i = j) {
        uint64_t in_pred = 0, in_ref = 0;
        for (j = i; j < m && by_ngram(&buf[i], &buf[j]) == 0; j++) {
            if (buf[j].from_ref)
                in_ref++;
            else
                in_pred++;
        }
        matches += in_pred < in_ref ? in_pred : in_ref;
    }
    return matches;
}

/* Adds one pair's sufficient statistics (BLEU._compute_segment_statistics) to b. */
static vkq_status add_bleu_pair(const char *prediction, const char *reference, vkq_bleu *b)
{
    id_pair p;
    VKQ_TRY(tokenize_pair(tokenize_13a, prediction, reference, &p));
    ngram *buf = malloc(((size_t)p.n_pred + p.n_ref + 1) * sizeof *buf);
    if (!buf) {
        free(p.ids);
        return out_of_memory();
    }
    for (uint32_t n = 1; n <= VKQ_BLEU_MAX_ORDER; n++) {
        b->correct[n - 1] += clipped_matches(&p, n, buf);
        b->total[n - 1] += p.n_pred >= n ? p.n_pred - n + 1 : 0;
    }
    b->sys_len += p.n_pred;
    b->ref_len += p.n_ref;
    free(buf);
    free(p.ids);
    return VKQ_OK;
}

/* sacrebleu.utils.my_log */
static double bleu_log(double x) { return x == 0.0 ? -9999999999.0 : log(x); }

/* BLEU.compute_bleu with smooth_method='exp', effective_order=False. */
static void finish_bleu(vkq_bleu *b)
{
    b->brevity_penalty = 1.0;
    if (b->sys_len < b->ref_len)
        b->brevity_penalty =
            b->sys_len > 0 ? exp(1 - (double)b->ref_len / (double)b->sys_len) : 0.0;
    b->score = 0.0;
    uint64_t any_correct = 0;
    for (int n = 0; n < VKQ_BLEU_MAX_ORDER; n++) {
        b->precisions[n] = 0.0;
        any_correct |= b->correct[n];
    }
    if (!any_correct)
        return;
    double smooth = 1.0, log_sum = 0.0;
    for (int n = 0; n < VKQ_BLEU_MAX_ORDER && b->total[n] > 0; n++) {
        if (b->correct[n] == 0) {
            smooth *= 2;
            b->precisions[n] = 100. / (smooth * (double)b->total[n]);
        } else {
            b->precisions[n] = 100. * (double)b->correct[n] / (double)b->total[n];
        }
    }
    for (int n = 0; n < VKQ_BLEU_MAX_ORDER; n++)
        log_sum += bleu_log(b->precisions[n]);
    b->score = b->brevity_penalty * exp(log_sum / VKQ_BLEU_MAX_ORDER);
}

static vkq_status check_corpus(const char *const *predictions, const char *const *references,
                               uint32_t n, const void *out)
{
    if (!predictions || !references || !out)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "metrics: NULL predictions, references or result");
    if (n == 0)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "metrics: no pairs to score (n = 0)");
    for (uint32_t i = 0; i < n; i++)
        if (!predictions[i] || !references[i])
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "metrics: pair %u has a NULL %s", i,
                            predictions[i] ? "reference" : "prediction");
    return VKQ_OK;
}

vkq_status vkq_corpus_bleu(const char *const *predictions, const char *const *references,
                           uint32_t n, vkq_bleu *out)
{
    VKQ_TRY(check_corpus(predictions, references, n, out));
    vkq_bleu b = {0};
    for (uint32_t i = 0; i < n; i++)
        VKQ_TRY(add_bleu_pair(predictions[i], references[i], &b));
    finish_bleu(&b);
    *out = b;
    return VKQ_OK;
}

vkq_status vkq_score_texts(const char *const *predictions, const char *const *references,
                           uint32_t n, vkq_text_scores *out)
{
    VKQ_TRY(check_corpus(predictions, references, n, out));
    double rouge1 = 0.0, rougeL = 0.0;
    for (uint32_t i = 0; i < n; i++) {
        vkq_rouge_scores r;
        VKQ_TRY(vkq_rouge(predictions[i], references[i], &r));
        rouge1 += r.rouge1.f1;
        rougeL += r.rougeL.f1;
    }
    vkq_bleu b;
    VKQ_TRY(vkq_corpus_bleu(predictions, references, n, &b));
    *out = (vkq_text_scores){rouge1 / n, rougeL / n, b.score, n};
    return VKQ_OK;
}

/* ---- the tokenizers on their own ---- */

static vkq_status tokenize_joined(tokenizer_fn tokenize, const char *s, char **out)
{
    if (!out)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "metrics: NULL result");
    *out = NULL;
    VKQ_TRY(check_text(s, "text"));
    tokens t;
    VKQ_TRY(tokenize(s, &t));
    vkq_status st = join_tokens(&t, out);
    tokens_free(&t);
    return st;
}

vkq_status vkq_tokenize_rouge(const char *text, char **out)
{
    return tokenize_joined(tokenize_rouge, text, out);
}

vkq_status vkq_tokenize_13a(const char *text, char **out)
{
    return tokenize_joined(tokenize_13a, text, out);
}
