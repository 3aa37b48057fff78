#include "vk/context.h"
#include "vk/cpu_vectors.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const validation_layer = "VK_LAYER_KHRONOS_validation";

const char *vkq_device_type_name(vkq_device_type type)
{
    switch (type) {
    case VKQ_DEVICE_DISCRETE: return "discrete";
    case VKQ_DEVICE_INTEGRATED: return "integrated";
    case VKQ_DEVICE_VIRTUAL: return "virtual";
    case VKQ_DEVICE_CPU: return "cpu";
    default: return "other";
    }
}

const char *vkq_variant_name(vkq_variant variant)
{
    switch (variant) {
    case VKQ_VARIANT_CPU: return "cpu";
    case VKQ_VARIANT_GPU: return "gpu";
    default: return "auto";
    }
}

static vkq_device_type device_type(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return VKQ_DEVICE_DISCRETE;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return VKQ_DEVICE_INTEGRATED;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return VKQ_DEVICE_VIRTUAL;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return VKQ_DEVICE_CPU;
    default: return VKQ_DEVICE_OTHER;
    }
}

static int env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(
    VkDebugUtilsMessageSeverityFlagBitsEXT severity, VkDebugUtilsMessageTypeFlagsEXT type,
    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    (void)severity;
    (void)type;
    uint32_t *count = user;
    ++*count;
    fprintf(stderr, "vkquill: validation: %s\n", data->pMessage);
    return VK_FALSE;
}

static int has_layer(const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0)
        return 0;
    VkLayerProperties *layers = calloc(n, sizeof *layers);
    if (!layers)
        return 0;
    int found = 0;
    if (vkEnumerateInstanceLayerProperties(&n, layers) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(layers[i].layerName, name) == 0;
    free(layers);
    return found;
}

static int has_instance_extension(const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateInstanceExtensionProperties(NULL, &n, NULL) != VK_SUCCESS || n == 0)
        return 0;
    VkExtensionProperties *exts = calloc(n, sizeof *exts);
    if (!exts)
        return 0;
    int found = 0;
    if (vkEnumerateInstanceExtensionProperties(NULL, &n, exts) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(exts[i].extensionName, name) == 0;
    free(exts);
    return found;
}

static VkDebugUtilsMessengerCreateInfoEXT messenger_info(uint32_t *counter)
{
    VkDebugUtilsMessengerCreateInfoEXT info = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT,
        .pfnUserCallback = on_validation_message,
        .pUserData = counter,
    };
    return info;
}

/* Creates an instance; with validate set, the validation layer and a messenger that counts
 * every message into *counter. */
static vkq_status create_instance(int validate, uint32_t *counter, VkInstance *out,
                                  VkDebugUtilsMessengerEXT *messenger)
{
    VKQ_TRY(vkq_load_vulkan());
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "vkquill",
        .pEngineName = "vkquill",
        .apiVersion = VK_API_VERSION_1_1,
    };
    const char *exts[2];
    uint32_t ext_count = 0;
    VkInstanceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pApplicationInfo = &app,
    };
    if (has_instance_extension(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
        exts[ext_count++] = VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME;
        info.flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
    }
    VkDebugUtilsMessengerCreateInfoEXT minfo = messenger_info(counter);
    if (validate) {
        if (!has_layer(validation_layer))
            return vkq_fail(VKQ_ERR_UNSUPPORTED,
                            "VKQ_VALIDATE=1 needs %s; install it with 'apt-get install "
                            "vulkan-validationlayers'",
                            validation_layer);
        info.enabledLayerCount = 1;
        info.ppEnabledLayerNames = &validation_layer;
        exts[ext_count++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
        info.pNext = &minfo;
    }
    info.enabledExtensionCount = ext_count;
    info.ppEnabledExtensionNames = exts;
    VKQ_VK(vkCreateInstance(&info, NULL, out));
    vkq_load_instance(*out);
    *messenger = VK_NULL_HANDLE;
    if (validate && vkCreateDebugUtilsMessengerEXT)
        VKQ_VK(vkCreateDebugUtilsMessengerEXT(*out, &minfo, NULL, messenger));
    return VKQ_OK;
}

static int device_has_extension(VkPhysicalDevice pd, const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) != VK_SUCCESS || n == 0)
        return 0;
    VkExtensionProperties *exts = calloc(n, sizeof *exts);
    if (!exts)
        return 0;
    int found = 0;
    if (vkEnumerateDeviceExtensionProperties(pd, NULL, &n, exts) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(exts[i].extensionName, name) == 0;
    free(exts);
    return found;
}

