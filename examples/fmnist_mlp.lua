-- A 20-line training script: an MLP on Fashion-MNIST, one epoch.
local sg = require "sgen"
local nn, F = sg.nn, sg.F
sg.manual_seed(0)
local train = sg.data.fashion_mnist(nil, "train")
local test = sg.data.fashion_mnist(nil, "test")
local model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
local opt = sg.optim.Adam(model:parameters(), {lr = 1e-3})
for x, y in sg.data.DataLoader(train, {batch_size = 128, shuffle = true}):iter() do
  local loss = F.cross_entropy(model(x), y)
  opt:zero_grad()
  loss:backward()
  opt:step()
end
local x, y = test:batch(sg.arange(1, test:len() + 1))
local acc = sg.no_grad(function()
  return model(x):argmax(2):eq(y):float():mean():item()
end)
print(string.format("test accuracy after one epoch: %.2f %%", 100 * acc))
