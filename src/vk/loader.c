#include "vk/loader.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "base/status_internal.h"
#include "vk/cpu_vectors.h"

#define VKQ_DEFINE_PFN(name) PFN_##name name;
VKQ_GLOBAL_FUNCS(VKQ_DEFINE_PFN)
VKQ_INSTANCE_FUNCS(VKQ_DEFINE_PFN)
VKQ_INSTANCE_EXT_FUNCS(VKQ_DEFINE_PFN)
VKQ_DEVICE_FUNCS(VKQ_DEFINE_PFN)
#undef VKQ_DEFINE_PFN

static PFN_vkGetInstanceProcAddr get_instance_proc_addr;

vkq_status vkq_load_vulkan(void)
{
    if (get_instance_proc_addr)
        return VKQ_OK;
    vkq_choose_cpu_vectors();
    return vkq_open_vulkan();
}

vkq_status vkq_open_vulkan(void)
{
    const char *path = getenv("VKQ_VULKAN_LIBRARY");
    if (!path || !*path)
        path = "libvulkan.so.1";
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return vkq_fail(VKQ_ERR_NO_LOADER,
                        "the Vulkan loader %s could not be opened; install it with "
                        "'apt-get install libvulkan1 mesa-vulkan-drivers' (mesa-vulkan-drivers "
                        "adds lavapipe, which runs vkquill on any CPU)",
                        path);
    get_instance_proc_addr = (PFN_vkGetInstanceProcAddr)dlsym(lib, "vkGetInstanceProcAddr");
    if (!get_instance_proc_addr) {
        dlclose(lib);
        return vkq_fail(VKQ_ERR_NO_LOADER, "%s is not a Vulkan loader (no vkGetInstanceProcAddr)",
                        path);
    }
#define VKQ_LOAD_GLOBAL(name) name = (PFN_##name)get_instance_proc_addr(NULL, #name);
    VKQ_GLOBAL_FUNCS(VKQ_LOAD_GLOBAL)
#undef VKQ_LOAD_GLOBAL
    if (!vkCreateInstance || !vkEnumerateInstanceVersion)
        return vkq_fail(VKQ_ERR_NO_LOADER,
                        "the Vulkan loader %s is older than Vulkan 1.1; install a current "
                        "libvulkan1",
                        path);
    return VKQ_OK;
}

void vkq_load_instance(VkInstance instance)
{
#define VKQ_LOAD_INSTANCE(name) name = (PFN_##name)get_instance_proc_addr(instance, #name);
    VKQ_INSTANCE_FUNCS(VKQ_LOAD_INSTANCE)
    VKQ_INSTANCE_EXT_FUNCS(VKQ_LOAD_INSTANCE)
#undef VKQ_LOAD_INSTANCE
}

void vkq_load_device(VkDevice device)
{
#define VKQ_LOAD_DEVICE(name) name = (PFN_##name)vkGetDeviceProcAddr(device, #name);
    VKQ_DEVICE_FUNCS(VKQ_LOAD_DEVICE)
#undef VKQ_LOAD_DEVICE
}

const char *vkq_vk_result_name(VkResult result)
{
    switch (result) {
#define VKQ_RESULT_CASE(r) case r: return #r;
        VKQ_RESULT_CASE(VK_SUCCESS)
        VKQ_RESULT_CASE(VK_NOT_READY)
        VKQ_RESULT_CASE(VK_TIMEOUT)
        VKQ_RESULT_CASE(VK_INCOMPLETE)
        VKQ_RESULT_CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
        VKQ_RESULT_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        VKQ_RESULT_CASE(VK_ERROR_INITIALIZATION_FAILED)
        VKQ_RESULT_CASE(VK_ERROR_DEVICE_LOST)
        VKQ_RESULT_CASE(VK_ERROR_MEMORY_MAP_FAILED)
        VKQ_RESULT_CASE(VK_ERROR_LAYER_NOT_PRESENT)
        VKQ_RESULT_CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
        VKQ_RESULT_CASE(VK_ERROR_FEATURE_NOT_PRESENT)
        VKQ_RESULT_CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
        VKQ_RESULT_CASE(VK_ERROR_TOO_MANY_OBJECTS)
        VKQ_RESULT_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
        VKQ_RESULT_CASE(VK_ERROR_FRAGMENTED_POOL)
        VKQ_RESULT_CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
        VKQ_RESULT_CASE(VK_ERROR_UNKNOWN)
#undef VKQ_RESULT_CASE
    default: return "VkResult";
    }
}

vkq_status vkq_fail_vk(const char *call, VkResult result)
{
    char name[96];
    size_t n = strcspn(call, "(");
    if (n >= sizeof name)
        n = sizeof name - 1;
    memcpy(name, call, n);
    name[n] = '\0';
    const char *rname = vkq_vk_result_name(result);
    switch (result) {
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_OUT_OF_HOST_MEMORY:
        return vkq_fail(VKQ_ERR_OUT_OF_MEMORY,
                        "%s failed with %s: the device ran out of memory; use a smaller "
                        "model, batch or sequence length",
                        name, rname);
    case VK_ERROR_DEVICE_LOST:
        return vkq_fail(VKQ_ERR_DEVICE_LOST,
                        "%s failed with %s: the GPU driver reset the device (a crash or a "
                        "time-out); rerun with VKQ_VALIDATE=1 and report it with 'vkquill "
                        "selftest --json'",
                        name, rname);
    case VK_ERROR_INCOMPATIBLE_DRIVER:
        return vkq_fail(VKQ_ERR_NO_DEVICE,
                        "%s failed with %s: no Vulkan 1.1 driver was found; install one "
                        "('apt-get install mesa-vulkan-drivers' adds lavapipe, which runs "
                        "vkquill on any CPU)",
                        name, rname);
    default:
        return vkq_fail(VKQ_ERR_VULKAN, "%s failed with %s (%d); rerun with VKQ_VALIDATE=1 for "
                        "details", name, rname, (int)result);
    }
}
