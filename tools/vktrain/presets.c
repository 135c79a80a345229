/* The presets: Fashion-MNIST and the two networks trained on it.
 *
 * Layers carry the indices PyTorch's nn.Sequential gives them ("0", "2",
 * ...), so a state_dict of the equivalent torch model loads with --init
 * and weights saved here load into torch unchanged. Both networks take
 * the same inputs, and the dataset is checked against them up front so a
 * wrong --data gives a clear message rather than a shape error. */
#include "cli.h"

#include <stdio.h>
#include <unistd.h>

#define IMAGE_CHANNELS 1
#define IMAGE_SIDE 28
#define NUM_CLASSES 10

/* "<dir>/<base>.gz", else "<dir>/<base>" (the loader reads either). */
static bool find_file(const char *dir, const char *base, char *path, size_t size)
{
    static const char *const suffixes[] = { ".gz", "" };
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        int n = snprintf(path, size, "%s/%s%s", dir, base, suffixes[i]);
        if (n > 0 && (size_t)n < size && access(path, R_OK) == 0)
            return true;
    }
    return false;
}

bool cli_find_data_files(const char *dir, bool need_train, cli_data_files *out)
{
    bool found = find_file(dir, "t10k-images-idx3-ubyte", out->test_images, sizeof out->test_images) &&
                 find_file(dir, "t10k-labels-idx1-ubyte", out->test_labels, sizeof out->test_labels);
    if (found && need_train) {
        found = find_file(dir, "train-images-idx3-ubyte", out->train_images, sizeof out->train_images) &&
                find_file(dir, "train-labels-idx1-ubyte", out->train_labels, sizeof out->train_labels);
    }
    if (!found) {
        cli_error("Fashion-MNIST not found in %s "
                  "(install the dataset-fashion-mnist package or pass --data DIR)", dir);
    }
    return found;
}

bool cli_load_dataset(const char *images, const char *labels, vkt_dataset **out)
{
    vkt_dataset *ds = NULL;
    vkt_status status = vkt_dataset_load_idx(images, labels, &ds);
    if (status != VKT_OK) {
        cli_api_error(status, "cannot load %s (labels %s)", images, labels);
        return false;
    }

    int dims[4] = { 0 };
    int rank = vkt_dataset_sample_shape(ds, dims);
    if (rank != 3 || dims[0] != IMAGE_CHANNELS || dims[1] != IMAGE_SIDE || dims[2] != IMAGE_SIDE) {
        cli_error("%s does not hold 28x28 grayscale images, which the presets expect", images);
        vkt_dataset_destroy(ds);
        return false;
    }
    if (vkt_dataset_num_classes(ds) > NUM_CLASSES) {
        cli_error("%s has labels above %d; the presets have %d classes", labels, NUM_CLASSES - 1,
                  NUM_CLASSES);
        vkt_dataset_destroy(ds);
        return false;
    }
    *out = ds;
    return true;
}

/* nn.Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10)) */
static vkt_tensor build_mlp(vkt_graph *g, vkt_tensor x)
{
    vkt_tensor h = vkt_flatten(g, x);
    h = vkt_relu(g, vkt_linear(g, h, 256, true, "0"));
    h = vkt_relu(g, vkt_linear(g, h, 128, true, "2"));
    return vkt_linear(g, h, NUM_CLASSES, true, "4");
}

/* nn.Sequential(Conv2d(1, 16, 3, padding=1), ReLU(), MaxPool2d(2),
 *               Conv2d(16, 32, 3, padding=1), ReLU(), MaxPool2d(2),
 *               Flatten(), Linear(1568, 10)) */
static vkt_tensor build_cnn(vkt_graph *g, vkt_tensor x)
{
    const vkt_pool2d_params pool = { .kernel_h = 2, .kernel_w = 2 };
    vkt_conv2d_params conv = { .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .bias = true };

    conv.out_channels = 16;
    vkt_tensor h = vkt_max_pool2d(g, vkt_relu(g, vkt_conv2d(g, x, &conv, "0")), &pool);
    conv.out_channels = 32;
    h = vkt_max_pool2d(g, vkt_relu(g, vkt_conv2d(g, h, &conv, "3")), &pool);
    return vkt_linear(g, vkt_flatten(g, h), NUM_CLASSES, true, "7");
}

bool cli_build_model(cli_model model, uint64_t seed, float label_smoothing,
                     vkt_graph **graph_out, vkt_tensor *loss_out)
{
    vkt_graph *g = NULL;
    vkt_status status = vkt_graph_create(seed, &g);
    if (status != VKT_OK) {
        cli_api_error(status, "cannot create the graph");
        return false;
    }

    const int image_dims[3] = { IMAGE_CHANNELS, IMAGE_SIDE, IMAGE_SIDE };
    vkt_tensor x = vkt_input(g, "x", VKT_F32, 3, image_dims);
    vkt_tensor y = vkt_input(g, "y", VKT_I32, 0, NULL);
    vkt_tensor logits = model == CLI_MODEL_CNN ? build_cnn(g, x) : build_mlp(g, x);
    vkt_tensor loss = vkt_softmax_cross_entropy(g, logits, y, label_smoothing);

    status = vkt_graph_status(g);
    if (status != VKT_OK) {
        cli_api_error(status, "cannot build the %s model", cli_model_name(model));
        vkt_graph_destroy(g);
        return false;
    }
    *graph_out = g;
    *loss_out = loss;
    return true;
}
