/* One compute pipeline per kernel, created on first use and kept for the
 * backend's life; all share one descriptor set layout (8 argument
 * buffers + the argument table) and one push-constant range (rt_params). */
#include "../rt_error.h"
#include "vk_backend.h"

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
    VkPipelineCacheCreateInfo cci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    return vk_check(vkCreatePipelineCache(vb->device, &cci, NULL, &vb->pipeline_cache), "vkCreatePipelineCache");
}

vkt_status vk_pipeline_get(vk_backend *vb, rt_kernel k, VkPipeline *out)
{
    if (vb->pipelines[k]) {
        *out = vb->pipelines[k];
        return VKT_OK;
    }
    const vk_kernel_info *info = vk_kernel_get(k);
    if (!info || !info->spirv)
        return rt_error(VKT_ERR_UNSUPPORTED, "vulkan: kernel %s has no shader yet", rt_kernel_name(k));
    uint32_t local = info->local_size;
    if (local > vb->props.limits.maxComputeWorkGroupSize[0] || local > vb->props.limits.maxComputeWorkGroupInvocations)
        local = vb->props.limits.maxComputeWorkGroupInvocations < vb->props.limits.maxComputeWorkGroupSize[0]
                    ? vb->props.limits.maxComputeWorkGroupInvocations
                    : vb->props.limits.maxComputeWorkGroupSize[0];
    VkShaderModuleCreateInfo mci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                    .codeSize = info->spirv_bytes, .pCode = info->spirv};
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
        vb->local_size[k] = local;
        *out = vb->pipelines[k];
    }
    return st;
}

void vk_pipelines_destroy(vk_backend *vb)
{
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
