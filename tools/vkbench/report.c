/* The readable output: a banner per device, one table row per model and
 * policy, and optionally a per-node table. */
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define MIB (1024.0 * 1024.0)

void bench_print_banner(const bench_device *d, const bench_options *o)
{
    (void)o;
    if (!d->ok) {
        printf("\n== %s: not available: %s\n", d->spec, d->reason);
        return;
    }
    const vkt_context_info *in = &d->info;
    printf("\n== %s  %s\n", d->id, d->label);
    if (!in->has_device) {
        printf("   host %s | %d threads | GEMM %s | launch timing %s\n", d->cpu_model[0] ? d->cpu_model : "(unknown CPU)",
               in->threads, in->cpu_isa, in->launch_timing ? "yes" : "no");
        return;
    }
    const vkt_device_info *v = &in->device;
    printf("   type %s | driver %s | Vulkan %u.%u.%u\n", v->type, v->driver, v->api_major, v->api_minor, v->api_patch);
    printf("   subgroup %u (arithmetic %s, used by reductions %s) | fp16 storage %s | launch timing %s",
           v->subgroup_size, v->subgroup_arithmetic ? "yes" : "no", v->subgroup_reductions ? "yes" : "no",
           in->fp16_storage ? "in use" : (v->storage_16bit ? "supported, off" : "no"), in->launch_timing ? "yes" : "no");
    if (strcmp(v->type, "cpu") == 0 && d->cpu_model[0])
        printf(" | host %s", d->cpu_model);
    printf("\n");
}

void bench_print_header(void)
{
    printf("%-11s %-9s %9s %17s %8s %8s %8s %9s %9s %8s %7s %7s %8s %6s %8s %8s\n", "model", "policy", "step ms",
           "[min .. max]", "fwd ms", "bwd ms", "opt ms", "samples/s", "trained", "weights", "grads", "optim",
           "activ", "io", "total", "peak RSS");
    printf("%-11s %-9s %9s %17s %8s %8s %8s %9s %9s %8s %7s %7s %8s %6s %8s %8s\n", "", "", "(median)", "", "", "", "",
           "", "values", "MiB", "MiB", "MiB", "MiB", "MiB", "MiB", "MiB");
}

static void phase(const bench_result *r, const bench_stat *s, char *buf, size_t size)
{
    if (r->phases_ok)
        snprintf(buf, size, "%.2f", s->median);
    else
        snprintf(buf, size, "n/a");
}

void bench_print_result(const bench_result *r)
{
    if (!r->ok) {
        printf("%-11s %-9s skipped: %s\n", model_name(r->model), r->policy, r->reason);
        return;
    }
    char range[40], f[16], b[16], o[16];
    snprintf(range, sizeof range, "[%.2f .. %.2f]", r->step.min, r->step.max);
    phase(r, &r->forward, f, sizeof f);
    phase(r, &r->backward, b, sizeof b);
    phase(r, &r->optimizer, o, sizeof o);
    const vkt_memory_report *m = &r->memory;
    printf("%-11s %-9s %9.2f %17s %8s %8s %8s %9.0f %9zu %8.2f %7.2f %7.2f %8.2f %6.2f %8.2f %8.1f\n",
           model_name(r->model), r->policy, r->step.median, range, f, b, o, r->samples_per_s, r->trainable,
           m->params_bytes / MIB, m->grads_bytes / MIB, m->optimizer_bytes / MIB, m->activations_bytes / MIB,
           m->io_bytes / MIB, m->total_bytes / MIB, r->peak_rss / MIB);
    if (!r->phases_ok && r->phases_reason[0])
        printf("            (no per-launch timing: %s)\n", r->phases_reason);
}

void bench_print_ops(const bench_result *r)
{
    if (!r->ok || !r->phases_ok || r->op_count == 0)
        return;
    printf("\n   per node: %s, %s on %s (median ms of the profiled steps; %% of all launch time %.2f ms)\n",
           model_name(r->model), r->policy, r->device->id, r->launch_total.median);
    printf("   %5s  %-21s %-24s %9s %9s %9s %9s %6s\n", "node", "op", "name", "fwd", "bwd", "opt", "launches", "%");
    for (int i = 0; i < r->op_count; i++) {
        const bench_op *op = &r->ops[i];
        double sum = op->forward.median + op->backward.median + op->optimizer.median;
        double share = r->launch_total.median > 0 ? 100.0 * sum / r->launch_total.median : 0;
        printf("   %5d  %-21s %-24s %9.3f %9.3f %9.3f %9d %5.1f%%\n", op->node, op->op, op->name[0] ? op->name : "-",
               op->forward.median, op->backward.median, op->optimizer.median, op->launches, share);
    }
    printf("\n");
}