static int compute_queue_family(VkPhysicalDevice pd, uint32_t *family)
{
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    VkQueueFamilyProperties q[16];
    if (n > 16)
        n = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
    for (uint32_t i = 0; i < n; i++)
        if (q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            *family = i;
            return 1;
        }
    return 0;
}

int vkq_driver_properties(VkPhysicalDevice pd, uint32_t api_version,
                          VkPhysicalDeviceDriverProperties *out)
{
    *out = (VkPhysicalDeviceDriverProperties){
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    if (api_version < VK_API_VERSION_1_2 &&
        !device_has_extension(pd, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME))
        return 0;
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                      .pNext = out};
    vkGetPhysicalDeviceProperties2(pd, &p2);
    return 1;
}

static void describe_device(VkPhysicalDevice pd, uint32_t index, vkq_device_info *d)
{
    memset(d, 0, sizeof *d);
    d->index = index;
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(pd, &p);
    snprintf(d->name, sizeof d->name, "%s", p.deviceName);
    d->type = device_type(p.deviceType);
    d->api_version = p.apiVersion;
    d->vendor_id = p.vendorID;
    d->device_id = p.deviceID;
    d->max_workgroup_invocations = p.limits.maxComputeWorkGroupInvocations;
    d->max_texel_buffer_elements = p.limits.maxTexelBufferElements;
    d->max_storage_buffer_range = p.limits.maxStorageBufferRange;
    uint32_t family;
    d->usable = p.apiVersion >= VK_API_VERSION_1_1 && compute_queue_family(pd, &family);
    VkPhysicalDeviceFeatures features;
    vkGetPhysicalDeviceFeatures(pd, &features);
    d->int64 = features.shaderInt64;
    if (p.apiVersion < VK_API_VERSION_1_1)
        return;

    VkPhysicalDeviceMaintenance3Properties m3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties sub = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, .pNext = &m3};
    VkPhysicalDeviceDriverProperties drv;
    int have_driver = vkq_driver_properties(pd, p.apiVersion, &drv);
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                      .pNext = &sub};
    vkGetPhysicalDeviceProperties2(pd, &p2);
    d->subgroup_size = sub.subgroupSize;
    d->max_allocation_size = m3.maxMemoryAllocationSize;
    int compute = !!(sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT);
    d->subgroup_shuffle = compute && (sub.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
    d->subgroup_arithmetic =
        compute && (sub.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
    if (have_driver && drv.driverID == VK_DRIVER_ID_MESA_LLVMPIPE)
        vkq_cpu_vectors_reason(d->cpu_vectors, sizeof d->cpu_vectors);
    if (have_driver)
        snprintf(d->driver, sizeof d->driver, "%.120s %.120s", drv.driverName, drv.driverInfo);
    else
        snprintf(d->driver, sizeof d->driver, "driver version %u", p.driverVersion);

    if (p.apiVersion >= VK_API_VERSION_1_2 ||
        device_has_extension(pd, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME)) {
        VkPhysicalDeviceShaderFloat16Int8Features f16 = {
            .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
        VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                        .pNext = &f16};
        vkGetPhysicalDeviceFeatures2(pd, &f2);
        d->fp16 = f16.shaderFloat16;
        d->int8 = f16.shaderInt8;
    }
    d->cooperative_matrix = device_has_extension(pd, "VK_KHR_cooperative_matrix") ||
                            device_has_extension(pd, "VK_NV_cooperative_matrix");

    VkPhysicalDeviceMemoryProperties mp;
    vkGetPhysicalDeviceMemoryProperties(pd, &mp);
    d->heap_count = mp.memoryHeapCount < VKQ_MAX_HEAPS ? mp.memoryHeapCount : VKQ_MAX_HEAPS;
    for (uint32_t i = 0; i < d->heap_count; i++) {
        d->heap_size[i] = mp.memoryHeaps[i].size;
        d->heap_device_local[i] = !!(mp.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT);
    }
}

/* A VKQ_DEBUG_ limit: unset, or a byte count of at least 1 KiB. */
static vkq_status debug_limit(const char *name, uint64_t *out)
{
    const char *v = getenv(name);
    *out = UINT64_MAX;
    if (!v || !*v)
        return VKQ_OK;
    char *end;
    unsigned long long bytes = strtoull(v, &end, 10);
    if (*end || *v == '-' || bytes < 1024)
        return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                        "%s=%s is not a byte count of at least 1024", name, v);
    *out = bytes;
    return VKQ_OK;
}

