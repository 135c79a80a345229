/* vktrain devices: every Vulkan device with what matters for training
 * (type, driver, memory heaps, subgroups and whether the reductions use
 * them, 16-bit storage, limits). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void print_device(const vkt_device_info *d)
{
    printf("vulkan:%d  %s\n", d->index, d->name);
    printf("  type            %s\n", d->type);
    printf("  driver          %s\n", d->driver);
    printf("  api             %u.%u.%u (vendor 0x%04x, device 0x%04x)\n", d->api_major, d->api_minor, d->api_patch,
           d->vendor_id, d->device_id);
    for (int h = 0; h < d->heap_count; h++)
        printf("  heap %d          %.1f MiB%s\n", h, (double)d->heap_bytes[h] / (1 << 20),
               d->heap_device_local[h] ? " (device local)" : "");
    printf("  subgroup        %u lanes, arithmetic %s, reductions %s\n", d->subgroup_size,
           d->subgroup_arithmetic ? "yes" : "no",
           d->subgroup_reductions ? "use subgroup operations" : "use the portable shared-memory tree");
    printf("  16-bit storage  %s\n", d->storage_16bit_used ? "yes (fp16 activations stored natively)"
                                  : d->storage_16bit    ? "supported, turned off (packed fallback)"
                                                        : "no (packed fallback)");
    if (d->disabled_features[0])
        printf("  turned off      %s\n", d->disabled_features);
    printf("  workgroup       max %u x %u x %u, %u invocations\n", d->max_workgroup_size[0],
           d->max_workgroup_size[1], d->max_workgroup_size[2], d->max_workgroup_invocations);
    printf("  shared memory   %u bytes\n", d->max_shared_memory_bytes);
    printf("  storage buffer  %u bytes max range\n", d->max_storage_buffer_range);
    printf("  push constants  %u bytes\n", d->max_push_constants_bytes);
    printf("  allocations     %u max\n", d->max_memory_allocation_count);
}

int cli_devices_command(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: vktrain devices\n\nList the Vulkan devices and their capabilities. "
                   "'--device auto' picks the first GPU\n(discrete > integrated > virtual) and "
                   "otherwise the CPU backend.\n");
            return 0;
        }
        cli_error("unknown option '%s' for devices", argv[i]);
        return 1;
    }
    vkt_device_info devs[16];
    int count = 0;
    vkt_status st = vkt_list_devices(devs, 16, &count);
    printf("cpu     the native CPU backend (always available)\n");
    if (st != VKT_OK) {
        printf("no Vulkan devices: %s\n", vkt_last_error());
        return 0;
    }
    for (int i = 0; i < count && i < 16; i++)
        print_device(&devs[i]);
    return 0;
}
