/* Instance, device choice and logical device. Vulkan 1.1 is the floor so
 * older Android phones qualify. With validation on, every message of the
 * Khronos layer is counted (tests require zero). */
#include <stdio.h>
#include <string.h>
#include <vktrain/context.h>

#include "../rt_error.h"
#include "vk_backend.h"

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

vkt_status vk_check(VkResult r, const char *what)
{
    if (r == VK_SUCCESS)
        return VKT_OK;
    if (r == VK_ERROR_OUT_OF_HOST_MEMORY || r == VK_ERROR_OUT_OF_DEVICE_MEMORY)
        return rt_error(VKT_ERR_NO_MEMORY, "vulkan: %s: out of %s memory", what,
                        r == VK_ERROR_OUT_OF_HOST_MEMORY ? "host" : "device");
    if (r == VK_ERROR_DEVICE_LOST)
        return rt_error(VKT_ERR_DEVICE, "vulkan: %s: device lost", what);
    return rt_error(VKT_ERR_DEVICE, "vulkan: %s failed (VkResult %d)", what, (int)r);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                       VkDebugUtilsMessageTypeFlagsEXT types,
                                                       const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    (void)types;
    vk_backend *vb = user;
    if (severity < VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT)
        return VK_FALSE;
    if (vb->validation_messages++ == 0)
        snprintf(vb->first_validation_message, sizeof vb->first_validation_message, "%s",
                 data && data->pMessage ? data->pMessage : "(no text)");
    return VK_FALSE;
}

static bool layer_available(const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0 || n > 256)
        return false;
    VkLayerProperties props[256];
    if (vkEnumerateInstanceLayerProperties(&n, props) != VK_SUCCESS)
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(props[i].layerName, name) == 0)
            return true;
    return false;
}

static vkt_status create_instance(vk_backend *vb, bool validation)
{
    VkResult r = volkInitialize();
    if (r != VK_SUCCESS)
        return rt_error(VKT_ERR_UNSUPPORTED, "vulkan: no Vulkan loader found (install libvulkan1 and a driver)");
    uint32_t version = volkGetInstanceVersion();
    if (version < VK_API_VERSION_1_1)
        return rt_error(VKT_ERR_UNSUPPORTED, "vulkan: instance version %u.%u is below 1.1",
                        VK_API_VERSION_MAJOR(version), VK_API_VERSION_MINOR(version));
    if (validation && !layer_available(VALIDATION_LAYER))
        return rt_error(VKT_ERR_UNSUPPORTED, "vulkan: validation requested but %s is not installed "
                        "(package vulkan-validationlayers)", VALIDATION_LAYER);
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .pApplicationName = "vktrain",
                             .pEngineName = "vktrain", .apiVersion = VK_API_VERSION_1_1};
    const char *layers[] = {VALIDATION_LAYER};
    const char *extensions[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkDebugUtilsMessengerCreateInfoEXT dbg = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_debug_message,
        .pUserData = vb,
    };
    VkInstanceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = validation ? &dbg : NULL,
        .pApplicationInfo = &app,
        .enabledLayerCount = validation ? 1 : 0,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = validation ? 1 : 0,
        .ppEnabledExtensionNames = extensions,
    };
    vkt_status st = vk_check(vkCreateInstance(&ci, NULL, &vb->instance), "vkCreateInstance");
    if (st != VKT_OK)
        return st;
    /* Device-level functions stay loader trampolines (no volkLoadDevice):
     * they dispatch on the handle, so several backends, even on different
     * drivers, can live in one process with volk's global pointers. */
    volkLoadInstance(vb->instance);
    if (validation) {
        PFN_vkCreateDebugUtilsMessengerEXT create = (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
            vb->instance, "vkCreateDebugUtilsMessengerEXT");
        vb->destroy_messenger = (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
            vb->instance, "vkDestroyDebugUtilsMessengerEXT");
        st = create && vb->destroy_messenger
                 ? vk_check(create(vb->instance, &dbg, NULL, &vb->messenger), "vkCreateDebugUtilsMessengerEXT")
                 : rt_error(VKT_ERR_UNSUPPORTED, "vulkan: the debug utils extension is missing");
    }
    return st;
}

