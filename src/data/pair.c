/* A sample as the two token sequences of a NextQuill training step: the prompt with and
 * without the user's history, each followed by the same response tokens. */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

enum { DEFAULT_HISTORY_K = 8 };

typedef struct tokens {
    int32_t *ids;
    uint32_t count;
    int lower_bound; /* not encoded: count is only a lower bound, from the text's length */
} tokens;

/* A text that surely needs more than limit tokens (0: no limit) is not encoded, which could
 * take seconds for a long one: out->count is then the tokenizer's lower bound. */
static vkq_status encode(const vkq_tokenizer *tok, const char *text, int bos, uint32_t limit,
                         tokens *out)
{
    size_t at_least = vkq_tokenizer_min_tokens(tok, strlen(text)) + (bos != 0);
    if (limit > 0 && at_least > limit) {
        *out = (tokens){NULL, at_least > UINT32_MAX ? UINT32_MAX : (uint32_t)at_least, 1};
        return VKQ_OK;
    }
    *out = (tokens){0};
    /* what the tokenizer promises always suffices, and room for an end of turn */
    size_t capacity = vkq_tokenizer_max_tokens(tok, strlen(text)) + 1;
    if (capacity > UINT32_MAX)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "cannot encode a text of %zu bytes",
                        strlen(text));
    out->ids = malloc(capacity * sizeof *out->ids);
    if (!out->ids)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate %zu tokens", capacity);
    vkq_status status =
        vkq_tokenizer_encode(tok, text, bos, 0, out->ids, (uint32_t)capacity, &out->count);
    if (status != VKQ_OK) {
        free(out->ids);
        out->ids = NULL;
    }
    return status;
}

/* The system text and user turn as one chat prompt, which brings its own BOS. */
static vkq_status encode_chat(const vkq_tokenizer *tok, const vkq_template *t,
                              const char *system, const char *user, uint32_t limit, tokens *out)
{
    char *prompt = NULL;
    VKQ_TRY(vkq_chat_render_prompt(tok, t->chat, system, user, &prompt));
    vkq_status status = encode(tok, prompt, 0, limit, out);
    free(prompt);
    return status;
}

/* BOS and system + user as plain text. */
static vkq_status encode_plain(const vkq_tokenizer *tok, vkq_strbuf *system,
                               const vkq_strbuf *user, uint32_t limit, tokens *out)
{
    VKQ_TRY(vkq_strbuf_append(system, user->data ? user->data : "", user->length));
    return encode(tok, system->data ? system->data : "", 1, limit, out);
}

/* The prompt holding the first n_history items of the sample's history, encoded unless it
 * surely needs more than limit tokens. */
static vkq_status encode_prompt(const vkq_tokenizer *tok, const vkq_template *t,
                                const vkq_sample *s, uint32_t n_history, uint32_t limit,
                                tokens *out)
{
    vkq_strbuf system = {0}, user = {0};
    vkq_status status = vkq_template_render_system(t, &system);
    if (status == VKQ_OK)
        status = vkq_template_render_user(t, s->input, s->history, n_history, &user);
    if (status == VKQ_OK)
        status = t->chat == VKQ_CHAT_NONE
                     ? encode_plain(tok, &system, &user, limit, out)
                     : encode_chat(tok, t, system.data ? system.data : "",
                                   user.data ? user.data : "", limit, out);
    vkq_strbuf_free(&system);
    vkq_strbuf_free(&user);
    return status;
}

/* The target cut to max_tokens (0: whole), then EOS or the chat format's end of turn. */
static vkq_status encode_response(const vkq_tokenizer *tok, const vkq_template *t,
                                  const char *target, uint32_t max_tokens, tokens *out)
{
    int32_t end = vkq_chat_turn_end(tok, t->chat);
    if (end < 0)
        return vkq_fail(VKQ_ERR_UNSUPPORTED,
                        "the tokenizer has no EOS token to end a target with (a tokenizer.json "
                        "needs a tokenizer_config.json with eos_token)");
    VKQ_TRY(encode(tok, target, 0, 0, out));
    if (max_tokens > 0 && out->count > max_tokens)
        out->count = max_tokens;
    out->ids[out->count++] = end; /* encode left room for it */
    return VKQ_OK;
}

static int fits(const tokens *prompt, uint32_t max_tokens)
{
    return max_tokens == 0 || prompt->count <= max_tokens;
}

/* The prompt with the most recent history items that fit, dropping the oldest first; with no
 * item fitting, the prompt without history. */
