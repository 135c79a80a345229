"""Make tests/data/torch_mlp*.safetensors with PyTorch (run by hand; the
files are committed). A small nn.Sequential with batch norm, its
state_dict after a few training-mode passes (so running statistics and
num_batches_tracked are non-trivial), and an input/target pair with the
eval-mode MSE loss PyTorch computes for them."""
import torch
from safetensors.torch import save_file

torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
model.train()
for _ in range(3):
    model(torch.randn(8, 4))
model.eval()
x = torch.randn(6, 4)
t = torch.randn(6, 3)
with torch.no_grad():
    loss = torch.nn.functional.mse_loss(model(x), t)
save_file({k: v.contiguous() for k, v in model.state_dict().items()}, "torch_mlp.safetensors")
save_file({"x": x, "t": t, "loss": loss.reshape(1)}, "torch_mlp_expected.safetensors")
print("loss", loss.item())
