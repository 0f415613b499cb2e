-- sg.nn: the Module base class, every layer against PyTorch fixtures
-- (tools/make_nn_fixtures.py), default initializations, nn.init, errors,
-- and a Conv-BN-LeakyReLU-Linear network loaded from a PyTorch state_dict.
local sg = require "sgen"
local nn = sg.nn
local H = require "spec.helpers"

local function fixture(name) return H.fixture("nn_" .. name) end

-- {name = tensor} of the entries of fx under `prefix` (prefix removed)
local function sub(fx, prefix)
  local out = {}
  for k, v in pairs(fx) do
    if k:sub(1, #prefix) == prefix then out[k:sub(#prefix + 1)] = v end
  end
  return out
end

local function keys_of(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

local shape_str = H.shape_str

-- max |actual - expected| <= atol + rtol * max |expected|
local function assert_close(actual, expected, what, atol, rtol)
  atol, rtol = atol or 2e-5, rtol or 2e-5
  assert(actual ~= nil, what .. ": missing")
  assert.are.equal(shape_str(expected), shape_str(actual), what .. ": shape")
  local a, e = actual:double(), expected:double()
  local err = (a - e):abs():max():item()
  local scale = e:abs():max():item()
  assert(err <= atol + rtol * scale,
    string.format("%s: max abs difference %.3g (tolerance %.3g)", what, err, atol + rtol * scale))
end

local assert_equal_tensors = H.assert_equal_tensors

local function copy_input(t, dtype)
  return t:to(dtype):clone():requires_grad_()
end

-- Runs one fixture case: loads the PyTorch state_dict, runs forward in the
-- case's mode, backward of sum(out * r), compares output, gradients of the
-- input and of every parameter, and the buffers after the step.
local function check_case(file, case, make, mode, dtype, tol)
  local fx = fixture(file)
  local m = make()
  if dtype == "float64" then m:double() end
  m:load_state_dict(sub(fx, case .. ".sd."))
  m:train(mode == "train")
  local x = copy_input(fx[case .. ".x"], dtype)
  local out = m(x)
  assert.are.equal(dtype, out:dtype())
  assert_close(out, fx[case .. ".out"], case .. ".out", tol, tol)
  local r = fx[case .. ".r"]:to(dtype)
  ;(out * r):sum():backward()
  assert_close(x.grad, fx[case .. ".grad_x"], case .. ".grad_x", tol, tol)
  local want = sub(fx, case .. ".grad.")
  local seen = {}
  for name, p in m:named_parameters() do
    seen[#seen + 1] = name
    assert_close(p.grad, want[name], case .. ".grad." .. name, tol, tol)
  end
  table.sort(seen)
  assert.are.same(keys_of(want), seen)
  local after = sub(fx, case .. ".after.")
  local bseen = {}
  for name, b in m:named_buffers() do
    bseen[#bseen + 1] = name
    if b:dtype() == "int64" then
      assert.are.equal(after[name]:item(), b:item(), case .. ".after." .. name)
    else
      assert_close(b, after[name], case .. ".after." .. name, tol, tol)
    end
  end
  table.sort(bseen)
  assert.are.same(keys_of(after), bseen)
end

local CASES = {
  {"linear", "a", function() return nn.Linear(5, 3) end},
  {"linear", "nobias", function() return nn.Linear(5, 3, {bias = false}) end},
  {"conv2d", "a", function() return nn.Conv2d(3, 4, 3) end},
  {"conv2d", "strided", function() return nn.Conv2d(4, 6, 3, {stride = 2, padding = 1, groups = 2}) end},
  {"conv2d", "dilated", function()
    return nn.Conv2d(2, 3, {3, 2}, {stride = {2, 1}, padding = {2, 1}, dilation = 2, bias = false})
  end},
  {"conv2d", "reflect", function() return nn.Conv2d(2, 3, 3, {padding = 1, padding_mode = "reflect"}) end},
  {"conv2d", "replicate", function()
    return nn.Conv2d(2, 3, 3, {padding = {2, 1}, padding_mode = "replicate"})
  end},
  {"conv2d", "same", function() return nn.Conv2d(2, 3, {4, 3}, {padding = "same", dilation = {1, 2}}) end},
  {"conv_transpose2d", "a", function() return nn.ConvTranspose2d(3, 2, 4, {stride = 2, padding = 1}) end},
  {"conv_transpose2d", "groups", function()
    return nn.ConvTranspose2d(4, 6, 3, {stride = 2, padding = 1, output_padding = 1, groups = 2})
  end},
  {"batch_norm", "train", function() return nn.BatchNorm2d(3) end},
  {"batch_norm", "eval", function() return nn.BatchNorm2d(3) end, "eval"},
  {"batch_norm", "bn1d_2d", function() return nn.BatchNorm1d(4) end},
  {"batch_norm", "bn1d_3d", function() return nn.BatchNorm1d(4) end},
  {"instance_norm", "a", function() return nn.InstanceNorm2d(3) end},
  {"instance_norm", "affine", function() return nn.InstanceNorm2d(3, {affine = true, eps = 1e-3}) end},
  {"instance_norm", "running", function()
    return nn.InstanceNorm2d(3, {affine = true, track_running_stats = true, momentum = 0.3})
  end},
  {"instance_norm", "running_eval", function()
    return nn.InstanceNorm2d(3, {affine = true, track_running_stats = true, momentum = 0.3})
  end, "eval"},
  {"layer_norm", "a", function() return nn.LayerNorm({4, 5}) end},
  {"layer_norm", "b", function() return nn.LayerNorm(6, {eps = 1e-3}) end},
  {"layer_norm", "noaffine", function() return nn.LayerNorm(6, {elementwise_affine = false}) end},
  {"upsample", "bilinear2", function() return nn.Upsample({scale_factor = 2, mode = "bilinear"}) end},
  {"upsample", "bilinear_size_ac", function()
    return nn.Upsample({size = {5, 7}, mode = "bilinear", align_corners = true})
  end},
  {"upsample", "nearest2", function() return nn.Upsample({scale_factor = 2}) end},
  {"pad", "reflect2", function() return nn.ReflectionPad2d(2) end},
  {"pad", "reflect1203", function() return nn.ReflectionPad2d({1, 2, 0, 3}) end},
  {"pad", "zero", function() return nn.ZeroPad2d({1, 0, 2, 1}) end},
  {"pool", "max2", function() return nn.MaxPool2d(2) end},
  {"pool", "max3s2p1", function() return nn.MaxPool2d(3, {stride = 2, padding = 1}) end},
  {"pool", "avg2", function() return nn.AvgPool2d(2) end},
  {"pool", "avg3s2p1", function() return nn.AvgPool2d(3, {stride = 2, padding = 1}) end},
  {"pool", "adaptive", function() return nn.AdaptiveAvgPool2d({2, 3}) end},
  {"activation", "relu", function() return nn.ReLU() end},
  {"activation", "leaky", function() return nn.LeakyReLU(0.2) end},
  {"activation", "leaky_default", function() return nn.LeakyReLU() end},
  {"activation", "tanh", function() return nn.Tanh() end},
  {"activation", "sigmoid", function() return nn.Sigmoid() end},
  {"activation", "softmax", function() return nn.Softmax(2) end},         -- PyTorch dim=1
  {"activation", "log_softmax", function() return nn.LogSoftmax(1) end},  -- PyTorch dim=0
  {"activation", "flatten", function() return nn.Flatten() end},
}

describe("nn layers against PyTorch", function()
  for _, c in ipairs(CASES) do
    local file, case, make, mode = c[1], c[2], c[3], c[4] or "train"
    it(file .. "/" .. case .. " in float32", function()
      check_case(file, case, make, mode, "float32", 2e-5)
    end)
    it(file .. "/" .. case .. " in float64", function()
      check_case(file, case, make, mode, "float64", 1e-10)
    end)
  end

  it("BatchNorm2d with momentum=false keeps a cumulative average (PyTorch's momentum=None)", function()
    local fx = fixture("batch_norm")
    local bn = nn.BatchNorm2d(2, {momentum = false, eps = 1e-3}):double()
    bn:load_state_dict(sub(fx, "cumulative.sd."))
    for step = 1, 2 do
      local y = bn(fx["cumulative.x" .. step]:double())
      assert_close(y, fx["cumulative.out" .. step], "out" .. step, 1e-10, 1e-10)
    end
    assert.are.equal(2, bn.num_batches_tracked:item())
    assert_close(bn.running_mean, fx["cumulative.after.running_mean"], "running_mean", 1e-10, 1e-10)
    assert_close(bn.running_var, fx["cumulative.after.running_var"], "running_var", 1e-10, 1e-10)
    assert.are.equal("BatchNorm2d(2, eps=0.001, momentum=None, affine=True, track_running_stats=True)",
      tostring(bn))
  end)

  it("Conv2d with padding='same' keeps the size (asymmetric for even kernels)", function()
    local c = nn.Conv2d(2, 3, {4, 3}, {padding = "same", dilation = {1, 2}})
    assert.same({1, 3, 7, 6}, c(sg.randn(1, 2, 7, 6)):shape())
    -- the same as an explicit pad {left 2, right 2, top 1, bottom 2} then no padding
    local x = sg.randn(1, 2, 7, 6)
    local ref = sg.F.conv2d(sg.F.pad(x, {2, 2, 1, 2}), c.weight, c.bias, {dilation = {1, 2}})
    assert_close(c(x), ref, "same", 1e-6, 1e-6)
    assert.matches("padding=same", tostring(c), 1, true)
    local v = nn.Conv2d(2, 3, 3, {padding = "valid"})
    assert.same({1, 3, 5, 4}, v(x):shape())
  end)

  it("Conv2d, pools and InstanceNorm2d accept unbatched C x H x W input", function()
    sg.manual_seed(3)
    local x = sg.randn(2, 5, 5)
    local c = nn.Conv2d(2, 3, 3, {padding = 1})
    assert_close(c(x), c(x:unsqueeze(1)):squeeze(1), "conv", 0, 0)
    local t = nn.ConvTranspose2d(2, 3, 2, {stride = 2})
    assert.same({3, 10, 10}, t(x):shape())
    assert.same({2, 2, 2}, nn.MaxPool2d(2)(x):shape())
    assert.same({2, 2, 2}, nn.AvgPool2d(2)(x):shape())
    assert.same({2, 1, 1}, nn.AdaptiveAvgPool2d(1)(x):shape())
    assert.same({2, 5, 5}, nn.InstanceNorm2d(2)(x):shape())
  end)

  it("layers agree with gradcheck in float64", function()
    sg.manual_seed(5)
    local conv = nn.Conv2d(2, 2, 3, {stride = 2, padding = 1}):double()
    local bn = nn.BatchNorm2d(2):double()
    local x = sg.randn(2, 2, 5, 5, {dtype = "float64"}):requires_grad_()
    assert.is_true(sg.gradcheck(function(a) return bn(conv(a)) end, {x}))
    assert.is_true(sg.gradcheck(function(w) return sg.F.conv2d(x, w, nil, {stride = 2}) end,
      {conv.weight}))
  end)
end)

describe("nn.Module", function()
  local Net = nn.Module:extend("Net")
  function Net:init()
    self.features = nn.Sequential(nn.Conv2d(1, 8, 3, {padding = 1}), nn.BatchNorm2d(8),
      nn.LeakyReLU(0.2))
    self.flatten = nn.Flatten()
    self.classifier = nn.Linear(8 * 6 * 6, 10)
  end
  function Net:forward(x)
    return self.classifier(self.flatten(self.features(x)))
  end

  local TORCH_NAMES = {
    "features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
    "features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked",
    "classifier.weight", "classifier.bias",
  }

  it("names parameters and buffers as PyTorch does, in PyTorch's order", function()
    local net = Net()
    assert.same(TORCH_NAMES, net:state_dict_keys())
    local order = {}
    for k, v in pairs(net:state_dict()) do
      order[#order + 1] = k
      assert.is_false(v:needs_grad())
    end
    assert.same(TORCH_NAMES, order)
    local pnames = {}
    for name, p in net:named_parameters() do
      pnames[#pnames + 1] = name
      assert.is_true(p:needs_grad())
      assert.is_true(p.is_leaf)
    end
    assert.same({"features.0.weight", "features.0.bias", "features.1.weight", "features.1.bias",
      "classifier.weight", "classifier.bias"}, pnames)
    local bnames = {}
    for name in net:named_buffers() do bnames[#bnames + 1] = name end
    assert.same({"features.1.running_mean", "features.1.running_var",
      "features.1.num_batches_tracked"}, bnames)
    assert.are.equal("int64", net.features[2].num_batches_tracked:dtype())
    assert.same({}, net.features[2].num_batches_tracked:shape())
  end)

  it("counts parameters", function()
    local net = Net()
    assert.are.equal(6, #net:parameters())
    assert.are.equal(8 * 9 + 8 + 8 + 8 + 288 * 10 + 10, net:num_parameters())
    assert.are.equal(3, #net:buffers())
    assert.are.equal(3, #net:children())
    assert.are.equal(7, #net:modules()) -- Net, Sequential, Conv, BN, LeakyReLU, Flatten, Linear
  end)

  it("matches PyTorch: forward in train and eval mode, gradients, running stats", function()
    local fx = fixture("net")
    local net = Net()
    net:load_state_dict(sub(fx, "sd."))
    net:train()
    local x = copy_input(fx["x"], "float32")
    local out = net(x)
    assert_close(out, fx["train.out"], "train.out")
    ;(out * fx["r"]):sum():backward()
    assert_close(x.grad, fx["train.grad_x"], "train.grad_x")
    for name, p in net:named_parameters() do
      assert_close(p.grad, fx["train.grad." .. name], "train.grad." .. name)
    end
    -- the training step updated the running statistics exactly as PyTorch's
    local after = sub(fx, "train.after.")
    local sd = net:state_dict()
    for _, name in ipairs(TORCH_NAMES) do
      if name:match("num_batches_tracked") then
        assert.are.equal(1, sd[name]:item())
        assert.are.equal(after[name]:item(), sd[name]:item())
      else
        assert_close(sd[name], after[name], "after." .. name)
      end
    end
    -- eval mode uses them
    net:eval()
    net:zero_grad()
    x = copy_input(fx["x"], "float32")
    out = net(x)
    assert_close(out, fx["eval.out"], "eval.out")
    ;(out * fx["r"]):sum():backward()
    assert_close(x.grad, fx["eval.grad_x"], "eval.grad_x")
    for name, p in net:named_parameters() do
      assert_close(p.grad, fx["eval.grad." .. name], "eval.grad." .. name)
    end
    assert.are.equal(1, net.features[2].num_batches_tracked:item())
  end)

  it("round-trips a state_dict through sg.save and sg.load", function()
    local fx = fixture("net")
    local net = Net()
    net:load_state_dict(sub(fx, "sd."))
    net(fx["x"]) -- one training step: non-trivial running stats
    net:eval()
    local y = net(fx["x"])
    local path = os.tmpname()
    sg.save(path, net:state_dict())
    local loaded = sg.load(path)
    os.remove(path)
    local sorted = {table.unpack(TORCH_NAMES)}
    table.sort(sorted)
    assert.same(sorted, keys_of(loaded))
    assert.are.equal("int64", loaded["features.1.num_batches_tracked"]:dtype())
    local other = Net()
    other:load_state_dict(loaded)
    other:eval()
    assert_equal_tensors(other(fx["x"]), y, "eval output after the round trip")
    for k, v in pairs(other:state_dict()) do assert_equal_tensors(v, net:state_dict()[k], k) end
  end)

  it("prints like PyTorch, with Sequential's children at their 1-based positions", function()
    assert.are.equal([[
Net(
  (features): Sequential(
    (1): Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    (2): BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
    (3): LeakyReLU(negative_slope=0.2)
  )
  (flatten): Flatten(start_dim=2, end_dim=-1)
  (classifier): Linear(in_features=288, out_features=10, bias=True)
)]], tostring(Net()))
    -- the state_dict keeps PyTorch's 0-based names
    local sd = Net():state_dict()
    assert.is_not_nil(sd["features.0.weight"])
    assert.is_nil(sd["features.3.weight"])
    assert.equal("ModuleList(\n  (1): ReLU()\n  (2): Tanh()\n)",
      tostring(nn.ModuleList({nn.ReLU(), nn.Tanh()})))
    local reprs = {
      {nn.Upsample({scale_factor = 2}), "Upsample(scale_factor=2.0, mode=nearest)"},
      {nn.Upsample({size = {5, 7}, mode = "bilinear", align_corners = true}),
       "Upsample(size=(5, 7), mode=bilinear)"},
      {nn.Upsample({scale_factor = {2, 3}, mode = "bilinear"}),
       "Upsample(scale_factor=(2.0, 3.0), mode=bilinear)"},
      {nn.ReflectionPad2d(2), "ReflectionPad2d((2, 2, 2, 2))"},
      {nn.ZeroPad2d({1, 0, 2, 1}), "ZeroPad2d((1, 0, 2, 1))"},
      {nn.MaxPool2d(2), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"},
      {nn.AvgPool2d(3, {stride = 2, padding = 1}), "AvgPool2d(kernel_size=3, stride=2, padding=1)"},
      {nn.AdaptiveAvgPool2d({2, 3}), "AdaptiveAvgPool2d(output_size=(2, 3))"},
      {nn.AdaptiveAvgPool2d(2), "AdaptiveAvgPool2d(output_size=2)"},
      {nn.Softmax(2), "Softmax(dim=2)"},
      {nn.LogSoftmax(-1), "LogSoftmax(dim=-1)"},
      {nn.Dropout(), "Dropout(p=0.5, inplace=False)"},
      {nn.Dropout(0.25), "Dropout(p=0.25, inplace=False)"},
      {nn.ReLU(), "ReLU()"},
      {nn.ReLU(true), "ReLU(inplace=True)"},
      {nn.Tanh(), "Tanh()"},
      {nn.Sigmoid(), "Sigmoid()"},
      {nn.Identity(), "Identity()"},
      {nn.LeakyReLU(), "LeakyReLU(negative_slope=0.01)"},
      {nn.LayerNorm(6), "LayerNorm((6,), eps=1e-05, elementwise_affine=True)"},
      {nn.LayerNorm({4, 5}), "LayerNorm((4, 5), eps=1e-05, elementwise_affine=True)"},
      {nn.InstanceNorm2d(3),
       "InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)"},
      {nn.BatchNorm1d(4, {momentum = false}),
       "BatchNorm1d(4, eps=1e-05, momentum=None, affine=True, track_running_stats=True)"},
      {nn.BatchNorm2d(3, {eps = 1e-3, momentum = 0.01}),
       "BatchNorm2d(3, eps=0.001, momentum=0.01, affine=True, track_running_stats=True)"},
      {nn.ConvTranspose2d(4, 6, 3, {stride = 2, padding = 1, output_padding = 1, groups = 2}),
       "ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1), groups=2)"},
      {nn.Conv2d(2, 3, {3, 2}, {stride = {2, 1}, padding = {2, 1}, dilation = 2, bias = false}),
       "Conv2d(2, 3, kernel_size=(3, 2), stride=(2, 1), padding=(2, 1), dilation=(2, 2), bias=False)"},
      {nn.Conv2d(2, 3, 3, {padding = 1, padding_mode = "reflect"}),
       "Conv2d(2, 3, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), padding_mode=reflect)"},
      {nn.Linear(3, 4, {bias = false}), "Linear(in_features=3, out_features=4, bias=False)"},
      {nn.Sequential(), "Sequential()"},
    }
    for _, r in ipairs(reprs) do assert.are.equal(r[2], tostring(r[1])) end
  end)

  it("registers fields in assignment order; buffers explicitly; nil unregisters", function()
    local M = nn.Module:extend("M")
    function M:init()
      self.b = nn.Linear(2, 2)
      self.scale = nn.Parameter(sg.ones(1))
      self:register_buffer("count", sg.zeros(1))
      self:register_buffer("scratch", sg.zeros(1), false) -- not in state_dict
      self.a = nn.Linear(2, 1)
      self.note = "plain attribute"
      self.plain = sg.zeros(3) -- a tensor without grad: a plain attribute
    end
    local m = M()
    assert.same({"scale", "count", "b.weight", "b.bias", "a.weight", "a.bias"}, m:state_dict_keys())
    local bn = {}
    for name in m:named_buffers() do bn[#bn + 1] = name end
    assert.same({"count", "scratch"}, bn)
    assert.are.equal("plain attribute", m.note)
    assert.same({3}, m.plain:shape())
    -- replacing a child keeps its place; nil removes
    m.b = nn.Linear(2, 3)
    assert.same({"scale", "count", "b.weight", "b.bias", "a.weight", "a.bias"}, m:state_dict_keys())
    assert.same({3, 2}, m.b.weight:shape())
    m.a = nil
    assert.is_nil(m.a)
    assert.same({"scale", "count", "b.weight", "b.bias"}, m:state_dict_keys())
    -- a buffer stays a buffer when reassigned
    m.count = sg.full({1}, 7)
    assert.are.equal(7, m:state_dict().count:item())
    -- explicit registration
    m:register_parameter("extra", sg.zeros(2))
    assert.is_true(m.extra:needs_grad())
    m:add_module("head", nn.Identity())
    assert.are.equal(m.head, m:children()[2])
  end)

  it("counts a shared child's parameters once; state_dict names them under every name", function()
    local S = nn.Module:extend("S")
    function S:init()
      self.a = nn.Linear(3, 3)
      self.b = self.a
    end
    local s = S()
    assert.are.equal(2, #s:parameters())
    assert.same({"a.weight", "a.bias"}, (function()
      local t = {}
      for n in s:named_parameters() do t[#t + 1] = n end
      return t
    end)())
    -- as in PyTorch, state_dict names the shared child under both names
    assert.same({"a.weight", "a.bias", "b.weight", "b.bias"}, s:state_dict_keys())
    assert.are.equal(2, #s:modules())
    local sd = s:state_dict()
    sd["b.bias"] = sg.full({3}, 2)
    s:load_state_dict(sd)
    assert.same({2, 2, 2}, s.a.bias:totable())
    assert.are.equal("S(\n  (a): Linear(in_features=3, out_features=3, bias=True)\n"
      .. "  (b): Linear(in_features=3, out_features=3, bias=True)\n)", tostring(s))
  end)

  it("fuses a BatchNorm and the plain ReLU / LeakyReLU after it: same output and running "
    .. "statistics as running them in turn, gradients to rounding", function()
    for _, make_act in ipairs({function() return nn.ReLU() end,
                               function() return nn.LeakyReLU(0.2) end}) do
      -- the fused op made the output: its node is batch_norm's, not the activation's
      local pair = nn.Sequential(nn.BatchNorm2d(3), make_act())
      assert.equal("batch_norm", pair(sg.randn(2, 3, 4, 4)).grad_fn)
      pair:eval()
      assert.not_equal("batch_norm", pair(sg.randn(2, 3, 4, 4)).grad_fn) -- eval: in turn
      local function build()
        sg.manual_seed(5)
        return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), make_act(), nn.Conv2d(8, 2, 1))
      end
      local fused, by_hand = build(), build()
      local x = sg.randn(4, 3, 6, 6)
      local y1 = fused(x)
      local y2 = by_hand[4](by_hand[3](by_hand[2](by_hand[1](x))))
      H.assert_equal_tensors(y1:detach(), y2:detach(), "output")
      H.assert_equal_tensors(fused[2].running_mean, by_hand[2].running_mean, "running_mean")
      H.assert_equal_tensors(fused[2].running_var, by_hand[2].running_var, "running_var")
      y1:sum():backward()
      y2:sum():backward()
      local p2 = by_hand:parameters()
      for k, p in ipairs(fused:parameters()) do
        H.assert_close(p.grad, p2[k].grad, 1e-4, "gradient " .. k)
      end
      -- the fused output stays writable in place, as the unfused activation's is
      -- (a residual h:add_(skip)); its gradient is unchanged
      local pair2 = nn.Sequential(nn.BatchNorm2d(3), make_act())
      local xin = sg.randn(2, 3, 4, 4):requires_grad_()
      local h = pair2(xin)
      h:add_(1)
      h:sum():backward()
      local xin2 = xin:detach():requires_grad_()
      local h2 = pair2[2](pair2[1](xin2))
      h2:sum():backward()
      H.assert_close(xin.grad, xin2.grad, 1e-5, "input gradient after h:add_(1)")
    end
  end)

  it("does not fuse a subclass that overrides forward", function()
    local Loud = nn.ReLU:extend("LoudReLU")
    local calls = 0
    function Loud:forward(x) calls = calls + 1; return x:relu() end
    local seq = nn.Sequential(nn.BatchNorm2d(2), Loud())
    seq(sg.randn(2, 2, 3, 3))
    assert.equal(1, calls)
  end)

  it("switches train and eval recursively", function()
    local net = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Sequential(nn.BatchNorm1d(4)))
    for _, m in ipairs(net:modules()) do assert.is_true(m.training) end
    assert.are.equal(net, net:eval())
    for _, m in ipairs(net:modules()) do assert.is_false(m.training) end
    -- eval: dropout is the identity and batch norm uses the running stats
    local x = sg.randn(8, 4)
    assert_equal_tensors(net(x), net(x), "deterministic in eval mode")
    net:train()
    for _, m in ipairs(net:modules()) do assert.is_true(m.training) end
    net:train(false)
    assert.is_false(net[3][1].training)
  end)

  it("Dropout drops a fraction p in training and scales by 1/(1-p)", function()
    sg.manual_seed(11)
    local d = nn.Dropout(0.3)
    local y = d(sg.ones(100000))
    local zeros = (y:eq(0):double():sum()):item()
    assert.is_true(math.abs(zeros / 100000 - 0.3) < 0.01, "fraction dropped " .. zeros / 100000)
    assert.is_true(math.abs(y:max():item() - 1 / 0.7) < 1e-6)
    d:eval()
    local x = sg.randn(5)
    assert_equal_tensors(d(x), x, "eval")
  end)

  it("zero_grad sets gradients to nil (or to zero with set_to_none=false)", function()
    local lin = nn.Linear(3, 2)
    lin(sg.randn(4, 3)):sum():backward()
    assert.is_not_nil(lin.weight.grad)
    lin:zero_grad({set_to_none = false})
    assert.are.equal(0, lin.weight.grad:abs():sum():item())
    lin:zero_grad()
    assert.is_nil(lin.weight.grad)
    assert.is_nil(lin.bias.grad)
  end)

  it("returns fresh outputs, never internal state", function()
    local lin = nn.Linear(3, 2)
    local y1 = lin(sg.ones(1, 3))
    local v1 = y1:totable()
    local y2 = lin(sg.zeros(1, 3))
    assert.same(v1, y1:totable())
    assert.are_not.same(v1, y2:totable())
  end)

  it("state_dict shares memory with the module; keep_vars returns the parameters", function()
    local lin = nn.Linear(2, 2)
    local sd = lin:state_dict()
    sd.bias:fill_(3)
    assert.same({3, 3}, lin.bias:totable())
    assert.is_true(rawequal(lin.weight, lin:state_dict({keep_vars = true}).weight))
  end)

  it("apply visits children before the module itself", function()
    local net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    local seen = {}
    net:apply(function(m) seen[#seen + 1] = getmetatable(m).__name end)
    assert.same({"Linear", "ReLU", "Sequential", "Sequential"}, seen)
    -- re-initialize every Linear weight
    net:apply(function(m) if m.weight then nn.init.constant_(m.weight, 0.5) end end)
    assert.same({{0.5, 0.5}, {0.5, 0.5}}, net[1].weight:totable())
  end)

  it("converts with to/double/float, keeping integer buffers", function()
    local net = Net()
    local w = net.classifier.weight
    net:to("float64")
    for _, p in ipairs(net:parameters()) do
      assert.are.equal("float64", p:dtype())
      assert.is_true(p:needs_grad())
      assert.is_true(p.is_leaf)
    end
    assert.are.equal("float64", net.features[2].running_var:dtype())
    assert.are.equal("int64", net.features[2].num_batches_tracked:dtype())
    assert_close(net.classifier.weight, w, "values kept", 1e-7, 0)
    assert.are.equal("float64", net(sg.randn(2, 1, 6, 6, {dtype = "float64"})):dtype())
    local same = net.classifier.weight
    net:double() -- already float64: the tensors are kept as they are
    assert.is_true(rawequal(same, net.classifier.weight))
    net:float()
    assert.are.equal("float32", net.classifier.weight:dtype())
    net:to({dtype = "float64", device = "cpu"})
    assert.are.equal("float64", net.classifier.bias:dtype())
  end)

  it("indexes Sequential 1-based while naming children from 0", function()
    local a, b = nn.Linear(2, 3), nn.ReLU()
    local seq = nn.Sequential(a, b)
    assert.are.equal(2, #seq)
    assert.are.equal(a, seq[1])
    assert.are.equal(b, seq[2])
    assert.are.equal(b, seq[-1])
    assert.is_nil(seq[3])
    seq:add(nn.Linear(3, 1))
    assert.same({"0.weight", "0.bias", "2.weight", "2.bias"}, seq:state_dict_keys())
    local ml = nn.ModuleList({nn.Linear(1, 1), nn.Linear(1, 2)})
    assert.are.equal(2, #ml)
    local n = 0
    for i, m in ml:ipairs() do
      n = n + 1
      assert.are.equal(i, m.out_features)
    end
    assert.are.equal(2, n)
    assert.same({"0.weight", "0.bias", "1.weight", "1.bias"}, ml:state_dict_keys())
  end)

  it("supports subclasses of subclasses and of layers", function()
    local Base = nn.Module:extend("Base")
    function Base:init(n) self.lin = nn.Linear(n, n) end
    function Base:forward(x) return self.lin(x) end
    local Derived = Base:extend("Derived")
    function Derived:init(n)
      Base.init(self, n)
      self.out = nn.Linear(n, 1)
    end
    function Derived:forward(x) return self.out(Base.forward(self, x)) end
    local d = Derived(3)
    assert.same({2, 1}, d(sg.randn(2, 3)):shape())
    assert.same({"lin.weight", "lin.bias", "out.weight", "out.bias"}, d:state_dict_keys())
    assert.are.equal("Derived(\n  (lin): Linear(in_features=3, out_features=3, bias=True)\n"
      .. "  (out): Linear(in_features=3, out_features=1, bias=True)\n)", tostring(d))
    local Scaled = nn.Linear:extend("ScaledLinear")
    function Scaled:forward(x) return nn.Linear.forward(self, x) * 2 end
    local s = Scaled(2, 2)
    assert.matches("^ScaledLinear%(in_features=2", tostring(s))
    assert.same({"weight", "bias"}, s:state_dict_keys())
  end)
end)

describe("load_state_dict errors", function()
  local function net() return nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)) end

  it("reports missing and unexpected keys by name", function()
    local sd = net():state_dict()
    sd["1.running_var"] = nil
    sd["0.bias"] = nil
    sd["2.weight"] = sg.zeros(1)
    assert.has_error(function() net():load_state_dict(sd) end,
      "sgen.nn.Sequential: load_state_dict: missing keys: 0.bias, 1.running_var; "
      .. "unexpected keys: 2.weight")
  end)

  it("reports shape mismatches by name and shape, even when not strict", function()
    local sd = net():state_dict()
    sd["0.weight"] = sg.zeros(3, 4)
    local msg = "sgen.nn.Sequential: load_state_dict: size mismatch for 0.weight: "
      .. "the checkpoint has shape 3x4, the model 3x2"
    assert.has_error(function() net():load_state_dict(sd) end, msg)
    assert.has_error(function() net():load_state_dict(sd, {strict = false}) end, msg)
  end)

  it("copies nothing when a check fails", function()
    local m = net()
    local before = m[1].weight:totable()
    local sd = net():state_dict()
    sd["1.bias"] = sg.zeros(5)
    assert.has_error(function() m:load_state_dict(sd) end)
    assert.same(before, m[1].weight:totable())
  end)

  it("non-strict loading returns the missing and unexpected keys", function()
    local m = net()
    local r = m:load_state_dict({["0.weight"] = sg.ones(3, 2), extra = sg.zeros(1)},
      {strict = false})
    assert.same({{1, 1}, {1, 1}, {1, 1}}, m[1].weight:totable())
    assert.same({"extra"}, r.unexpected_keys)
    assert.same({"0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
      "1.num_batches_tracked"}, r.missing_keys)
  end)

  it("rejects values that are not tensors, and bad arguments", function()
    assert.has_error(function() nn.Linear(1, 1):load_state_dict({weight = 1, bias = sg.zeros(1)}) end,
      "sgen.nn.Linear: load_state_dict: 'weight' is a number, expected a tensor")
    assert.has_error(function() nn.Linear(1, 1):load_state_dict(nil) end,
      "sgen.nn.Linear: load_state_dict: expected a table {name = tensor}, got nil")
    assert.has_error(function() nn.Linear(1, 1):load_state_dict({}, {strict = true, strickt = 1}) end,
      "sgen.nn.Linear:load_state_dict: unknown option 'strickt' (expected strict)")
  end)

  it("converts dtypes while loading", function()
    local m = nn.Linear(2, 1)
    m:load_state_dict({weight = sg.tensor({{1, 2}}, {dtype = "float64"}),
      bias = sg.tensor({3}, {dtype = "float64"})})
    assert.are.equal("float32", m.weight:dtype())
    assert.same({{1, 2}}, m.weight:totable())
  end)
end)

describe("nn errors", function()
  it("Conv2d names itself and the wrong input", function()
    local c = nn.Conv2d(3, 8, 3)
    assert.has_error(function() c(sg.zeros(3, 32)) end,
      "sgen.nn.Conv2d: input has 2 dims (3x32), expected 3 (CxHxW) or 4 (NxCxHxW)")
    assert.has_error(function() c(sg.zeros(2, 4, 8, 8)) end,
      "sgen.nn.Conv2d: input has 4 channels (2x4x8x8), expected in_channels = 3")
    assert.has_error(function() c("x") end, "sgen.nn.Conv2d: expected a tensor input, got string")
    assert.has_error(function() nn.ConvTranspose2d(3, 2, 2)(sg.zeros(5)) end,
      "sgen.nn.ConvTranspose2d: input has 1 dims (5), expected 3 (CxHxW) or 4 (NxCxHxW)")
  end)

  it("other layers check their inputs", function()
    assert.has_error(function() nn.Linear(5, 3)(sg.zeros(2, 4)) end,
      "sgen.nn.Linear: input's last dim is 4 (2x4), expected in_features = 5")
    assert.has_error(function() nn.BatchNorm2d(3)(sg.zeros(2, 3)) end,
      "sgen.nn.BatchNorm2d: input has 2 dims (2x3), expected 4 (NxCxHxW)")
    assert.has_error(function() nn.BatchNorm2d(3)(sg.zeros(2, 4, 2, 2)) end,
      "sgen.nn.BatchNorm2d: input has 4 channels (2x4x2x2), expected num_features = 3")
    assert.has_error(function() nn.BatchNorm1d(3)(sg.zeros(2, 3, 2, 2)) end,
      "sgen.nn.BatchNorm1d: input has 4 dims (2x3x2x2), expected 2 (NxC) or 3 (NxCxL)")
    assert.has_error(function() nn.LayerNorm({4, 5})(sg.zeros(2, 5, 4)) end,
      "sgen.nn.LayerNorm: input of shape 2x5x4 does not end with normalized_shape 4x5")
    assert.has_error(function() nn.MaxPool2d(2)(sg.zeros(4, 4)) end,
      "sgen.nn.MaxPool2d: input has 2 dims (4x4), expected 3 (CxHxW) or 4 (NxCxHxW)")
    assert.has_error(function() nn.Upsample({scale_factor = 2})(sg.zeros(1, 4, 4)) end,
      "sgen.nn.Upsample: input has 3 dims (1x4x4), expected 4 (NxCxHxW)")
    assert.has_error(function() nn.ReLU()(nil) end, "sgen.nn.ReLU: expected a tensor input, got nil")
    assert.has_error(function()
      nn.InstanceNorm2d(2, {track_running_stats = true, momentum = false})(sg.zeros(1, 2, 3, 3))
    end, "sgen.nn.InstanceNorm2d: momentum=false (a cumulative average) is not supported with "
      .. "running stats")
    assert.has_error(function() nn.InstanceNorm2d(2, {affine = true})(sg.zeros(1, 3, 3, 3)) end,
      "sgen.nn.InstanceNorm2d: input has 3 channels (1x3x3x3), expected num_features = 2")
  end)

  it("constructors check their arguments", function()
    assert.has_error(function() nn.Conv2d(3, 8, 3, {strides = 2}) end,
      "sgen.nn.Conv2d: unknown option 'strides' (expected stride, padding, dilation, groups, "
      .. "bias, padding_mode, dtype, device)")
    assert.has_error(function() nn.Conv2d(3, 8, 3, {groups = 2}) end,
      "sgen.nn.Conv2d: in_channels (3) must be divisible by groups (2)")
    assert.has_error(function() nn.Conv2d(4, 6, 0) end,
      "sgen.nn.Conv2d: kernel_size must be an integer >= 1 or a pair {h, w} of them, got 0")
    assert.has_error(function() nn.Conv2d(4, 6, 3, {padding_mode = "circular"}) end,
      "sgen.nn.Conv2d: option 'padding_mode' must be zeros, reflect or replicate, got circular")
    assert.has_error(function() nn.Conv2d(4, 6, 3, {padding = "same", stride = 2}) end,
      "sgen.nn.Conv2d: padding='same' is not supported for strided convolutions")
    assert.has_error(function() nn.Linear(2.5, 3) end,
      "sgen.nn.Linear: in_features must be an integer >= 0, got 2.5")
    assert.has_error(function() nn.Linear(2, 3, {bias = "yes"}) end,
      "sgen.nn.Linear: option 'bias' must be a boolean, got string")
    assert.has_error(function() nn.Dropout(1.5) end,
      "sgen.nn.Dropout: dropout probability has to be between 0 and 1, but got 1.5")
    assert.has_error(function() nn.Upsample({}) end,
      "sgen.nn.Upsample: give exactly one of the options 'size' and 'scale_factor'")
    assert.has_error(function() nn.Upsample({scale_factor = 2, align_corners = true}) end,
      "sgen.nn.Upsample: align_corners option can only be set with the bilinear mode")
    assert.has_error(function() nn.Softmax() end,
      "sgen.nn.Softmax: dim must be a non-zero integer (1-based, negative from the end), got nil")
    assert.has_error(function() nn.BatchNorm2d(0) end,
      "sgen.nn.BatchNorm2d: num_features must be an integer >= 1, got 0")
    assert.has_error(function() nn.ReflectionPad2d({1, 2}) end,
      "sgen.nn.ReflectionPad2d: padding must be an integer or 4 integers {left, right, top, bottom}")
    assert.has_error(function() nn.ConvTranspose2d(2, 2, 3, {output_padding = 1}) end,
      "sgen.nn.ConvTranspose2d: output_padding (1) must be smaller than either stride (1) or dilation (1)")
    assert.has_error(function() nn.Sequential(nn.ReLU(), 3) end,
      "sgen.nn.Sequential: argument 2 expected a module, got number")
  end)

  it("Module misuse raises clear errors", function()
    local M = nn.Module:extend("M")
    function M:init() self.w = nn.Parameter(sg.zeros(2)); self.c = nn.ReLU() end
    local m = M()
    assert.has_error(function() m.w = 3 end,
      "sgen.nn.M: cannot assign a number to parameter 'w' (expected a leaf tensor that "
      .. "requires grad, e.g. nn.Parameter(t), or nil)")
    assert.has_error(function() m.w = sg.zeros(2) end,
      "sgen.nn.M: cannot assign a tensor that does not require grad to parameter 'w' "
      .. "(expected a leaf tensor that requires grad, e.g. nn.Parameter(t), or nil)")
    assert.has_error(function() m.c = "relu" end,
      "sgen.nn.M: cannot assign a string to child module 'c' (expected a module or nil)")
    assert.has_error(function() m[1] = nn.ReLU() end,
      "sgen.nn.M: field names must be strings, got number (use add_module for containers)")
    assert.has_error(function() m:register_buffer("a.b", sg.zeros(1)) end,
      "sgen.nn.M: buffer name must be a non-empty string without '.', got 'a.b'")
    assert.has_error(function() m:register_buffer("w", sg.zeros(1)) end,
      "sgen.nn.M: register_buffer: attribute 'w' already exists")
    assert.has_error(function() m:forward(1) end,
      "sgen.nn.M: forward is not implemented (define function M:forward(x))")
    assert.has_error(function() m:to("int64") end,
      "sgen.nn.M: to: expected a floating dtype (float32, float64) or a device (cpu, cuda, "
      .. "cuda:N), got 'int64'")
    assert.has_error(function() m:train("yes") end, "sgen.nn.M: train: mode must be a boolean, got string")
    assert.has_error(function() nn.Module:extend(3) end)
    assert.has_error(function() nn.Parameter(3) end, "sgen.nn.Parameter: expected a tensor, got number")
  end)
end)

describe("default initializations (PyTorch's)", function()
  local function stats(t)
    local d = t:double()
    return d:mean():item(), d:var():item(), d:abs():max():item()
  end

  it("Linear: kaiming_uniform(a=sqrt(5)) weights and U(+-1/sqrt(fan_in)) bias", function()
    sg.manual_seed(1)
    local lin = nn.Linear(256, 256)
    local bound = 1 / math.sqrt(256)
    local mean, var, amax = stats(lin.weight)
    assert.is_true(amax <= bound)
    assert.is_true(amax > 0.99 * bound)
    assert.is_true(math.abs(mean) < 0.05 * bound)
    -- U(-b, b) has variance b^2/3 (PyTorch's weights: the same law)
    assert.is_true(math.abs(var / (bound * bound / 3) - 1) < 0.03, "variance " .. var)
    local _, _, bmax = stats(lin.bias)
    assert.is_true(bmax <= bound and bmax > 0.9 * bound)
  end)

  it("Conv2d: fan_in = in/groups * kh * kw", function()
    sg.manual_seed(2)
    local c = nn.Conv2d(32, 64, 3, {groups = 2})
    local bound = 1 / math.sqrt(16 * 9)
    local _, var, amax = stats(c.weight)
    assert.is_true(amax <= bound and amax > 0.99 * bound)
    assert.is_true(math.abs(var / (bound * bound / 3) - 1) < 0.05, "variance " .. var)
    local _, _, bmax = stats(c.bias)
    assert.is_true(bmax <= bound and bmax > 0.8 * bound)
  end)

  it("ConvTranspose2d: fan_in from weight dim 2 (out/groups * kh * kw)", function()
    sg.manual_seed(3)
    local c = nn.ConvTranspose2d(64, 16, 4)
    assert.same({64, 16, 4, 4}, c.weight:shape())
    local bound = 1 / math.sqrt(16 * 16)
    local _, _, amax = stats(c.weight)
    assert.is_true(amax <= bound and amax > 0.99 * bound)
    local _, _, bmax = stats(c.bias)
    assert.is_true(bmax <= bound and bmax > 0.5 * bound)
  end)

  it("BatchNorm: weight 1, bias 0, running stats 0 and 1, count 0", function()
    local bn = nn.BatchNorm2d(4)
    assert.same({1, 1, 1, 1}, bn.weight:totable())
    assert.same({0, 0, 0, 0}, bn.bias:totable())
    assert.same({0, 0, 0, 0}, bn.running_mean:totable())
    assert.same({1, 1, 1, 1}, bn.running_var:totable())
    assert.are.equal(0, bn.num_batches_tracked:item())
    local inorm = nn.InstanceNorm2d(4)
    assert.are.equal(0, #inorm:parameters())
    assert.are.equal(0, #inorm:buffers())
    local ln = nn.LayerNorm({2, 3})
    assert.same({{1, 1, 1}, {1, 1, 1}}, ln.weight:totable())
  end)

  it("factory options build parameters in another dtype", function()
    local lin = nn.Linear(3, 2, {dtype = "float64"})
    assert.are.equal("float64", lin.weight:dtype())
    assert.are.equal("float64", nn.BatchNorm2d(2, {dtype = "float64"}).running_mean:dtype())
    assert.are.equal("int64", nn.BatchNorm2d(2, {dtype = "float64"}).num_batches_tracked:dtype())
  end)
end)

describe("nn.init", function()
  local init = nn.init

  it("calculate_gain follows PyTorch", function()
    assert.are.equal(1, init.calculate_gain("linear"))
    assert.are.equal(1, init.calculate_gain("conv2d"))
    assert.are.equal(1, init.calculate_gain("sigmoid"))
    assert.are.equal(5 / 3, init.calculate_gain("tanh"))
    assert.are.equal(math.sqrt(2), init.calculate_gain("relu"))
    assert.are.equal(math.sqrt(2 / (1 + 0.01 ^ 2)), init.calculate_gain("leaky_relu"))
    assert.are.equal(math.sqrt(2 / (1 + 0.2 ^ 2)), init.calculate_gain("leaky_relu", 0.2))
    assert.are.equal(0.75, init.calculate_gain("selu"))
    assert.has_error(function() init.calculate_gain("swish") end,
      "sgen.nn.init.calculate_gain: unsupported nonlinearity swish (expected linear, conv2d, "
      .. "sigmoid, tanh, relu, leaky_relu or selu)")
  end)

  it("fills in place without recording autograd", function()
    local p = nn.Parameter(sg.zeros(64, 32))
    assert.are.equal(p, init.kaiming_uniform_(p))
    assert.is_true(p.is_leaf)
    assert.is_nil(p.grad_fn)
    assert.is_true(p:needs_grad())
    assert.is_true(p:abs():max():item() > 0)
  end)

  it("uniform_, normal_, constant_, zeros_, ones_, eye_", function()
    sg.manual_seed(7)
    local t = sg.empty(100000)
    init.uniform_(t, -2, 3)
    assert.is_true(t:min():item() >= -2 and t:max():item() < 3)
    assert.is_true(math.abs(t:double():mean():item() - 0.5) < 0.02)
    init.normal_(t, 1, 2)
    assert.is_true(math.abs(t:double():mean():item() - 1) < 0.03)
    assert.is_true(math.abs(t:double():std():item() - 2) < 0.03)
    init.uniform_(t)
    assert.is_true(t:min():item() >= 0 and t:max():item() < 1)
    local s = sg.empty(2, 2)
    assert.same({{0.5, 0.5}, {0.5, 0.5}}, init.constant_(s, 0.5):totable())
    assert.same({{0, 0}, {0, 0}}, init.zeros_(s):totable())
    assert.same({{1, 1}, {1, 1}}, init.ones_(s):totable())
    assert.same({{1, 0, 0}, {0, 1, 0}}, init.eye_(sg.empty(2, 3)):totable())
  end)

  it("xavier and kaiming use PyTorch's fans and gains", function()
    sg.manual_seed(8)
    local w = sg.empty(200, 100, 3, 3) -- fan_in 900, fan_out 1800
    init.xavier_uniform_(w, 2)
    local a = 2 * math.sqrt(6 / 2700)
    assert.is_true(w:abs():max():item() <= a and w:abs():max():item() > 0.99 * a)
    init.xavier_normal_(w)
    assert.is_true(math.abs(w:double():std():item() / math.sqrt(2 / 2700) - 1) < 0.02)
    init.kaiming_normal_(w, {mode = "fan_out", nonlinearity = "relu"})
    assert.is_true(math.abs(w:double():std():item() / (math.sqrt(2) / math.sqrt(1800)) - 1) < 0.02)
    init.kaiming_uniform_(w, {nonlinearity = "relu"})
    local b = math.sqrt(3) * math.sqrt(2) / math.sqrt(900)
    assert.is_true(w:abs():max():item() <= b and w:abs():max():item() > 0.99 * b)
    init.kaiming_uniform_(w, math.sqrt(5)) -- a as a number: the layers' default
    local b5 = 1 / math.sqrt(900)
    assert.is_true(w:abs():max():item() <= b5 and w:abs():max():item() > 0.99 * b5)
    assert.has_error(function() init.kaiming_uniform_(w, {mode = "fan_avg"}) end,
      "sgen.nn.init.kaiming_uniform_: mode fan_avg not supported, please use one of fan_in, fan_out")
  end)

  it("orthogonal_ gives orthonormal rows or columns", function()
    sg.manual_seed(9)
    for _, shape in ipairs({{6, 4}, {4, 6}, {3, 2, 2}}) do
      local w = init.orthogonal_(sg.empty(table.unpack(shape)), 1.5)
      local m = w:double():reshape(shape[1], -1)
      local gram = (m:size(1) >= m:size(2)) and m:t():matmul(m) or m:matmul(m:t())
      local n = gram:size(1)
      assert_close(gram, sg.eye(n, {dtype = "float64"}) * 2.25, "gram " .. table.concat(shape, "x"),
        1e-6, 0)
    end
  end)

  it("rejects bad tensors and arguments", function()
    assert.has_error(function() init.xavier_uniform_(sg.empty(5)) end,
      "sgen.nn.init.xavier_uniform_: fan in and fan out can not be computed for a tensor with "
      .. "fewer than 2 dims (got 5)")
    assert.has_error(function() init.uniform_(sg.zeros(3, {dtype = "int64"})) end,
      "sgen.nn.init.uniform_: expected a float32 or float64 tensor, got int64")
    assert.has_error(function() init.normal_(nil) end,
      "sgen.nn.init.normal_: argument 1 expected a tensor, got nil")
    assert.has_error(function() init.normal_(sg.zeros(2), "a") end,
      "sgen.nn.init.normal_: mean must be a number, got string")
    assert.has_error(function() init.kaiming_normal_(sg.zeros(2, 2), {slope = 1}) end,
      "sgen.nn.init.kaiming_normal_: unknown option 'slope' (expected a, mode, nonlinearity)")
  end)
end)
