-- models/dcgan.lua: shapes, PyTorch's parameter counts and state_dict names,
-- the DCGAN example's initialization, options and errors, and agreement with
-- the PyTorch networks of bench/gpu_dcgan_step.py (spec/fixtures/dcgan.safetensors,
-- made by tools/make_dcgan_fixture.py): forward, gradients, running stats.
local sg = require "sgen"
local H = require "spec.helpers"
local dcgan = require "models.dcgan"

local function keys_with_prefix(t, prefix)
  local out = {}
  for k, v in pairs(t) do
    if k:sub(1, #prefix) == prefix then out[k:sub(#prefix + 1)] = v end
  end
  return out
end

local function sorted_keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

describe("models.dcgan", function()
  it("maps z (N x nz x 1 x 1, or N x nz) to N x 3 x 32 x 32 in (-1, 1), and images to N logits", function()
    sg.manual_seed(1)
    local G = dcgan.Generator({ngf = 8})
    local D = dcgan.Discriminator({ndf = 8})
    local x = G(sg.randn(5, 100, 1, 1))
    assert.same({5, 3, 32, 32}, x:shape())
    assert.is_true(x:abs():max():item() < 1)
    assert.same({5, 3, 32, 32}, G(sg.randn(5, 100)):shape())
    assert.same({5}, D(x):shape())
    local G1 = dcgan.Generator({nz = 10, ngf = 4, nc = 1})
    assert.same({2, 1, 32, 32}, G1(sg.randn(2, 10)):shape())
    assert.same({2}, dcgan.Discriminator({ndf = 4, nc = 1})(sg.randn(2, 1, 32, 32)):shape())
  end)

  it("has PyTorch's parameter counts and state_dict names", function()
    local fx = H.fixture("dcgan")
    local G, D = dcgan.Generator(), dcgan.Discriminator()
    assert.equal(fx["default.G_params"]:item(), G:num_parameters())
    assert.equal(fx["default.D_params"]:item(), D:num_parameters())
    assert.equal(1068928, G:num_parameters())
    assert.equal(663296, D:num_parameters())
    local g = dcgan.Generator({nz = 16, ngf = 4})
    local d = dcgan.Discriminator({ndf = 4})
    assert.same(sorted_keys(keys_with_prefix(fx, "G.sd.")), sorted_keys(g:state_dict()))
    assert.same(sorted_keys(keys_with_prefix(fx, "D.sd.")), sorted_keys(d:state_dict()))
  end)

  it("initializes as the DCGAN example: conv N(0, 0.02), BatchNorm weight N(1, 0.02), bias 0, no conv bias", function()
    sg.manual_seed(3)
    local G, D = dcgan.Generator(), dcgan.Discriminator()
    local sd = G:state_dict()
    for _, name in ipairs({"main.0.weight", "main.3.weight", "main.6.weight"}) do
      local w = sd[name]
      assert.is_true(math.abs(w:mean():item()) < 2e-3, name)
      assert.is_true(math.abs(w:std():item() - 0.02) < 1e-3, name .. " std " .. w:std():item())
    end
    local bn = sd["main.1.weight"]
    assert.is_true(math.abs(bn:mean():item() - 1) < 0.01)
    assert.is_true(bn:std():item() > 0.005 and bn:std():item() < 0.04)
    assert.equal(0, sd["main.1.bias"]:abs():sum():item())
    local dsd = D:state_dict()
    assert.is_true(math.abs(dsd["main.5.weight"]:std():item() - 0.02) < 2e-3)
    for k in pairs(sd) do
      local i = k:match("^main%.(%d+)%.bias$")
      if i then assert.is_true(i == "1" or i == "4" or i == "7", k .. " (a convolution bias)") end
    end
    assert.is_nil(dsd["main.0.bias"])
  end)

  it("init_weights touches convolutions and BatchNorm only", function()
    local lin = sg.nn.Linear(3, 2)
    local before = lin.weight:clone()
    dcgan.init_weights(lin)
    H.assert_equal_tensors(lin.weight, before, "Linear untouched")
    local bn = sg.nn.BatchNorm2d(4)
    sg.no_grad(function() bn.bias:fill_(5) end)
    dcgan.init_weights(bn)
    assert.equal(0, bn.bias:abs():sum():item())
  end)

  it("computes what bench/gpu_dcgan_step.py's PyTorch networks compute: outputs, gradients, running stats", function()
    local fx = H.fixture("dcgan")
    local G = dcgan.Generator({nz = 16, ngf = 4})
    local D = dcgan.Discriminator({ndf = 4})
    G:load_state_dict(keys_with_prefix(fx, "G.sd."))
    D:load_state_dict(keys_with_prefix(fx, "D.sd."))
    local fake = G(fx.z)
    local logits = D(fake)
    H.assert_close(fake, fx.fake, 1e-5, "G(z)")
    H.assert_close(logits, fx.logits, 1e-5, "D(G(z))")
    local loss = (logits * fx.r):sum()
    loss:backward()
    for prefix, net in pairs({G = G, D = D}) do
      local n = 0
      for name, p in net:named_parameters() do
        local ref = fx[prefix .. ".grad." .. name]
        assert.is_not_nil(ref, prefix .. " " .. name)
        H.assert_close(p.grad, ref, 1e-4 * (1 + ref:abs():max():item()), prefix .. ".grad." .. name)
        n = n + 1
      end
      assert.is_true(n > 0)
      for name, b in net:named_buffers() do
        local ref = fx[prefix .. ".after." .. name]
        if b:dtype() == "int64" then
          H.assert_equal_tensors(b, ref, name)
        else
          H.assert_close(b, ref, 1e-5, prefix .. ".after." .. name)
        end
      end
    end
  end)

  it("rejects bad options and inputs", function()
    assert.has_error(function() dcgan.Generator({foo = 1}) end,
      "models.dcgan: Generator: unknown option 'foo' (expected k, l1_weight, nc, ngf, nz, sparsity)")
    assert.has_error(function() dcgan.Discriminator({ngf = 4}) end,
      "models.dcgan: Discriminator: unknown option 'ngf' (expected nc, ndf)")
    assert.has_error(function() dcgan.Generator({nz = 0}) end,
      "models.dcgan: Generator: option 'nz' must be a positive integer, got 0")
    assert.has_error(function() dcgan.Discriminator({ndf = 2.5}) end,
      "models.dcgan: Discriminator: option 'ndf' must be a positive integer, got 2.5")
    assert.has_error(function() dcgan.Generator("big") end,
      "models.dcgan: Generator: expected an options table, got string")
    local G = dcgan.Generator({ngf = 4})
    assert.has_error(function() G(sg.randn(2, 50, 1, 1)) end,
      "models.dcgan: Generator: z is 2x50x1x1, expected N x 100 x 1 x 1 (or N x 100)")
    assert.has_error(function() G(sg.randn(2, 100, 2, 2)) end,
      "models.dcgan: Generator: z is 2x100x2x2, expected N x 100 x 1 x 1 (or N x 100)")
    local D = dcgan.Discriminator({ndf = 4})
    assert.has_error(function() D(sg.randn(2, 3, 64, 64)) end,
      "models.dcgan: Discriminator: input is 2x3x64x64, expected N x 3 x 32 x 32")
    assert.has_error(function() D(sg.randn(3, 32, 32)) end,
      "models.dcgan: Discriminator: input is 3x32x32, expected N x 3 x 32 x 32")
  end)
end)