static int type_rank(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

/* The first compute queue family, and how many bits of its timestamps
 * are valid (0: it cannot write timestamps). */
static bool compute_family_bits(VkPhysicalDevice dev, uint32_t *family, uint32_t *timestamp_bits)
{
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(dev, &n, NULL);
    VkQueueFamilyProperties props[32];
    if (n > 32)
        n = 32;
    vkGetPhysicalDeviceQueueFamilyProperties(dev, &n, props);
    for (uint32_t i = 0; i < n; i++)
        if (props[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            *family = i;
            if (timestamp_bits)
                *timestamp_bits = props[i].timestampValidBits;
            return true;
        }
    return false;
}

static bool compute_family(VkPhysicalDevice dev, uint32_t *family)
{
    return compute_family_bits(dev, family, NULL);
}

static vkt_status pick_device(vk_backend *vb, int device_index)
{
    uint32_t n = 0;
    vkt_status st = vk_check(vkEnumeratePhysicalDevices(vb->instance, &n, NULL), "vkEnumeratePhysicalDevices");
    if (st != VKT_OK)
        return st;
    if (n == 0)
        return rt_error(VKT_ERR_UNSUPPORTED, "vulkan: no Vulkan device found");
    VkPhysicalDevice devs[16];
    if (n > 16)
        n = 16;
    st = vk_check(vkEnumeratePhysicalDevices(vb->instance, &n, devs), "vkEnumeratePhysicalDevices");
    if (st != VKT_OK && st != VKT_ERR_DEVICE)
        return st;
    if (device_index >= (int)n)
        return rt_error(VKT_ERR_NOT_FOUND, "vulkan: device %d requested, %u present", device_index, n);
    int best = -1, best_rank = -1;
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties props;
        uint32_t family;
        vkGetPhysicalDeviceProperties(devs[i], &props);
        bool usable = props.apiVersion >= VK_API_VERSION_1_1 && compute_family(devs[i], &family);
        if (device_index >= 0) {
            if ((int)i != device_index)
                continue;
            if (!usable)
                return rt_error(VKT_ERR_UNSUPPORTED, "vulkan: device %d (%s) lacks Vulkan 1.1 compute", device_index,
                                props.deviceName);
        }
        if (usable && type_rank(props.deviceType) > best_rank) {
            best = (int)i;
            best_rank = type_rank(props.deviceType);
        }
    }
    if (best < 0)
        return rt_error(VKT_ERR_UNSUPPORTED, "vulkan: no device with Vulkan 1.1 compute");
    vb->physical = devs[best];
    vb->device_index = best;
    compute_family_bits(vb->physical, &vb->queue_family, &vb->timestamp_bits);
    vkGetPhysicalDeviceProperties(vb->physical, &vb->props);
    vkGetPhysicalDeviceMemoryProperties(vb->physical, &vb->memory_props);
    for (uint32_t i = 0; i < vb->memory_props.memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = vb->memory_props.memoryTypes[i].propertyFlags;
        if ((f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) && (f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) &&
            (f & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT))
            vb->unified_memory = true;
    }
    return VKT_OK;
}

/* The driver id (Vulkan 1.2 or VK_KHR_driver_properties), 0 when the
 * device cannot say. */
static VkDriverId driver_id(VkPhysicalDevice dev, const VkPhysicalDeviceProperties *props)
{
    if (props->apiVersion < VK_API_VERSION_1_2)
        return (VkDriverId)0;
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &drv};
    vkGetPhysicalDeviceProperties2(dev, &p2);
    return drv.driverID;
}

/* Subgroup operations the reductions use (shaders/reduce.glsl). */
#define SUBGROUP_OPS_NEEDED                                                                              \
    (VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_VOTE_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT | \
     VK_SUBGROUP_FEATURE_SHUFFLE_BIT)

/* Whether compute shaders have every subgroup operation the reductions
 * use, on subgroups of at most 128 lanes (the Vulkan maximum). */
