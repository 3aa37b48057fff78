/* Plain text: every paragraph becomes a sample with the paragraph as its target. */
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"

static vkq_status check_line(const char *path, uint32_t number, const char *line, size_t length)
{
    const char *nul = memchr(line, '\0', length);
    if (nul)
        return vkq_fail(VKQ_ERR_FORMAT, "%s:%u:%zu: NUL byte", path, number,
                        (size_t)(nul - line) + 1);
    if (!vkq_utf8_valid(line, length))
        return vkq_fail(VKQ_ERR_FORMAT, "%s:%u: invalid UTF-8", path, number);
    return VKQ_OK;
}

/* Moves the paragraph gathered so far, if any, into the dataset as a sample. */
static vkq_status flush_paragraph(vkq_strbuf *paragraph, uint32_t first_line, vkq_dataset *d)
{
    if (paragraph->length == 0)
        return VKQ_OK;
    vkq_sample s = {.line = first_line};
    vkq_status status = vkq_copy_string("", &s.user);
    if (status == VKQ_OK)
        status = vkq_copy_string("", &s.input);
    if (status == VKQ_OK)
        status = vkq_strbuf_take(paragraph, &s.target);
    return vkq_dataset_add(d, status, &s, 0);
}

static vkq_status load_paragraphs(const char *path, char *text, size_t length, vkq_dataset *d,
                                  vkq_strbuf *paragraph)
{
    char *at = text, *end = text + length;
    size_t line_length;
    uint32_t number = 0, first_line = 0;
    for (char *line; (line = vkq_next_line(&at, end, &line_length)) != NULL;) {
        number++;
        VKQ_TRY(check_line(path, number, line, line_length));
        if (vkq_is_blank(line, line_length)) {
            VKQ_TRY(flush_paragraph(paragraph, first_line, d));
            continue;
        }
        if (paragraph->length == 0)
            first_line = number;
        else
            VKQ_TRY(vkq_strbuf_append(paragraph, "\n", 1));
        VKQ_TRY(vkq_strbuf_append(paragraph, line, line_length));
    }
    return flush_paragraph(paragraph, first_line, d);
}

vkq_status vkq_dataset_load_text(const char *path, vkq_dataset *out)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t length = 0;
    VKQ_TRY(vkq_read_text_file(path, &text, &length));
    vkq_strbuf paragraph = {0};
    vkq_status status = load_paragraphs(path, text, length, out, &paragraph);
    vkq_strbuf_free(&paragraph);
    free(text);
    if (status == VKQ_OK)
        status = vkq_dataset_finish(out, path);
    if (status != VKQ_OK)
        vkq_dataset_free(out);
    return status;
}
