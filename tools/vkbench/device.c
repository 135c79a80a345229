/* Opening the devices to benchmark and describing them. */
#include <stdio.h>
#include <string.h>

#include "bench.h"

void bench_cpu_model(char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        const char *v = strchr(line, ':');
        if (!v)
            break;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        snprintf(buf, size, "%s", v);
        buf[strcspn(buf, "\n")] = '\0';
        break;
    }
    fclose(f);
}

void bench_device_open(bench_device *d, const char *spec, int threads)
{
    memset(d, 0, sizeof *d);
    snprintf(d->spec, sizeof d->spec, "%s", spec);
    d->threads_asked = threads;
    vkt_context_options co = {spec, threads};
    vkt_status st = vkt_context_create(&co, &d->ctx);
    if (st == VKT_OK)
        st = vkt_context_get_info(d->ctx, &d->info);
    if (st != VKT_OK) {
        snprintf(d->reason, sizeof d->reason, "%s", vkt_last_error());
        snprintf(d->id, sizeof d->id, "%s", spec);
        vkt_context_destroy(d->ctx);
        d->ctx = NULL;
        return;
    }
    d->ok = true;
    snprintf(d->label, sizeof d->label, "%s", vkt_context_device_name(d->ctx));
    if (strcmp(d->info.backend, "cpu") == 0)
        snprintf(d->id, sizeof d->id, "cpu:%dt", d->info.threads);
    else
        snprintf(d->id, sizeof d->id, "vulkan:%d", d->info.device.index);
    bench_cpu_model(d->cpu_model, sizeof d->cpu_model);
}

void bench_device_close(bench_device *d)
{
    vkt_context_destroy(d->ctx);
    d->ctx = NULL;
}