static bool subgroup_reductions_supported(const VkPhysicalDeviceSubgroupProperties *sub)
{
    return (sub->supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
           (sub->supportedOperations & SUBGROUP_OPS_NEEDED) == SUBGROUP_OPS_NEEDED && sub->subgroupSize >= 1 &&
           sub->subgroupSize <= 128;
}

/* The optional features (VK_FEATURE_*) a device offers, before quirks.
 * Both queries are Vulkan 1.1 core. */
static uint32_t detect_features(VkPhysicalDevice dev)
{
    VkPhysicalDeviceSubgroupProperties sub = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 props = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sub};
    vkGetPhysicalDeviceProperties2(dev, &props);
    VkPhysicalDevice16BitStorageFeatures f16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceFeatures2 feats = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f16};
    vkGetPhysicalDeviceFeatures2(dev, &feats);
    return (f16.storageBuffer16BitAccess ? VK_FEATURE_STORAGE16 : 0u) |
           (subgroup_reductions_supported(&sub) ? VK_FEATURE_SUBGROUP : 0u);
}

vkt_status vk_device_open(vk_backend *vb, int device_index, bool validation)
{
    vkt_status st = create_instance(vb, validation);
    if (st == VKT_OK)
        st = pick_device(vb, device_index);
    if (st != VKT_OK)
        return st;
    /* Optional features: detected, minus what a quirk turns off, enabled
     * (subgroup operations need no enabling: they are core 1.1). */
    uint32_t detected = detect_features(vb->physical);
    vb->features = detected & ~vk_quirks_disabled(&vb->props, driver_id(vb->physical, &vb->props), &vb->quirk);
    VkPhysicalDevice16BitStorageFeatures enable16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
                                                     .storageBuffer16BitAccess =
                                                         (vb->features & VK_FEATURE_STORAGE16) ? VK_TRUE : VK_FALSE};
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = vb->queue_family, .queueCount = 1,
                                   .pQueuePriorities = &priority};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .pNext = &enable16,
                              .queueCreateInfoCount = 1, .pQueueCreateInfos = &qci};
    st = vk_check(vkCreateDevice(vb->physical, &dci, NULL, &vb->device), "vkCreateDevice");
    if (st != VKT_OK)
        return st;
    vkGetDeviceQueue(vb->device, vb->queue_family, 0, &vb->queue);
    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                   .queueFamilyIndex = vb->queue_family};
    return vk_check(vkCreateCommandPool(vb->device, &pci, NULL, &vb->command_pool), "vkCreateCommandPool");
}

void vk_device_close(vk_backend *vb)
{
    if (vb->device) {
        vkDeviceWaitIdle(vb->device);
        if (vb->command_pool)
            vkDestroyCommandPool(vb->device, vb->command_pool, NULL);
        vkDestroyDevice(vb->device, NULL);
    }
    if (vb->messenger)
        vb->destroy_messenger(vb->instance, vb->messenger, NULL);
    if (vb->instance)
        vkDestroyInstance(vb->instance, NULL);
}

static const char *type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

