#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status_internal.h"
#include "cli/cli.h"
#include "vkquill/selftest.h"

typedef struct report_state {
    int json;
    const char *device;
    unsigned passed, failed;
} report_state;

static void report(const vkq_check_result *r, void *user)
{
    report_state *st = user;
    if (r->passed)
        st->passed++;
    else
        st->failed++;
    if (!st->json) {
        printf("%s %-12s %-4s %-48s nmse %.2e (limit %.0e)%s\n", r->passed ? "PASS" : "FAIL",
               r->kernel, r->variant, r->case_name, r->error, r->threshold,
               r->guards_ok ? "" : ", guard words overwritten");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kernel", r->kernel);
    cJSON_AddStringToObject(o, "variant", r->variant);
    cJSON_AddStringToObject(o, "case", r->case_name);
    cJSON_AddNumberToObject(o, "nmse", r->error);
    cJSON_AddNumberToObject(o, "threshold", r->threshold);
    cJSON_AddBoolToObject(o, "guards_ok", r->guards_ok);
    cJSON_AddBoolToObject(o, "passed", r->passed);
    cJSON_AddStringToObject(o, "device", st->device);
    cli_emit_json(o);
}

static vkq_status parse_variant(const char *text, vkq_variant *out)
{
    if (!text)
        *out = VKQ_VARIANT_AUTO;
    else if (strcmp(text, "cpu") == 0)
        *out = VKQ_VARIANT_CPU;
    else if (strcmp(text, "gpu") == 0)
        *out = VKQ_VARIANT_GPU;
    else
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT, "--variant expects cpu or gpu, got '%s'", text);
    return VKQ_OK;
}

int cmd_selftest(int argc, char **argv)
{
    const char *kernel = NULL, *variant_text = NULL;
    int json = 0, list = 0;
    cli_option opts[] = {{"--kernel", CLI_STRING, &kernel},
                         {"--variant", CLI_STRING, &variant_text},
                         {"--json", CLI_FLAG, &json},
                         {"--list", CLI_FLAG, &list}};
    vkq_variant variant = VKQ_VARIANT_AUTO;
    vkq_status s = cli_parse("selftest", argc, argv, 2, opts, 4);
    if (s == VKQ_OK)
        s = parse_variant(variant_text, &variant);
    if (s != VKQ_OK)
        return cli_fail(s);
    if (list) {
        for (unsigned i = 0; i < vkq_check_family_count(); i++)
            printf("%s%s\n", vkq_check_family_name(i),
                   vkq_check_family_has_variants(i) ? " (cpu and gpu variants)" : "");
        return 0;
    }
    vkq_ctx *ctx;
    s = vkq_ctx_create(NULL, &ctx);
    if (s != VKQ_OK)
        return cli_fail(s);
    report_state st = {.json = json, .device = vkq_ctx_device(ctx)->name};
    unsigned failed = 0;
    s = vkq_selftest(ctx, kernel, variant, report, &st, &failed);
    if (!json && s == VKQ_OK)
        printf("selftest: %u passed, %u failed on %s\n", st.passed, st.failed, st.device);
    vkq_status d = vkq_ctx_destroy(ctx);
    if (s == VKQ_OK)
        s = d;
    if (s != VKQ_OK)
        return cli_fail(s);
    if (failed) {
        fprintf(stderr, "vkquill: error: %u kernel check(s) failed; please report the output of "
                        "'vkquill selftest --json' with your device and driver\n",
                failed);
        return 1;
    }
    return 0;
}