static void lower(uint64_t *limit, uint64_t to, int *lowered)
{
    if (to < *limit) {
        *limit = to;
        *lowered = 1;
    }
}

/* Lowers the device's limits to what VKQ_DEBUG_MAX_BINDING and VKQ_DEBUG_MAX_ALLOCATION ask. */
static vkq_status apply_debug_limits(vkq_device_info *d)
{
    uint64_t binding, allocation;
    VKQ_TRY(debug_limit("VKQ_DEBUG_MAX_BINDING", &binding));
    VKQ_TRY(debug_limit("VKQ_DEBUG_MAX_ALLOCATION", &allocation));
    lower(&d->max_storage_buffer_range, binding, &d->debug_limits);
    lower(&d->max_allocation_size, allocation, &d->debug_limits);
    return VKQ_OK;
}

static vkq_status physical_devices(VkInstance instance, VkPhysicalDevice **out, uint32_t *count)
{
    *count = 0;
    *out = NULL;
    VKQ_VK(vkEnumeratePhysicalDevices(instance, count, NULL));
    if (*count == 0)
        return VKQ_OK;
    *out = calloc(*count, sizeof **out);
    if (!*out)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory listing devices");
    VkResult r = vkEnumeratePhysicalDevices(instance, count, *out);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        free(*out);
        *out = NULL;
        return vkq_fail_vk("vkEnumeratePhysicalDevices", r);
    }
    return VKQ_OK;
}

static vkq_status no_device_error(void)
{
    return vkq_fail(VKQ_ERR_NO_DEVICE,
                    "no usable Vulkan device was found; install a driver for your GPU, or "
                    "'apt-get install mesa-vulkan-drivers' for lavapipe, which runs vkquill on "
                    "the CPU");
}

vkq_status vkq_enumerate_devices(vkq_device_info *out, uint32_t max, uint32_t *count)
{
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    uint32_t messages = 0;
    VKQ_TRY(create_instance(0, &messages, &instance, &messenger));
    VkPhysicalDevice *pds;
    vkq_status s = physical_devices(instance, &pds, count);
    if (s == VKQ_OK && *count == 0)
        s = no_device_error();
    for (uint32_t i = 0; s == VKQ_OK && i < *count && i < max; i++) {
        describe_device(pds[i], i, &out[i]);
        s = apply_debug_limits(&out[i]);
    }
    free(pds);
    vkDestroyInstance(instance, NULL);
    return s;
}

static int rank(const vkq_device_info *d)
{
    return d->usable ? (int)d->type : 100;
}

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return n == 0;
}

vkq_status vkq_pick_device(const vkq_device_info *infos, uint32_t count, const char *want,
                           uint32_t *chosen)
{
    if (want && *want) {
        char *end;
        unsigned long idx = strtoul(want, &end, 10);
        int numeric = *end == '\0';
        for (uint32_t i = 0; i < count; i++) {
            if (numeric ? i == idx : contains_ci(infos[i].name, want)) {
                if (!infos[i].usable)
                    return vkq_fail(VKQ_ERR_NO_DEVICE,
                                    "device %u (%s) chosen by VKQ_DEVICE=%s lacks Vulkan 1.1 or "
                                    "a compute queue",
                                    i, infos[i].name, want);
                *chosen = i;
                return VKQ_OK;
            }
        }
        return vkq_fail(VKQ_ERR_NO_DEVICE,
                        "VKQ_DEVICE=%s matches none of the %u devices; 'vkquill devices' lists "
                        "them",
                        want, count);
    }
    if (count == 0)
        return no_device_error();
    uint32_t best = 0;
    for (uint32_t i = 1; i < count; i++)
        if (rank(&infos[i]) < rank(&infos[best]))
            best = i;
    if (!infos[best].usable)
        return no_device_error();
    *chosen = best;
    return VKQ_OK;
}

