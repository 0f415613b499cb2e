-- sgen.data: datasets as tensors and a DataLoader.
--   data.fashion_mnist(dir, split)  data.fashion_mnist32(dir, split)  data.mnist(dir, split)  data.cifar10(dir, split)
--   data.images(dir, {size=, channels=})  data.TensorDataset(images, labels, opts)
--   data.DataLoader(dataset, {batch_size=, shuffle=, drop_last=, seed=, transform=, sampler=})
--   data.DistributedSampler(dataset, {shuffle=, seed=, drop_last=, num_replicas=, rank=})
-- See docs/lua-api.md, section sg.data.
local ds = require "sgen.data.datasets"

return {
  TensorDataset = ds.TensorDataset,
  Dataset = ds.Dataset,
  fashion_mnist = ds.fashion_mnist,
  fashion_mnist32 = ds.fashion_mnist32,
  mnist = ds.mnist,
  cifar10 = ds.cifar10,
  images = ds.images,
  DataLoader = require "sgen.data.dataloader",
  DistributedSampler = require "sgen.data.distributed_sampler",
  FASHION_MNIST_DIR = ds.FASHION_MNIST_DIR,
  fashion_mnist_classes = ds.fashion_mnist_classes,
  mnist_classes = ds.mnist_classes,
  cifar10_classes = ds.cifar10_classes,
}