static vkq_status fit_history_prompt(const vkq_tokenizer *tok, const vkq_template *t,
                                     const vkq_sample *s, uint32_t history_k,
                                     uint32_t max_prompt, const tokens *without, tokens *out,
                                     uint32_t *used)
{
    uint32_t k = history_k ? history_k : DEFAULT_HISTORY_K;
    for (uint32_t n = s->n_history < k ? s->n_history : k; n > 0; n--) {
        VKQ_TRY(encode_prompt(tok, t, s, n, max_prompt, out));
        if (fits(out, max_prompt)) {
            *used = n;
            return VKQ_OK;
        }
        free(out->ids);
        out->ids = NULL;
    }
    *used = 0;
    out->ids = malloc(without->count * sizeof *out->ids);
    if (!out->ids)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate %u tokens", without->count);
    memcpy(out->ids, without->ids, without->count * sizeof *out->ids);
    out->count = without->count;
    return VKQ_OK;
}

static vkq_status join(const tokens *prompt, const tokens *response, int32_t **out,
                       uint32_t *count)
{
    size_t total = (size_t)prompt->count + response->count;
    if (total > UINT32_MAX)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "a sequence of %zu tokens is too long", total);
    *out = malloc(total * sizeof **out);
    if (!*out)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "cannot allocate %zu tokens", total);
    memcpy(*out, prompt->ids, prompt->count * sizeof **out);
    memcpy(*out + prompt->count, response->ids, response->count * sizeof **out);
    *count = (uint32_t)total;
    return VKQ_OK;
}

/* The token arrays a pair is joined from. */
typedef struct pair_parts {
    tokens without, with, response;
} pair_parts;

static vkq_status build(const vkq_tokenizer *tok, const vkq_template *t,
                        const vkq_prompt_limits *limits, const vkq_sample *s, pair_parts *parts,
                        vkq_pair *out)
{
    tokens *without = &parts->without, *with = &parts->with, *response = &parts->response;
    VKQ_TRY(vkq_template_check(t, "template"));
    /* without a prompt limit, the prompt alone must still fit the context */
    uint32_t prompt_bound = limits->max_prompt_tokens ? limits->max_prompt_tokens
                                                      : limits->max_sequence_tokens;
    VKQ_TRY(encode_prompt(tok, t, s, 0, prompt_bound, without));
    if (!fits(without, limits->max_prompt_tokens))
        return vkq_fail(VKQ_ERR_FORMAT,
                        "sample at line %u: the prompt needs %s%u tokens without history, more "
                        "than --max-prompt-tokens %u",
                        s->line, without->lower_bound ? "at least " : "", without->count,
                        limits->max_prompt_tokens);
    VKQ_TRY(encode_response(tok, t, s->target, limits->max_target_tokens, response));
    uint32_t max_prompt = limits->max_prompt_tokens;
    if (limits->max_sequence_tokens) {
        uint64_t needed = (uint64_t)without->count + response->count;
        if (needed > limits->max_sequence_tokens)
            return vkq_fail(VKQ_ERR_FORMAT,
                            "sample at line %u: %s%u prompt tokens without history + %u "
                            "response tokens = %llu, more than the model's context length %u",
                            s->line, without->lower_bound ? "at least " : "", without->count,
                            response->count, (unsigned long long)needed,
                            limits->max_sequence_tokens);
        uint32_t room = limits->max_sequence_tokens - response->count;
        max_prompt = max_prompt && max_prompt < room ? max_prompt : room;
    }
    VKQ_TRY(fit_history_prompt(tok, t, s, limits->history_k, max_prompt, without, with,
                               &out->history_used));
    VKQ_TRY(join(with, response, &out->with_history, &out->n_with));
    VKQ_TRY(join(without, response, &out->without_history, &out->n_without));
    out->with_prompt = with->count;
    out->without_prompt = without->count;
    out->n_response = response->count;
    return VKQ_OK;
}

vkq_status vkq_pair_build(const vkq_tokenizer *tok, const vkq_template *t,
                          const vkq_prompt_limits *limits, const vkq_sample *s, vkq_pair *out)
{
    memset(out, 0, sizeof *out);
    pair_parts parts = {0};
    vkq_status status = build(tok, t, limits, s, &parts, out);
    free(parts.without.ids);
    free(parts.with.ids);
    free(parts.response.ids);
    if (status != VKQ_OK)
        vkq_pair_free(out);
    return status;
}

void vkq_pair_free(vkq_pair *p)
{
    free(p->with_history);
    free(p->without_history);
    memset(p, 0, sizeof *p);
}