static vkq_status create_device(vkq_ctx *ctx)
{
    if (!compute_queue_family(ctx->physical, &ctx->queue_family))
        return no_device_error();
    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = ctx->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    const char *exts[1];
    uint32_t ext_count = 0;
    if (device_has_extension(ctx->physical, "VK_KHR_portability_subset"))
        exts[ext_count++] = "VK_KHR_portability_subset";
    VkPhysicalDeviceFeatures features = {.shaderInt64 = (VkBool32)ctx->info.int64};
    VkDeviceCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pEnabledFeatures = &features,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &queue,
        .enabledExtensionCount = ext_count,
        .ppEnabledExtensionNames = exts,
    };
    VKQ_VK(vkCreateDevice(ctx->physical, &info, NULL, &ctx->device));
    vkq_load_device(ctx->device);
    vkGetDeviceQueue(ctx->device, ctx->queue_family, 0, &ctx->queue);
    vkGetPhysicalDeviceProperties(ctx->physical, &ctx->props);
    vkGetPhysicalDeviceMemoryProperties(ctx->physical, &ctx->memory_props);
    ctx->timestamp_period = ctx->props.limits.timestampPeriod;

    VkFormatProperties as_floats, as_words;
    vkGetPhysicalDeviceFormatProperties(ctx->physical, VK_FORMAT_R32G32B32A32_SFLOAT, &as_floats);
    vkGetPhysicalDeviceFormatProperties(ctx->physical, VK_FORMAT_R32G32B32A32_UINT, &as_words);
    ctx->texel_rgba32f = !!(as_floats.bufferFeatures & as_words.bufferFeatures &
                            VK_FORMAT_FEATURE_STORAGE_TEXEL_BUFFER_BIT);

    VkCommandPoolCreateInfo pool = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = ctx->queue_family,
    };
    VKQ_VK(vkCreateCommandPool(ctx->device, &pool, NULL, &ctx->command_pool));
    VkFenceCreateInfo fence = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VKQ_VK(vkCreateFence(ctx->device, &fence, NULL, &ctx->fence));
    return VKQ_OK;
}

int vkq_ctx_supports_variant(const vkq_ctx *ctx, vkq_variant variant)
{
    if (variant != VKQ_VARIANT_CPU)
        return 1;
    uint32_t width = ctx->info.subgroup_size;
    return (width == 8 || width == 16) && ctx->info.subgroup_shuffle &&
           ctx->info.subgroup_arithmetic && ctx->info.int64 && ctx->texel_rgba32f;
}

static vkq_status choose_variant(vkq_ctx *ctx, vkq_variant asked)
{
    if (asked == VKQ_VARIANT_AUTO) {
        const char *env = getenv("VKQ_VARIANT");
        if (env && strcmp(env, "cpu") == 0)
            asked = VKQ_VARIANT_CPU;
        else if (env && strcmp(env, "gpu") == 0)
            asked = VKQ_VARIANT_GPU;
        else if (env && *env && strcmp(env, "auto") != 0)
            return vkq_fail(VKQ_ERR_INVALID_ARGUMENT,
                            "VKQ_VARIANT=%s is not one of auto, cpu, gpu", env);
    }
    if (asked == VKQ_VARIANT_AUTO)
        asked = ctx->info.type == VKQ_DEVICE_CPU && vkq_ctx_supports_variant(ctx, VKQ_VARIANT_CPU)
                    ? VKQ_VARIANT_CPU
                    : VKQ_VARIANT_GPU;
    if (!vkq_ctx_supports_variant(ctx, asked))
        return vkq_fail(VKQ_ERR_UNSUPPORTED,
                        "the cpu kernel variant needs subgroups of 8 or 16 with shuffle and arithmetic "
                        "and RGBA32F texel buffers, and 64-bit integers; %s has subgroups of %u%s",
                        ctx->info.name, ctx->info.subgroup_size,
                        ctx->info.int64 ? "" : " and no 64-bit integers");
    ctx->variant = asked;
    return VKQ_OK;
}

