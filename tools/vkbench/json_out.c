/* --json: every figure of the tables in one JSON object:
 * {"tool", "version", "command", "config", "devices": [...],
 *  "results": [...]}; each result names its device by id. Times are
 * milliseconds, memory bytes. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static json_t *stat_json(const bench_stat *s)
{
    return json_pack("{s:f, s:f, s:f}", "median", s->median, "min", s->min, "max", s->max);
}

static json_t *device_json(const bench_device *d)
{
    json_t *o = json_pack("{s:s, s:s, s:b}", "id", d->id, "spec", d->spec, "available", d->ok);
    if (!d->ok) {
        json_object_set_new(o, "reason", json_string(d->reason));
        return o;
    }
    const vkt_context_info *in = &d->info;
    json_object_set_new(o, "backend", json_string(in->backend));
    json_object_set_new(o, "name", json_string(d->label));
    json_object_set_new(o, "threads", json_integer(in->threads));
    json_object_set_new(o, "host_cpu", json_string(d->cpu_model));
    json_object_set_new(o, "launch_timing", json_boolean(in->launch_timing));
    if (!in->has_device) {
        json_object_set_new(o, "cpu_isa", json_string(in->cpu_isa));
        return o;
    }
    const vkt_device_info *v = &in->device;
    char api[32];
    snprintf(api, sizeof api, "%u.%u.%u", v->api_major, v->api_minor, v->api_patch);
    json_object_set_new(o, "vulkan", json_pack("{s:i, s:s, s:s, s:s, s:s, s:i, s:b, s:b, s:b, s:b, s:s}", "index",
                                               v->index, "device", v->name, "type", v->type, "driver", v->driver,
                                               "api", api, "subgroup_size", (int)v->subgroup_size,
                                               "subgroup_arithmetic", v->subgroup_arithmetic, "subgroup_reductions",
                                               v->subgroup_reductions, "storage_16bit", v->storage_16bit,
                                               "fp16_storage_in_use", in->fp16_storage, "disabled_features",
                                               v->disabled_features));
    return o;
}

static json_t *memory_json(const vkt_memory_report *m)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "weights", (json_int_t)m->params_bytes, "gradients",
                     (json_int_t)m->grads_bytes, "optimizer", (json_int_t)m->optimizer_bytes, "activations",
                     (json_int_t)m->activations_bytes, "io", (json_int_t)m->io_bytes, "total",
                     (json_int_t)m->total_bytes);
}

static json_t *ops_json(const bench_result *r)
{
    json_t *a = json_array();
    for (int i = 0; i < r->op_count; i++) {
        const bench_op *op = &r->ops[i];
        json_array_append_new(a, json_pack("{s:i, s:s, s:s, s:o, s:o, s:o, s:i}", "node", op->node, "op", op->op,
                                           "name", op->name, "forward_ms", stat_json(&op->forward), "backward_ms",
                                           stat_json(&op->backward), "optimizer_ms", stat_json(&op->optimizer),
                                           "launches", op->launches));
    }
    return a;
}

static json_t *result_json(const bench_result *r)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "device", r->device->id, "model", model_name(r->model), "policy",
                          r->policy, "status", r->ok ? "ok" : "skipped");
    if (!r->ok) {
        json_object_set_new(o, "reason", json_string(r->reason));
        return o;
    }
    json_object_set_new(o, "setup_ms", json_real(r->setup_ms));
    json_object_set_new(o, "step_ms", stat_json(&r->step));
    json_object_set_new(o, "samples_per_s", json_real(r->samples_per_s));
    if (r->phases_ok) {
        json_object_set_new(o, "forward_ms", stat_json(&r->forward));
        json_object_set_new(o, "backward_ms", stat_json(&r->backward));
        json_object_set_new(o, "optimizer_ms", stat_json(&r->optimizer));
        json_object_set_new(o, "launch_total_ms", stat_json(&r->launch_total));
        json_object_set_new(o, "launches", json_integer(r->launches));
    } else {
        json_object_set_new(o, "phases_unavailable", json_string(r->phases_reason));
    }
    json_object_set_new(o, "trainable_values", json_integer((json_int_t)r->trainable));
    json_object_set_new(o, "memory_bytes", memory_json(&r->memory));
    json_object_set_new(o, "peak_rss_bytes", json_integer((json_int_t)r->peak_rss));
    json_object_set_new(o, "peak_rss_scope", json_string(r->rss_per_run ? "run" : "process"));
    if (r->op_count)
        json_object_set_new(o, "ops", ops_json(r));
    return o;
}

static json_t *config_json(const bench_options *o)
{
    return json_pack("{s:i, s:i, s:i, s:i, s:s, s:I, s:b, s:b, s:b, s:i, s:i, s:b, s:s}", "batch", o->batch,
                     "repeats", o->repeats, "warmup", o->warmup, "mnv2_size", o->image_size, "optimizer",
                     o->optimizer == VKT_OPT_SGD ? "sgd (lr 0.01, momentum 0.9)" : "adamw (lr 0.001, wd 0.01)", "seed",
                     (json_int_t)o->seed, "fp16_activations", o->fp16, "recompute", o->recompute, "freeze_bn",
                     o->freeze_bn, "frozen_chunk", o->frozen_chunk, "micro_batch", o->micro_batch, "interleave",
                     o->interleave, "inputs", "synthetic");
}

bool bench_write_json(const char *path, int argc, char **argv, const bench_options *o, const bench_device *devices,
                      int device_count, const bench_result *results, int result_count)
{
    json_t *cmd = json_array();
    json_array_append_new(cmd, json_string("vkbench"));
    for (int i = 0; i < argc; i++)
        json_array_append_new(cmd, json_string(argv[i]));
    json_t *devs = json_array(), *res = json_array();
    for (int i = 0; i < device_count; i++)
        json_array_append_new(devs, device_json(&devices[i]));
    for (int i = 0; i < result_count; i++)
        json_array_append_new(res, result_json(&results[i]));
    json_t *root = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "tool", "vkbench", "version", vkt_version(), "command",
                             cmd, "config", config_json(o), "devices", devs, "results", res);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    bool ok = root && json_dump_file(root, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) == 0 && rename(tmp, path) == 0;
    if (!ok) {
        bench_error("cannot write %s", path);
        remove(tmp);
    }
    json_decref(root);
    return ok;
}
