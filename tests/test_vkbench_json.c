/* vkbench end to end on a tiny configuration: its --json output parses
 * and holds every requested model and policy with consistent figures;
 * a policy that cannot run is reported as skipped with a reason; bad
 * options fail with status 1. The executable's path is argv[1]. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "test_util.h"

static const char *vkbench;

static int run_vkbench(const char *args, const char *json_path)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' %s%s%s >/dev/null 2>&1", vkbench, args, json_path ? " --json " : "",
             json_path ? json_path : "");
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static double number(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("'%s' is missing or not a number", key);
    return json_number_value(v);
}

static void check_stat(json_t *result, const char *key)
{
    json_t *s = json_object_get(result, key);
    assert_true(json_is_object(s));
    double med = number(s, "median"), lo = number(s, "min"), hi = number(s, "max");
    assert_true(lo >= 0 && lo <= med && med <= hi);
}

static void check_ok_result(json_t *r)
{
    check_stat(r, "step_ms");
    check_stat(r, "forward_ms");
    check_stat(r, "backward_ms");
    check_stat(r, "optimizer_ms");
    assert_true(number(json_object_get(r, "step_ms"), "median") > 0);
    assert_true(number(r, "samples_per_s") > 0);
    assert_true(number(r, "launches") > 0);
    assert_true(number(r, "peak_rss_bytes") > 0);
    json_t *m = json_object_get(r, "memory_bytes");
    double sum = number(m, "weights") + number(m, "gradients") + number(m, "optimizer") + number(m, "activations") +
                 number(m, "io");
    assert_true(sum == number(m, "total") && sum > 0);
    json_t *ops = json_object_get(r, "ops");
    assert_true(json_is_array(ops) && json_array_size(ops) > 0);
    json_t *op = json_array_get(ops, 0);
    assert_true(json_is_string(json_object_get(op, "op")));
    check_stat(op, "forward_ms");
}

static void test_json_output(void **state)
{
    (void)state;
    char *path = tu_temp_path("bench.json");
    const char *policies[] = {"full", "bias", "last:1", "lora:4", "nonsense"};
    assert_int_equal(run_vkbench("--model mlp --device cpu --threads 1 --repeats 2 --warmup 1 --per-op "
                                 "--policy full,bias,last:1,lora:4,nonsense",
                                 path),
                     0);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root)
        fail_msg("%s: %s (line %d)", path, err.text, err.line);
    assert_string_equal(json_string_value(json_object_get(root, "tool")), "vkbench");
    assert_int_equal(number(json_object_get(root, "config"), "repeats"), 2);
    json_t *cmd = json_object_get(root, "command");
    assert_string_equal(json_string_value(json_array_get(cmd, json_array_size(cmd) - 3)),
                        "full,bias,last:1,lora:4,nonsense");

    json_t *devs = json_object_get(root, "devices");
    assert_int_equal(json_array_size(devs), 1);
    json_t *dev = json_array_get(devs, 0);
    assert_string_equal(json_string_value(json_object_get(dev, "backend")), "cpu");
    assert_int_equal(number(dev, "threads"), 1);
    const char *dev_id = json_string_value(json_object_get(dev, "id"));

    json_t *results = json_object_get(root, "results");
    assert_int_equal(json_array_size(results), 5);
    double trained[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < 5; i++) {
        json_t *r = json_array_get(results, i);
        assert_string_equal(json_string_value(json_object_get(r, "model")), "mlp");
        assert_string_equal(json_string_value(json_object_get(r, "policy")), policies[i]);
        assert_string_equal(json_string_value(json_object_get(r, "device")), dev_id);
        const char *status = json_string_value(json_object_get(r, "status"));
        if (i < 4) {
            assert_string_equal(status, "ok");
            check_ok_result(r);
            trained[i] = number(r, "trainable_values");
        } else { /* not a policy */
            assert_string_equal(status, "skipped");
            const char *why = json_string_value(json_object_get(r, "reason"));
            assert_non_null(why);
            assert_non_null(strstr(why, "nonsense"));
        }
    }
    /* mlp: 235146 values; biases 394; the last layer 1290; rank-4
     * adapters on its three linears 4 * (784 + 256 + 256 + 128 + 128 + 10). */
    assert_true(trained[0] == 235146 && trained[1] == 394 && trained[2] == 1290 && trained[3] == 4 * 1562);
    json_decref(root);
    remove(path);
    free(path);
}

/* --interleave: the same results in the same order, every run alive at
 * once (so the peak RSS is the process's); a skipped policy in between
 * does not disturb the others. */
static void test_interleave(void **state)
{
    (void)state;
    char *path = tu_temp_path("interleave.json");
    assert_int_equal(run_vkbench("--model mlp --device cpu --threads 1 --repeats 2 --warmup 0 --interleave "
                                 "--policy last:1,last:0,bias",
                                 path),
                     0);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root)
        fail_msg("%s: %s (line %d)", path, err.text, err.line);
    assert_true(json_is_true(json_object_get(json_object_get(root, "config"), "interleave")));
    json_t *results = json_object_get(root, "results");
    assert_int_equal(json_array_size(results), 3);
    const char *policies[] = {"last:1", "last:0", "bias"};
    for (size_t i = 0; i < 3; i++) {
        json_t *r = json_array_get(results, i);
        assert_string_equal(json_string_value(json_object_get(r, "policy")), policies[i]);
        assert_string_equal(json_string_value(json_object_get(r, "status")), i == 1 ? "skipped" : "ok");
        if (i != 1) {
            check_stat(r, "step_ms");
            assert_string_equal(json_string_value(json_object_get(r, "peak_rss_scope")), "process");
        }
    }
    json_decref(root);
    remove(path);
    free(path);
}

/* The transformer under every kind of trainable policy (attention has
 * no parameters of its own: the policies act on the linears around it). */
static void test_transformer_policies(void **state)
{
    (void)state;
    char *path = tu_temp_path("transformer.json");
    assert_int_equal(run_vkbench("--model transformer --device cpu --threads 1 --repeats 1 --warmup 0 --batch 8 "
                                 "--per-op --policy full,bias,last:1,lora:4,channels:0.25",
                                 path),
                     0);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!root)
        fail_msg("%s: %s (line %d)", path, err.text, err.line);
    json_t *results = json_object_get(root, "results");
    assert_int_equal(json_array_size(results), 5);
    for (size_t i = 0; i < 5; i++) {
        json_t *r = json_array_get(results, i);
        assert_string_equal(json_string_value(json_object_get(r, "model")), "transformer");
        assert_string_equal(json_string_value(json_object_get(r, "status")), "ok");
        check_ok_result(r);
    }
    json_decref(root);
    remove(path);
    free(path);
}

static void test_bad_options(void **state)
{
    (void)state;
    assert_int_equal(run_vkbench("--model resnet", NULL), 1);
    assert_int_equal(run_vkbench("--repeats 0", NULL), 1);
    assert_int_equal(run_vkbench("--size 48", NULL), 1);
    assert_int_equal(run_vkbench("--device tpu", NULL), 1);
    assert_int_equal(run_vkbench("--help", NULL), 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_vkbench_json PATH_TO_VKBENCH\n");
        return 1;
    }
    vkbench = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_output),
        cmocka_unit_test(test_interleave),
        cmocka_unit_test(test_transformer_policies),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