static vkq_status ctx_init(vkq_ctx *ctx, const vkq_ctx_options *o)
{
    ctx->validate = o->validate >= 0 ? o->validate : env_flag("VKQ_VALIDATE");
    ctx->profile = env_flag("VKQ_PROFILE");
    VKQ_TRY(create_instance(ctx->validate, &ctx->validation_messages, &ctx->instance,
                            &ctx->messenger));
    VkPhysicalDevice *pds;
    uint32_t count;
    VKQ_TRY(physical_devices(ctx->instance, &pds, &count));
    if (count == 0)
        return no_device_error();
    vkq_device_info *infos = calloc(count, sizeof *infos);
    if (!infos) {
        free(pds);
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory listing devices");
    }
    for (uint32_t i = 0; i < count; i++)
        describe_device(pds[i], i, &infos[i]);
    uint32_t chosen = 0;
    const char *want = o->device ? o->device : getenv("VKQ_DEVICE");
    vkq_status s = vkq_pick_device(infos, count, want, &chosen);
    if (s == VKQ_OK) {
        ctx->info = infos[chosen];
        ctx->physical = pds[chosen];
    }
    free(infos);
    free(pds);
    VKQ_TRY(s);
    VKQ_TRY(apply_debug_limits(&ctx->info));
    VKQ_TRY(create_device(ctx));
    VKQ_TRY(choose_variant(ctx, o->variant));
    VKQ_TRY(vkq_memory_init(ctx));
    VKQ_TRY(vkq_pipelines_init(ctx));
    return vkq_validation_status(ctx);
}

vkq_status vkq_ctx_create(const vkq_ctx_options *options, vkq_ctx **out)
{
    static const vkq_ctx_options defaults = VKQ_CTX_OPTIONS_DEFAULT;
    *out = NULL;
    vkq_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY, "out of host memory creating the context");
    vkq_status s = ctx_init(ctx, options ? options : &defaults);
    if (s != VKQ_OK) {
        vkq_saved_error e = vkq_error_save(s);
        vkq_ctx_destroy(ctx);
        return vkq_error_restore(&e);
    }
    *out = ctx;
    return VKQ_OK;
}

vkq_status vkq_validation_status(vkq_ctx *ctx)
{
    if (ctx->validation_messages == 0)
        return VKQ_OK;
    return vkq_fail(VKQ_ERR_VALIDATION,
                    "the Vulkan validation layer reported %u message(s), printed above",
                    ctx->validation_messages);
}

vkq_status vkq_ctx_destroy(vkq_ctx *ctx)
{
    if (!ctx)
        return VKQ_OK;
    vkq_status s = VKQ_OK;
    if (ctx->device) {
        vkDeviceWaitIdle(ctx->device);
        vkq_pipelines_destroy(ctx);
        vkq_memory_destroy(ctx);
        if (ctx->fence)
            vkDestroyFence(ctx->device, ctx->fence, NULL);
        if (ctx->command_pool)
            vkDestroyCommandPool(ctx->device, ctx->command_pool, NULL);
        vkDestroyDevice(ctx->device, NULL);
    }
    if (ctx->instance) {
        s = vkq_validation_status(ctx);
        if (ctx->messenger)
            vkDestroyDebugUtilsMessengerEXT(ctx->instance, ctx->messenger, NULL);
        vkDestroyInstance(ctx->instance, NULL);
    }
    free(ctx->profile_rows);
    free(ctx);
    return s;
}

const vkq_device_info *vkq_ctx_device(const vkq_ctx *ctx) { return &ctx->info; }
vkq_variant vkq_ctx_variant(const vkq_ctx *ctx) { return ctx->variant; }
void vkq_ctx_set_variant(vkq_ctx *ctx, vkq_variant variant) { ctx->variant = variant; }
uint64_t vkq_ctx_memory_in_use(const vkq_ctx *ctx) { return ctx->in_use; }
uint64_t vkq_ctx_memory_peak(const vkq_ctx *ctx) { return ctx->peak; }

uint64_t vkq_ctx_max_binding(const vkq_ctx *ctx) { return vkq_device_max_binding(&ctx->info); }

uint64_t vkq_device_max_binding(const vkq_device_info *d)
{
    uint64_t most = d->max_storage_buffer_range;
    if (16ull * d->max_texel_buffer_elements < most)
        most = 16ull * d->max_texel_buffer_elements;
    if (d->max_allocation_size < most)
        most = d->max_allocation_size;
    return most / VKQ_BUF_ALIGNMENT * VKQ_BUF_ALIGNMENT;
}
