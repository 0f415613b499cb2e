-- nn.Embedding: a lookup table of learnable rows (F.embedding).
local sg = require "sgen"
local U = require "sgen.nn.util"
local M = require "sgen.nn.module"
local init = require "sgen.nn.init_fns"

local Module = M.Module

local function padding_arg(name, pi, num)
  if pi == nil then return nil end
  if not U.is_int(pi) or pi == 0 or pi > num or pi < -num then
    U.fail(name, "option 'padding_idx' must be within 1..%d or -%d..-1, got %s", num, num,
      tostring(pi))
  end
  pi = math.tointeger(pi)
  return pi < 0 and pi + num + 1 or pi
end

-- nn.Embedding(num_embeddings, embedding_dim, {padding_idx=, dtype=, device=}):
-- weight (num_embeddings x embedding_dim) drawn from N(0, 1), its row
-- padding_idx (1-based) zeroed and left out of the gradient.
local Embedding = Module:extend("Embedding")

function Embedding:init(num_embeddings, embedding_dim, opts)
  local name = "Embedding"
  local o = U.opts(name, opts, {"padding_idx", "dtype", "device", "_weight"})
  self.num_embeddings = U.int(name, "num_embeddings", num_embeddings, 1)
  self.embedding_dim = U.int(name, "embedding_dim", embedding_dim, 1)
  self.padding_idx = padding_arg(name, o.padding_idx, self.num_embeddings)
  if o._weight ~= nil then
    self.weight = o._weight
  else
    self.weight = sg.empty({self.num_embeddings, self.embedding_dim},
      {dtype = o.dtype or "float32", device = o.device or "cpu"}):requires_grad_()
    self:reset_parameters()
  end
end

function Embedding:reset_parameters()
  init.normal_(self.weight)
  if self.padding_idx ~= nil then
    U.no_grad(function() self.weight:select(1, self.padding_idx):fill_(0) end)
  end
end

function Embedding:forward(x)
  if not U.is_tensor(x) then U.fail("Embedding", "expected a tensor input, got %s", U.typename(x)) end
  return sg.F.embedding(x, self.weight, {padding_idx = self.padding_idx})
end

function Embedding:extra_repr()
  local s = string.format("%d, %d", self.num_embeddings, self.embedding_dim)
  if self.padding_idx ~= nil then s = s .. ", padding_idx=" .. self.padding_idx end
  return s
end

-- nn.Embedding.from_pretrained(embeddings, {freeze=true, padding_idx=}):
-- an Embedding whose weight is `embeddings` (2-D; shared, not copied),
-- trainable only with freeze = false.
function Embedding.from_pretrained(embeddings, opts)
  local name = "Embedding.from_pretrained"
  if not U.is_tensor(embeddings) or embeddings:dim() ~= 2 then
    U.fail(name, "embeddings must be a 2-D tensor, got %s",
      U.is_tensor(embeddings) and U.shape_str(embeddings) or U.typename(embeddings))
  end
  local o = U.opts(name, opts, {"freeze", "padding_idx"})
  local freeze = o.freeze == nil and true or U.bool(name, "option 'freeze'", o.freeze)
  -- registered as a parameter, then frozen (PyTorch: requires_grad = False):
  -- it stays in parameters() and state_dict()
  local w = embeddings:detach():requires_grad_(true)
  local m = Embedding(embeddings:size(1), embeddings:size(2),
    {padding_idx = o.padding_idx, _weight = w})
  if freeze then w:requires_grad_(false) end
  return m
end

return {Embedding = Embedding}
