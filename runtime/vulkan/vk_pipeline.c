/* One compute pipeline per kernel, created on first use and kept for the
 * backend's life; all share one descriptor set layout (8 argument
 * buffers + the argument table) and one push-constant range (rt_params). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../rt_error.h"
#include "vk_backend.h"

/* ---- pipeline cache file ----
 * $VKT_PIPELINE_CACHE_DIR (or $XDG_CACHE_HOME/vktrain, or
 * ~/.cache/vktrain)/pipelines-<pipelineCacheUUID>-<driver version>.bin.
 * The file is untrusted: its Vulkan header must name this device's vendor,
 * device and cache UUID, else it is ignored. Written atomically. */

#define CACHE_MAX_BYTES ((size_t)64 << 20)

static bool cache_path(const vk_backend *vb, char *path, size_t n)
{
    const char *dir = getenv("VKT_PIPELINE_CACHE_DIR");
    char base[512];
    if (dir && *dir)
        snprintf(base, sizeof base, "%s", dir);
    else if (getenv("XDG_CACHE_HOME") && *getenv("XDG_CACHE_HOME"))
        snprintf(base, sizeof base, "%s/vktrain", getenv("XDG_CACHE_HOME"));
    else if (getenv("HOME") && *getenv("HOME"))
        snprintf(base, sizeof base, "%s/.cache/vktrain", getenv("HOME"));
    else
        return false;
    char uuid[2 * VK_UUID_SIZE + 1];
    for (unsigned i = 0; i < VK_UUID_SIZE; i++)
        snprintf(uuid + 2 * i, 3, "%02x", vb->props.pipelineCacheUUID[i]);
    return (size_t)snprintf(path, n, "%s/pipelines-%s-%u.bin", base, uuid, vb->props.driverVersion) < n;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The header every Vulkan pipeline cache starts with (version one). */
static bool cache_header_matches(const vk_backend *vb, const unsigned char *data, size_t size)
{
    if (size < 16 + VK_UUID_SIZE)
        return false;
    uint32_t header_len = le32(data), version = le32(data + 4);
    return header_len >= 16 + VK_UUID_SIZE && header_len <= size && version == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
           le32(data + 8) == vb->props.vendorID && le32(data + 12) == vb->props.deviceID &&
           memcmp(data + 16, vb->props.pipelineCacheUUID, VK_UUID_SIZE) == 0;
}

/* Contents of a valid cache file for this device, or NULL. */
static unsigned char *read_cache(const vk_backend *vb, size_t *size)
{
    char path[700];
    if (!cache_path(vb, path, sizeof path))
        return NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *data = NULL;
    long len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (len > 0 && (size_t)len <= CACHE_MAX_BYTES && fseek(f, 0, SEEK_SET) == 0) {
        data = malloc((size_t)len);
        if (data && fread(data, 1, (size_t)len, f) == (size_t)len && cache_header_matches(vb, data, (size_t)len))
            *size = (size_t)len;
        else {
            free(data);
            data = NULL;
        }
    }
    fclose(f);
    return data;
}

static void mkdir_parents(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(path, 0700);
        *p = '/';
    }
}

/* Best effort: a cache that cannot be written only costs the next start. */
static void write_cache(vk_backend *vb)
{
    size_t size = 0;
    char path[700], tmp[720];
    if (!vb->pipeline_cache || !vb->pipelines_created || !cache_path(vb, path, sizeof path))
        return;
    if (vkGetPipelineCacheData(vb->device, vb->pipeline_cache, &size, NULL) != VK_SUCCESS || size == 0 ||
        size > CACHE_MAX_BYTES)
        return;
    unsigned char *data = malloc(size);
    if (!data || vkGetPipelineCacheData(vb->device, vb->pipeline_cache, &size, data) != VK_SUCCESS) {
        free(data);
        return;
    }
    mkdir_parents(path);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    bool ok = f && fwrite(data, 1, size, f) == size;
    if (f)
        ok = (fflush(f) == 0) & (fsync(fileno(f)) == 0) & (fclose(f) == 0) && ok;
    if (!(ok && rename(tmp, path) == 0))
        unlink(tmp);
    free(data);
}

