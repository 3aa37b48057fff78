#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "vkquill/runtime.h"

enum { MAX_DEVICES = 16 };

static void print_json(const vkq_device_info *d, int chosen)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", d->index);
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "type", vkq_device_type_name(d->type));
    cJSON_AddStringToObject(o, "driver", d->driver);
    char api[32];
    snprintf(api, sizeof api, "%u.%u.%u", d->api_version >> 22, (d->api_version >> 12) & 0x3ff,
             d->api_version & 0xfff);
    cJSON_AddStringToObject(o, "api_version", api);
    cJSON *heaps = cJSON_AddArrayToObject(o, "heaps");
    for (uint32_t h = 0; h < d->heap_count; h++) {
        cJSON *heap = cJSON_CreateObject();
        cJSON_AddNumberToObject(heap, "bytes", (double)d->heap_size[h]);
        cJSON_AddBoolToObject(heap, "device_local", d->heap_device_local[h]);
        cJSON_AddItemToArray(heaps, heap);
    }
    cJSON_AddNumberToObject(o, "subgroup_size", d->subgroup_size);
    cJSON_AddBoolToObject(o, "subgroup_shuffle", d->subgroup_shuffle);
    cJSON_AddBoolToObject(o, "fp16", d->fp16);
    cJSON_AddBoolToObject(o, "int8", d->int8);
    cJSON_AddBoolToObject(o, "int64", d->int64);
    cJSON_AddBoolToObject(o, "cooperative_matrix", d->cooperative_matrix);
    cJSON_AddNumberToObject(o, "max_storage_buffer_range", (double)d->max_storage_buffer_range);
    cJSON_AddNumberToObject(o, "max_texel_buffer_elements", d->max_texel_buffer_elements);
    cJSON_AddNumberToObject(o, "max_allocation_size", (double)d->max_allocation_size);
    cJSON_AddBoolToObject(o, "debug_limits", d->debug_limits);
    if (d->cpu_vectors[0])
        cJSON_AddStringToObject(o, "cpu_vectors", d->cpu_vectors);
    cJSON_AddBoolToObject(o, "usable", d->usable);
    cJSON_AddBoolToObject(o, "chosen", chosen);
    cli_emit_json(o);
}

static const char *yes_no(int v) { return v ? "yes" : "no"; }

static void print_text(const vkq_device_info *d, int chosen)
{
    printf("%c %u: %s [%s]\n", chosen ? '*' : ' ', d->index, d->name,
           vkq_device_type_name(d->type));
    printf("     driver %s, Vulkan %u.%u.%u%s\n", d->driver, d->api_version >> 22,
           (d->api_version >> 12) & 0x3ff, d->api_version & 0xfff,
           d->usable ? "" : " (unusable: needs Vulkan 1.1 and a compute queue)");
    for (uint32_t h = 0; h < d->heap_count; h++)
        printf("     heap %u: %.1f GiB%s\n", h, d->heap_size[h] / 1073741824.0,
               d->heap_device_local[h] ? " device-local" : "");
    printf("     subgroup %u%s, fp16 %s, int8 %s, int64 %s, cooperative matrix %s\n",
           d->subgroup_size, d->subgroup_shuffle ? " with shuffle" : "", yes_no(d->fp16),
           yes_no(d->int8), yes_no(d->int64), yes_no(d->cooperative_matrix));
    printf("     one binding %g MiB, texel view %u texels, one allocation %g MiB%s\n",
           d->max_storage_buffer_range / 1048576.0, d->max_texel_buffer_elements,
           d->max_allocation_size / 1048576.0,
           d->debug_limits ? " (lowered by VKQ_DEBUG_MAX_BINDING / VKQ_DEBUG_MAX_ALLOCATION)" : "");
    if (d->cpu_vectors[0])
        printf("     vectors %s\n", d->cpu_vectors);
}

int cmd_devices(int argc, char **argv)
{
    int json = 0;
    cli_option opts[] = {{"--json", CLI_FLAG, &json}};
    vkq_status s = cli_parse("devices", argc, argv, 2, opts, 1);
    if (s != VKQ_OK)
        return cli_fail(s);
    vkq_device_info infos[MAX_DEVICES];
    uint32_t count = 0;
    s = vkq_enumerate_devices(infos, MAX_DEVICES, &count);
    if (s != VKQ_OK)
        return cli_fail(s);
    if (count > MAX_DEVICES)
        count = MAX_DEVICES;
    uint32_t chosen = UINT32_MAX;
    vkq_status pick = vkq_pick_device(infos, count, getenv("VKQ_DEVICE"), &chosen);
    for (uint32_t i = 0; i < count; i++)
        (json ? print_json : print_text)(&infos[i], i == chosen);
    if (pick != VKQ_OK)
        return cli_fail(pick);
    return 0;
}
