/* Chat formats: recognising a tokenizer's chat template by its family, and rendering a
 * prompt as that family's template renders a system message, one user message and the start
 * of the assistant's reply (add_generation_prompt). */
#include <stdlib.h>
#include <string.h>

#include "base/text.h"
#include "tokenizer/hf_internal.h"

static const char *const NAMES[] = {"none", "chatml", "llama3", "inst"};
static const char CHOICES[] = "auto, none, chatml, llama3 or inst";

vkq_status vkq_chat_format_parse(const char *name, vkq_chat_format *format, int *is_auto)
{
    *is_auto = strcmp(name, "auto") == 0;
    *format = VKQ_CHAT_NONE;
    if (*is_auto)
        return VKQ_OK;
    for (int f = 0; f < 4; f++)
        if (strcmp(name, NAMES[f]) == 0) {
            *format = (vkq_chat_format)f;
            return VKQ_OK;
        }
    return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "unknown chat template \"%s\" (choose %s)", name,
                    CHOICES);
}

const char *vkq_chat_format_name(vkq_chat_format format)
{
    return (unsigned)format < 4 ? NAMES[format] : "?";
}

static int detect(const char *template, vkq_chat_format *out)
{
    if (strstr(template, "<|im_start|>"))
        *out = VKQ_CHAT_CHATML;
    else if (strstr(template, "<|start_header_id|>"))
        *out = VKQ_CHAT_LLAMA3;
    else if (strstr(template, "[INST]"))
        *out = VKQ_CHAT_INST;
    else
        return 0;
    return 1;
}

vkq_status vkq_tokenizer_chat_format(const vkq_tokenizer *t, vkq_chat_format *out)
{
    *out = VKQ_CHAT_NONE;
    if (!t->chat_template || detect(t->chat_template, out))
        return VKQ_OK;
    return vkq_fail(VKQ_ERR_UNSUPPORTED,
                    "the tokenizer's chat template is of no known family (ChatML, Llama 3, "
                    "[INST]); choose one with --chat-template chatml, llama3, inst or none");
}

/* Looks up a token of the format by its text. */
static int32_t token_id(const vkq_tokenizer *t, const char *text)
{
    return t->ops->find(t, text, strlen(text));
}

int32_t vkq_chat_turn_end(const vkq_tokenizer *t, vkq_chat_format format)
{
    switch (format) {
    case VKQ_CHAT_CHATML:
        return token_id(t, "<|im_end|>");
    case VKQ_CHAT_LLAMA3:
        return token_id(t, "<|eot_id|>");
    default:
        return t->eos;
    }
}

void vkq_chat_note_turn_end(vkq_tokenizer *t)
{
    vkq_chat_format format = VKQ_CHAT_NONE;
    t->chat_end = t->chat_template && detect(t->chat_template, &format)
                      ? vkq_chat_turn_end(t, format)
                      : -1;
}

int vkq_tokenizer_is_end(const vkq_tokenizer *t, int32_t token)
{
    return token >= 0 && (token == t->bos || token == t->eos || token == t->chat_end);
}

/* Jinja's trim: Python's str.strip(). */
static vkq_status append_trimmed(vkq_strbuf *b, const char *text)
{
    size_t start = 0, end = strlen(text), n;
    while (start < end && vkq_hf_is_space(text + start, end - start, &n))
        start += n;
    for (size_t at = end; at > start;) {
        size_t back = at - 1;
        while (back > start && ((unsigned char)text[back] & 0xC0) == 0x80)
            back--;
        if (!vkq_hf_is_space(text + back, at - back, &n))
            break;
        end = at = back;
    }
    return vkq_strbuf_append(b, text + start, end - start);
}

static vkq_status append_all(vkq_strbuf *b, const char *const *parts)
{
    for (; *parts; parts++)
        VKQ_TRY(vkq_strbuf_append_str(b, *parts));
    return VKQ_OK;
}

static int has_think_block(const vkq_tokenizer *t)
{
    return t->chat_template && strstr(t->chat_template, "<think>") != NULL;
}

static vkq_status render_chatml(const vkq_tokenizer *t, const char *system, const char *user,
                                vkq_strbuf *b)
{
    if (system[0])
        VKQ_TRY(append_all(b, (const char *const[]){"<|im_start|>system\n", system,
                                                     "<|im_end|>\n", NULL}));
    VKQ_TRY(append_all(b, (const char *const[]){"<|im_start|>user\n", user, "<|im_end|>\n",
                                                 "<|im_start|>assistant\n", NULL}));
    /* Qwen3's template closes an empty reasoning block before the final answer */
    return has_think_block(t) ? vkq_strbuf_append_str(b, "<think>\n\n</think>\n\n") : VKQ_OK;
}

static vkq_status render_llama3(const char *bos, const char *system, const char *user,
                                vkq_strbuf *b)
{
    VKQ_TRY(vkq_strbuf_append_str(b, bos));
    if (system[0]) {
        VKQ_TRY(vkq_strbuf_append_str(b, "<|start_header_id|>system<|end_header_id|>\n\n"));
        VKQ_TRY(append_trimmed(b, system));
        VKQ_TRY(vkq_strbuf_append_str(b, "<|eot_id|>"));
    }
    VKQ_TRY(vkq_strbuf_append_str(b, "<|start_header_id|>user<|end_header_id|>\n\n"));
    VKQ_TRY(append_trimmed(b, user));
    return vkq_strbuf_append_str(
        b, "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
}

static vkq_status render_inst(const char *bos, const char *system, const char *user,
                              vkq_strbuf *b)
{
    VKQ_TRY(append_all(b, (const char *const[]){bos, "[INST] ", NULL}));
    if (system[0])
        VKQ_TRY(append_all(b, (const char *const[]){"<<SYS>>\n", system, "\n<</SYS>>\n\n",
                                                     NULL}));
    return append_all(b, (const char *const[]){user, " [/INST]", NULL});
}

static vkq_status require_tokens(const vkq_tokenizer *t, vkq_chat_format format)
{
    static const char *const NEEDED[][3] = {
        {NULL}, {"<|im_start|>", "<|im_end|>", NULL},
        {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"}, {NULL}};
    for (int i = 0; i < 3 && NEEDED[format][i]; i++)
        if (token_id(t, NEEDED[format][i]) < 0)
            return vkq_fail(VKQ_ERR_UNSUPPORTED,
                            "the %s chat format needs the token %s, which the tokenizer lacks",
                            NAMES[format], NEEDED[format][i]);
    if (vkq_chat_turn_end(t, format) < 0)
        return vkq_fail(VKQ_ERR_UNSUPPORTED, "the %s chat format needs an EOS token, which the "
                        "tokenizer lacks", NAMES[format]);
    return VKQ_OK;
}

vkq_status vkq_chat_render_prompt(const vkq_tokenizer *t, vkq_chat_format format,
                                  const char *system, const char *user, char **out)
{
    if ((unsigned)format >= 4 || format == VKQ_CHAT_NONE)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "vkq_chat_render_prompt: no chat format");
    VKQ_TRY(require_tokens(t, format));
    const char *bos = t->bos >= 0 ? vkq_tokenizer_piece(t, t->bos) : "";
    vkq_strbuf b = {0};
    vkq_status status = format == VKQ_CHAT_CHATML   ? render_chatml(t, system, user, &b)
                        : format == VKQ_CHAT_LLAMA3 ? render_llama3(bos, system, user, &b)
                                                    : render_inst(bos, system, user, &b);
    if (status == VKQ_OK)
        status = vkq_strbuf_take(&b, out);
    vkq_strbuf_free(&b);
    return status;
}