vkt_status vk_pipelines_init(vk_backend *vb)
{
    VkDescriptorSetLayoutBinding bindings[VK_BINDINGS];
    for (uint32_t i = 0; i < VK_BINDINGS; i++)
        bindings[i] = (VkDescriptorSetLayoutBinding){i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1,
                                                     VK_SHADER_STAGE_COMPUTE_BIT, NULL};
    VkDescriptorSetLayoutCreateInfo lci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                           .bindingCount = VK_BINDINGS, .pBindings = bindings};
    vkt_status st = vk_check(vkCreateDescriptorSetLayout(vb->device, &lci, NULL, &vb->set_layout),
                             "vkCreateDescriptorSetLayout");
    if (st != VKT_OK)
        return st;
    VkPushConstantRange range = {VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(rt_params)};
    VkPipelineLayoutCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, .setLayoutCount = 1,
                                      .pSetLayouts = &vb->set_layout, .pushConstantRangeCount = 1,
                                      .pPushConstantRanges = &range};
    st = vk_check(vkCreatePipelineLayout(vb->device, &pci, NULL, &vb->pipeline_layout), "vkCreatePipelineLayout");
    if (st != VKT_OK)
        return st;
    size_t initial_size = 0;
    unsigned char *initial = read_cache(vb, &initial_size);
    VkPipelineCacheCreateInfo cci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                                     .initialDataSize = initial_size, .pInitialData = initial};
    VkResult r = vkCreatePipelineCache(vb->device, &cci, NULL, &vb->pipeline_cache);
    if (r != VK_SUCCESS && initial) { /* a driver may still refuse it: start empty */
        cci.initialDataSize = 0;
        cci.pInitialData = NULL;
        r = vkCreatePipelineCache(vb->device, &cci, NULL, &vb->pipeline_cache);
    }
    vb->pipeline_cache_loaded = initial != NULL && r == VK_SUCCESS;
    free(initial);
    return vk_check(r, "vkCreatePipelineCache");
}

vkt_status vk_pipeline_get(vk_backend *vb, rt_kernel k, VkPipeline *out)
{
    if (vb->pipelines[k]) {
        *out = vb->pipelines[k];
        return VKT_OK;
    }
    const vk_kernel_info *info = vk_kernel_get(k);
    if (!info || !info->portable.code)
        return rt_error(VKT_ERR_UNSUPPORTED, "vulkan: kernel %s has no shader yet", rt_kernel_name(k));
    uint32_t local = vb->local_override[k] ? vb->local_override[k] : info->local_size;
    if (local > vb->props.limits.maxComputeWorkGroupSize[0] || local > vb->props.limits.maxComputeWorkGroupInvocations)
        local = vb->props.limits.maxComputeWorkGroupInvocations < vb->props.limits.maxComputeWorkGroupSize[0]
                    ? vb->props.limits.maxComputeWorkGroupInvocations
                    : vb->props.limits.maxComputeWorkGroupSize[0];
    const vk_spirv *code = vk_kernel_spirv(info, vb->features);
    VkShaderModuleCreateInfo mci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                    .codeSize = code->bytes, .pCode = code->code};
    VkShaderModule module;
    vkt_status st = vk_check(vkCreateShaderModule(vb->device, &mci, NULL, &module), "vkCreateShaderModule");
    if (st != VKT_OK)
        return st;
    VkSpecializationMapEntry entry = {0, 0, sizeof(uint32_t)};
    VkSpecializationInfo spec = {1, &entry, sizeof local, &local};
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = module, .pName = "main", .pSpecializationInfo = &spec},
        .layout = vb->pipeline_layout,
    };
    st = vk_check(vkCreateComputePipelines(vb->device, vb->pipeline_cache, 1, &ci, NULL, &vb->pipelines[k]),
                  "vkCreateComputePipelines");
    vkDestroyShaderModule(vb->device, module, NULL);
    if (st == VKT_OK) {
        vb->pipelines_created++;
        vb->local_size[k] = local;
        *out = vb->pipelines[k];
    }
    return st;
}

void vk_pipelines_destroy(vk_backend *vb)
{
    write_cache(vb);
    for (int k = 0; k < RT_K_COUNT; k++)
        if (vb->pipelines[k])
            vkDestroyPipeline(vb->device, vb->pipelines[k], NULL);
    if (vb->pipeline_cache)
        vkDestroyPipelineCache(vb->device, vb->pipeline_cache, NULL);
    if (vb->pipeline_layout)
        vkDestroyPipelineLayout(vb->device, vb->pipeline_layout, NULL);
    if (vb->set_layout)
        vkDestroyDescriptorSetLayout(vb->device, vb->set_layout, NULL);
}
