/* A small volk-style Vulkan loader: libvulkan.so.1 is opened at run time and every entry
 * point vkquill uses is fetched into a global function pointer of the usual name.
 * Build with VK_NO_PROTOTYPES so <vulkan/vulkan.h> declares no functions of its own. */
#ifndef VKQ_VK_LOADER_H
#define VKQ_VK_LOADER_H

#include <vulkan/vulkan.h>

#include "vkquill/status.h"

#define VKQ_GLOBAL_FUNCS(X)                  \
    X(vkCreateInstance)                      \
    X(vkEnumerateInstanceExtensionProperties) \
    X(vkEnumerateInstanceLayerProperties)    \
    X(vkEnumerateInstanceVersion)

#define VKQ_INSTANCE_FUNCS(X)                  \
    X(vkDestroyInstance)                       \
    X(vkEnumeratePhysicalDevices)              \
    X(vkGetPhysicalDeviceProperties)           \
    X(vkGetPhysicalDeviceProperties2)          \
    X(vkGetPhysicalDeviceFeatures)             \
    X(vkGetPhysicalDeviceFeatures2)            \
    X(vkGetPhysicalDeviceMemoryProperties)     \
    X(vkGetPhysicalDeviceQueueFamilyProperties) \
    X(vkGetPhysicalDeviceFormatProperties)     \
    X(vkEnumerateDeviceExtensionProperties)    \
    X(vkCreateDevice)                          \
    X(vkGetDeviceProcAddr)

/* Entry points of optional instance extensions: NULL when the extension is absent. */
#define VKQ_INSTANCE_EXT_FUNCS(X)      \
    X(vkCreateDebugUtilsMessengerEXT)  \
    X(vkDestroyDebugUtilsMessengerEXT)

#define VKQ_DEVICE_FUNCS(X)            \
    X(vkDestroyDevice)                 \
    X(vkGetDeviceQueue)                \
    X(vkDeviceWaitIdle)                \
    X(vkQueueSubmit)                   \
    X(vkAllocateMemory)                \
    X(vkFreeMemory)                    \
    X(vkMapMemory)                     \
    X(vkUnmapMemory)                   \
    X(vkFlushMappedMemoryRanges)       \
    X(vkInvalidateMappedMemoryRanges)  \
    X(vkCreateBuffer)                  \
    X(vkDestroyBuffer)                 \
    X(vkGetBufferMemoryRequirements)   \
    X(vkBindBufferMemory)              \
    X(vkCreateBufferView)              \
    X(vkDestroyBufferView)             \
    X(vkCreateShaderModule)            \
    X(vkDestroyShaderModule)           \
    X(vkCreatePipelineCache)           \
    X(vkDestroyPipelineCache)          \
    X(vkGetPipelineCacheData)          \
    X(vkCreateComputePipelines)        \
    X(vkDestroyPipeline)               \
    X(vkCreatePipelineLayout)          \
    X(vkDestroyPipelineLayout)         \
    X(vkCreateDescriptorSetLayout)     \
    X(vkDestroyDescriptorSetLayout)    \
    X(vkCreateDescriptorPool)          \
    X(vkDestroyDescriptorPool)         \
    X(vkResetDescriptorPool)           \
    X(vkAllocateDescriptorSets)        \
    X(vkUpdateDescriptorSets)          \
    X(vkCreateCommandPool)             \
    X(vkDestroyCommandPool)            \
    X(vkAllocateCommandBuffers)        \
    X(vkFreeCommandBuffers)            \
    X(vkBeginCommandBuffer)            \
    X(vkEndCommandBuffer)              \
    X(vkResetCommandBuffer)            \
    X(vkCmdBindPipeline)               \
    X(vkCmdBindDescriptorSets)         \
    X(vkCmdPushConstants)              \
    X(vkCmdDispatch)                   \
    X(vkCmdPipelineBarrier)            \
    X(vkCmdCopyBuffer)                 \
    X(vkCmdFillBuffer)                 \
    X(vkCmdWriteTimestamp)             \
    X(vkCmdResetQueryPool)             \
    X(vkCreateQueryPool)               \
    X(vkDestroyQueryPool)              \
    X(vkGetQueryPoolResults)           \
    X(vkCreateFence)                   \
    X(vkDestroyFence)                  \
    X(vkWaitForFences)                 \
    X(vkResetFences)

#define VKQ_DECLARE_PFN(name) extern PFN_##name name;
VKQ_GLOBAL_FUNCS(VKQ_DECLARE_PFN)
VKQ_INSTANCE_FUNCS(VKQ_DECLARE_PFN)
VKQ_INSTANCE_EXT_FUNCS(VKQ_DECLARE_PFN)
VKQ_DEVICE_FUNCS(VKQ_DECLARE_PFN)
#undef VKQ_DECLARE_PFN

/* Chooses lavapipe's vector width (vk/cpu_vectors.h), then opens the loader. Safe to call
 * again; the library stays open for the process. */
vkq_status vkq_load_vulkan(void);
/* Opens the loader (VKQ_VULKAN_LIBRARY overrides the file name) and fetches the global entry
 * points, choosing nothing. */
vkq_status vkq_open_vulkan(void);
void vkq_load_instance(VkInstance instance);
void vkq_load_device(VkDevice device);

/* Records a failed Vulkan call as the last error, with advice fitting the result code. */
vkq_status vkq_fail_vk(const char *call, VkResult result);
const char *vkq_vk_result_name(VkResult result);

#define VKQ_VK(call)                                   \
    do {                                               \
        VkResult vk_result_ = (call);                  \
        if (vk_result_ != VK_SUCCESS)                  \
            return vkq_fail_vk(#call, vk_result_);     \
    } while (0)

#endif
