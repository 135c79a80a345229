/* vktrain eval: test accuracy and loss of saved weights, and the
 * test-set pass the train command also runs after every epoch. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>

vkt_status cli_evaluate(vkt_trainer *trainer, vkt_loader *loader, float *x, int32_t *labels,
                        vkt_metrics *out)
{
    vkt_status status = vkt_loader_seek(loader, 0, 0);
    const void *const inputs[2] = { x, labels };
    while (status == VKT_OK) {
        int count = 0;
        status = vkt_loader_next(loader, x, labels, &count);
        if (status != VKT_OK || count == 0)
            break;
        status = vkt_trainer_eval_batch(trainer, inputs, count);
    }
    if (status == VKT_OK)
        status = vkt_trainer_read_eval_metrics(trainer, out);
    return status;
}

typedef struct eval_run {
    vkt_dataset *test_set;
    vkt_graph *graph;
    vkt_context *context;
    vkt_trainer *trainer;
    vkt_loader *loader;
    float *x;
    int32_t *labels;
} eval_run;

/* The headers do not promise that destroy(NULL) is a no-op, so only
 * what was created is destroyed. */
static void eval_run_free(eval_run *r)
{
    free(r->labels);
    free(r->x);
    if (r->loader)
        vkt_loader_destroy(r->loader);
    if (r->trainer)
        vkt_trainer_destroy(r->trainer);
    if (r->context)
        vkt_context_destroy(r->context);
    if (r->graph)
        vkt_graph_destroy(r->graph);
    if (r->test_set)
        vkt_dataset_destroy(r->test_set);
}

static int evaluate_weights(const cli_options *o, eval_run *r)
{
    cli_data_files files;
    if (!cli_find_data_files(o->data_dir, false, &files) ||
        !cli_load_dataset(files.test_images, files.test_labels, &r->test_set) ||
        (o->classes && !cli_restrict_classes(o->classes, &r->test_set)))
        return 1;

    vkt_tensor loss;
    if (!cli_build_model(o->model, o->seed, 0.0f, &r->graph, &loss))
        return 1;
    vkt_status status = vkt_graph_load_safetensors(r->graph, o->init_path, false);
    if (status != VKT_OK)
        return cli_api_error(status, "cannot load weights from %s", o->init_path);

    const vkt_context_options context_options = { .device = o->device, .threads = o->threads };
    status = vkt_context_create(&context_options, &r->context);
    if (status != VKT_OK)
        return cli_api_error(status, "cannot open the device");

    /* Evaluation only: an empty trainable set allocates no gradients and
     * no optimizer state (the optimizer never steps). */
    static const vkt_trainable_set nothing = {.policy = VKT_TRAIN_NAMED};
    const vkt_trainer_options trainer_options = {
        .trainable = &nothing,
        .optimizer = { .kind = VKT_OPT_SGD, .lr = 0.01f },
        .batch_size = o->batch,
        .seed = o->seed,
    };
    status = vkt_trainer_create(r->context, r->graph, loss, &trainer_options, &r->trainer);
    if (status != VKT_OK)
        return cli_api_error(status, "cannot compile the model");

    status = vkt_loader_create(r->test_set, o->batch, false, 0, &r->loader);
    if (status != VKT_OK)
        return cli_api_error(status, "cannot create the test loader");
    r->x = malloc((size_t)o->batch * vkt_dataset_sample_numel(r->test_set) * sizeof *r->x);
    r->labels = malloc((size_t)o->batch * sizeof *r->labels);
    if (!r->x || !r->labels) {
        cli_error("out of memory for a batch of %d", o->batch);
        return 1;
    }

    double started = cli_now_seconds();
    vkt_metrics metrics;
    status = cli_evaluate(r->trainer, r->loader, r->x, r->labels, &metrics);
    if (status != VKT_OK)
        return cli_api_error(status, "evaluation failed");
    double seconds = cli_now_seconds() - started;

    printf("%s on %s: test_acc %.2f%%  test_loss %.4f  (%lld samples, %.2fs, %s)\n",
           cli_model_name(o->model), o->init_path, 100.0 * metrics.accuracy, metrics.loss_mean,
           (long long)metrics.samples, seconds, vkt_context_device_name(r->context));
    return 0;
}

int cli_eval_command(int argc, char **argv)
{
    cli_options options;
    switch (cli_parse_options(CLI_EVAL, argc, argv, &options)) {
    case CLI_PARSE_HELP: return 0;
    case CLI_PARSE_ERROR: return 1;
    case CLI_PARSE_OK: break;
    }

    eval_run run = { 0 };
    int exit_status = evaluate_weights(&options, &run);
    eval_run_free(&run);
    return exit_status;
}
