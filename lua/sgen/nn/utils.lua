-- sg.nn.utils: gradient clipping, parameters <-> one vector, spectral
-- normalization (torch.nn.utils of PyTorch 1.13).
local sg = require "sgen"
local U = require "sgen.nn.util"

local utils = {}

-- parameters: a tensor, a list of tensors or a module (its parameters()).
local function param_list(name, ps)
  if U.is_tensor(ps) then return {ps} end
  if U.is_module(ps) then return ps:parameters() end
  if type(ps) ~= "table" then
    U.fail(name, "parameters must be a tensor, a list of tensors or a module, got %s",
      U.typename(ps))
  end
  for i, p in ipairs(ps) do
    if not U.is_tensor(p) then
      U.fail(name, "parameters[%d] is a %s, expected a tensor", i, U.typename(p))
    end
  end
  return ps
end

-- clip_grad_norm_(parameters, max_norm, {norm_type=2, error_if_nonfinite=false})
-- -> total_norm (0-dim tensor): the norm of all gradients together, as if
-- concatenated; every gradient is scaled in place by
-- min(1, max_norm / (total_norm + 1e-6)). norm_type may be math.huge (max |g|).
function utils.clip_grad_norm_(parameters, max_norm, opts)
  local name = "utils.clip_grad_norm_"
  local ps = param_list(name, parameters)
  U.num(name, "max_norm", max_norm)
  local o = U.opts(name, opts, {"norm_type", "error_if_nonfinite"})
  local nt = o.norm_type == nil and 2 or o.norm_type
  if nt == "inf" then nt = math.huge end
  U.num(name, "option 'norm_type'", nt)
  local grads = {}
  for _, p in ipairs(ps) do
    local g = p.grad
    if g then grads[#grads + 1] = g end
  end
  if #grads == 0 then return sg.tensor(0.0) end
  return U.no_grad(function()
    local norms = {}
    for i, g in ipairs(grads) do
      local n = nt == math.huge and g:abs():max() or g:norm(nt)
      norms[i] = n:to({device = grads[1]:device()})
    end
    local stacked = sg.stack(norms)
    local total = nt == math.huge and stacked:max() or stacked:norm(nt)
    local tv = total:item()
    if o.error_if_nonfinite and (tv ~= tv or tv == math.huge or tv == -math.huge) then
      U.fail(name, "the total norm of order %s for gradients from parameters is non-finite, so "
        .. "it cannot be clipped", tostring(nt))
    end
    local coef = math.min(max_norm / (tv + 1e-6), 1.0)
    for _, g in ipairs(grads) do g:copy_(g * coef) end
    return total
  end)
end

-- clip_grad_value_(parameters, clip_value): clamps every gradient in place to
-- [-clip_value, clip_value].
function utils.clip_grad_value_(parameters, clip_value)
  local name = "utils.clip_grad_value_"
  local ps = param_list(name, parameters)
  local v = U.num(name, "clip_value", clip_value, 0)
  U.no_grad(function()
    for _, p in ipairs(ps) do
      local g = p.grad
      if g then g:copy_(g:clamp(-v, v)) end
    end
  end)
end

-- parameters_to_vector(parameters) -> one 1-D tensor, the parameters
-- flattened and concatenated in order (differentiable).
function utils.parameters_to_vector(parameters)
  local name = "utils.parameters_to_vector"
  local ps = param_list(name, parameters)
  if #ps == 0 then U.fail(name, "no parameters given") end
  local flat = {}
  for i, p in ipairs(ps) do
    if p:device() ~= ps[1]:device() then
      U.fail(name, "found two parameters on different devices (%s and %s)", ps[1]:device(),
        p:device())
    end
    flat[i] = p:reshape(-1)
  end
  return sg.cat(flat, 1)
end

-- vector_to_parameters(vec, parameters): copies consecutive slices of the
-- 1-D vec into the parameters, in place (no autograd record).
function utils.vector_to_parameters(vec, parameters)
  local name = "utils.vector_to_parameters"
  if not U.is_tensor(vec) then U.fail(name, "expected a tensor vec, got %s", U.typename(vec)) end
  local ps = param_list(name, parameters)
  local total = 0
  for _, p in ipairs(ps) do total = total + p:numel() end
  if vec:dim() ~= 1 or vec:numel() ~= total then
    U.fail(name, "vec has shape %s, expected a 1-D tensor of %d elements (the parameters' total)",
      U.shape_str(vec), total)
  end
  U.no_grad(function()
    local off = 1
    for _, p in ipairs(ps) do
      local n = p:numel()
      if n > 0 then p:copy_(vec:narrow(1, off, n):reshape(p:shape())) end
      off = off + n
    end
  end)
end

-- ---------------------------------------------------------------- spectral_norm
local function normalize(v, eps)
  return v / v:norm(2):clamp(eps, nil)
end

-- The weight as a matrix (size(dim) x rest), dim moved first.
local function weight_matrix(w, dim)
  if dim ~= 1 then
    local perm = {dim}
    for i = 1, w:dim() do if i ~= dim then perm[#perm + 1] = i end end
    w = w:permute(table.unpack(perm))
  end
  return w:reshape(w:size(1), -1)
end

local function mv(m, v) return sg.matmul(m, v:unsqueeze(2)):squeeze(2) end

-- Recomputes module[name] = name_orig / sigma, sigma = u . (W v), after
-- n_power_iterations steps that update the buffers u, v in training mode.
local function compute_weight(m, sn)
  local w = m[sn.name .. "_orig"]
  local u, v = m[sn.name .. "_u"], m[sn.name .. "_v"]
  local wm = weight_matrix(w, sn.dim)
  if m.training and sn.n_power_iterations > 0 then
    U.no_grad(function()
      local wd = wm:detach()
      for _ = 1, sn.n_power_iterations do
        v:copy_(normalize(mv(wd:t(), u), sn.eps))
        u:copy_(normalize(mv(wd, v), sn.eps))
      end
    end)
  end
  local sigma = (u:clone() * mv(wm, v:clone())):sum()
  rawget(m, "_attrs")[sn.name] = w / sigma
end

local function sn_forward(self, ...)
  for _, sn in ipairs(self._spectral_norm) do compute_weight(self, sn) end
  return self._spectral_norm_inner_forward(self, ...)
end

-- spectral_norm(module, {name="weight", n_power_iterations=1, eps=1e-12, dim=})
-- -> module: the parameter `name` becomes `name_orig` (a parameter) with
-- buffers `name_u`, `name_v` (unit vectors from N(0, 1) draws) and, before
-- each forward, module[name] = name_orig / sigma, sigma estimated by power
-- iteration, run (and stored in u, v) in training mode only. dim (1-based)
-- defaults to 2 for ConvTranspose2d and 1 otherwise. state_dict names are
-- PyTorch's (bias, weight_orig, weight_u, weight_v).
function utils.spectral_norm(module, opts)
  local fname = "utils.spectral_norm"
  if not U.is_module(module) then U.fail(fname, "expected a module, got %s", U.typename(module)) end
  local o = U.opts(fname, opts, {"name", "n_power_iterations", "eps", "dim"})
  local pname = o.name or "weight"
  if type(pname) ~= "string" then U.fail(fname, "option 'name' must be a string, got %s", U.typename(pname)) end
  local list = rawget(module, "_attrs")._spectral_norm or {}
  for _, sn in ipairs(list) do
    if sn.name == pname then
      U.fail(fname, "cannot register two spectral_norm hooks on the same parameter %s", pname)
    end
  end
  local w = module._parameters.map[pname]
  if w == nil then U.fail(fname, "the module has no parameter '%s'", pname) end
  local npi = U.int(fname, "option 'n_power_iterations'",
    o.n_power_iterations == nil and 1 or o.n_power_iterations, 0)
  local eps = U.num(fname, "option 'eps'", o.eps == nil and 1e-12 or o.eps, 0)
  local dim = o.dim
  if dim == nil then
    local cname = getmetatable(module).__name
    dim = (cname == "ConvTranspose2d" or cname == "ConvTranspose1d") and 2 or 1
  end
  if not U.is_int(dim) or dim == 0 or dim > w:dim() or dim < -w:dim() then
    U.fail(fname, "option 'dim' must be a non-zero integer in [-%d, %d], got %s", w:dim(), w:dim(),
      tostring(dim))
  end
  dim = math.tointeger(dim)
  if dim < 0 then dim = dim + w:dim() + 1 end
  local sn = {name = pname, n_power_iterations = npi, eps = eps, dim = dim}
  local wm = weight_matrix(w:detach(), dim)
  local f = {dtype = w:dtype(), device = w:device()}
  local u = U.no_grad(function() return normalize(sg.randn({wm:size(1)}, f), eps) end)
  local v = U.no_grad(function() return normalize(sg.randn({wm:size(2)}, f), eps) end)
  module[pname] = nil
  module:register_parameter(pname .. "_orig", w)
  module:register_buffer(pname .. "_u", u)
  module:register_buffer(pname .. "_v", v)
  rawget(module, "_attrs")[pname] = w:detach()
  if #list == 0 then
    module._spectral_norm_inner_forward = module.forward
    module.forward = sn_forward
  end
  list[#list + 1] = sn
  module._spectral_norm = list
  return module
end

return utils
