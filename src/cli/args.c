#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/status_internal.h"
#include "base/text.h"
#include "cli/cli.h"
#include "vkquill/dist.h"

static vkq_status parse_value(const char *command, const cli_option *o, const char *text)
{
    char *end;
    errno = 0;
    if (o->type == CLI_U32) {
        unsigned long long v = strtoull(text, &end, 10);
        if (errno || *end || end == text || text[0] == '-' || v == 0 || v > UINT32_MAX)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                            "%s: %s expects a positive integer, got '%s'", command, o->name,
                            VKQ_QUOTE(text));
        *(uint32_t *)o->dest = (uint32_t)v;
    } else if (o->type == CLI_FLOAT) {
        float v = strtof(text, &end);
        if (errno || *end || end == text || !isfinite(v))
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: %s expects a number, got '%s'",
                            command, o->name, VKQ_QUOTE(text));
        *(float *)o->dest = v;
    } else if (o->type == CLI_STRING && text[0] == '\0') {
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: %s must not be empty", command, o->name);
    } else {
        *(const char **)o->dest = text;
    }
    return VKQ_OK;
}

vkq_status cli_parse(const char *command, int argc, char **argv, int first,
                     const cli_option *opts, int count)
{
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        const cli_option *o = NULL;
        for (int j = 0; j < count && !o; j++)
            if (strcmp(arg, opts[j].name) == 0)
                o = &opts[j];
        if (!o)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: unknown %s '%s'; see 'vkquill help'",
                            command, arg[0] == '-' ? "option" : "argument", VKQ_QUOTE(arg));
        if (o->type == CLI_FLAG) {
            *(int *)o->dest = 1;
            continue;
        }
        if (i + 1 >= argc)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "%s: %s needs a value", command, o->name);
        VKQ_TRY(parse_value(command, o, argv[++i]));
    }
    return VKQ_OK;
}

/* On several ranks a failure takes the whole job down: the others would wait for it. */
int cli_fail(vkq_status status)
{
    int code = status == VKQ_ERR_INVALID_ARGUMENT ? 2 : 1;
    char line[4 * sizeof(vkq_saved_error)];
    const char *message = vkq_escape(vkq_last_error(), VKQ_ESCAPE_LINE, line, sizeof line);
    if (vkq_dist_size() > 1)
        vkq_dist_abort(message, code);
    fprintf(stderr, "vkquill: error: %s\n", message);
    return code;
}

double cli_now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void cli_emit_json(cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);
    if (text)
        puts(text);
    free(text);
    cJSON_Delete(o);
}