static void describe(VkPhysicalDevice dev, int index, vkt_device_info *d)
{
    memset(d, 0, sizeof *d);
    VkPhysicalDeviceProperties base;
    vkGetPhysicalDeviceProperties(dev, &base);
    bool has_driver_props = base.apiVersion >= VK_API_VERSION_1_2; /* else chaining it is invalid */
    VkPhysicalDeviceSubgroupProperties sub = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES, .pNext = &sub};
    VkPhysicalDeviceProperties2 props = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                         .pNext = has_driver_props ? (void *)&drv : (void *)&sub};
    vkGetPhysicalDeviceProperties2(dev, &props);
    uint32_t detected = detect_features(dev);
    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(dev, &mem);
    const VkPhysicalDeviceLimits *lim = &props.properties.limits;
    d->index = index;
    snprintf(d->name, sizeof d->name, "%s", props.properties.deviceName);
    snprintf(d->type, sizeof d->type, "%s", type_name(props.properties.deviceType));
    if (has_driver_props)
        snprintf(d->driver, sizeof d->driver, "%.120s %.120s", drv.driverName, drv.driverInfo);
    else
        snprintf(d->driver, sizeof d->driver, "driver version 0x%08x", props.properties.driverVersion);
    d->api_major = VK_API_VERSION_MAJOR(props.properties.apiVersion);
    d->api_minor = VK_API_VERSION_MINOR(props.properties.apiVersion);
    d->api_patch = VK_API_VERSION_PATCH(props.properties.apiVersion);
    d->vendor_id = props.properties.vendorID;
    d->device_id = props.properties.deviceID;
    d->heap_count = (int)(mem.memoryHeapCount < 16 ? mem.memoryHeapCount : 16);
    for (int h = 0; h < d->heap_count; h++) {
        d->heap_bytes[h] = mem.memoryHeaps[h].size;
        d->heap_device_local[h] = (mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0;
    }
    d->subgroup_size = sub.subgroupSize;
    d->subgroup_arithmetic = (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                             (sub.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
    d->storage_16bit = (detected & VK_FEATURE_STORAGE16) != 0;
    const char *why = NULL;
    uint32_t off = vk_quirks_disabled(&props.properties, has_driver_props ? drv.driverID : (VkDriverId)0, &why);
    d->subgroup_reductions = (detected & ~off & VK_FEATURE_SUBGROUP) != 0;
    d->storage_16bit_used = (detected & ~off & VK_FEATURE_STORAGE16) != 0;
    if (off) {
        char names[64];
        vk_feature_names(off, names, sizeof names);
        snprintf(d->disabled_features, sizeof d->disabled_features, "%s (%s)", names, why ? why : "quirk");
    }
    for (int i = 0; i < 3; i++)
        d->max_workgroup_size[i] = lim->maxComputeWorkGroupSize[i];
    d->max_workgroup_invocations = lim->maxComputeWorkGroupInvocations;
    d->max_shared_memory_bytes = lim->maxComputeSharedMemorySize;
    d->max_storage_buffer_range = lim->maxStorageBufferRange;
    d->max_push_constants_bytes = lim->maxPushConstantsSize;
    d->max_memory_allocation_count = lim->maxMemoryAllocationCount;
}

vkt_status rt_vulkan_list_devices(vkt_device_info *out, int max, int *count)
{
    *count = 0;
    vk_backend vb;
    memset(&vb, 0, sizeof vb);
    vkt_status st = create_instance(&vb, false);
    uint32_t n = 0;
    VkPhysicalDevice devs[16];
    if (st == VKT_OK)
        st = vk_check(vkEnumeratePhysicalDevices(vb.instance, &n, NULL), "vkEnumeratePhysicalDevices");
    if (st == VKT_OK) {
        if (n > 16)
            n = 16;
        VkResult r = vkEnumeratePhysicalDevices(vb.instance, &n, devs);
        if (r != VK_SUCCESS && r != VK_INCOMPLETE)
            st = vk_check(r, "vkEnumeratePhysicalDevices");
    }
    for (uint32_t i = 0; st == VKT_OK && i < n; i++)
        if ((int)i < max)
            describe(devs[i], (int)i, &out[i]);
    if (st == VKT_OK)
        *count = (int)n;
    vk_device_close(&vb);
    return st;
}

void rt_vulkan_describe(const rt_backend *be, vkt_device_info *out)
{
    const vk_backend *vb = (const vk_backend *)be;
    describe(vb->physical, vb->device_index, out);
}

bool rt_vulkan_is_gpu(const rt_backend *be)
{
    return ((const vk_backend *)be)->props.deviceType != VK_PHYSICAL_DEVICE_TYPE_CPU;
}

bool rt_vulkan_has_gpu(void)
{
    vkt_device_info devs[16];
    int count = 0;
    if (rt_vulkan_list_devices(devs, 16, &count) != VKT_OK)
        return false;
    for (int i = 0; i < count && i < 16; i++)
        if (strcmp(devs[i].type, "cpu") != 0 && devs[i].api_major * 100 + devs[i].api_minor >= 101)
            return true;
    return false;
}
