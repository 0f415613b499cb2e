-- Issue 16, item 8: the neural-network names a PyTorch user reaches for:
-- F.one_hot gelu binary_cross_entropy normalize cosine_similarity embedding
-- group_norm, sg.erf, nn.SiLU GELU Dropout2d Embedding GroupNorm and the loss
-- modules, nn.utils (gradient clipping, parameter vectors, spectral_norm),
-- Module:clone, sg.optim.EMA, sg.autograd.grad. Values against PyTorch
-- from spec/fixtures/nnfns.safetensors (tools/make_nnfns_fixtures.py).
local sg = require "sgen"
local H = require "spec.helpers"
local F, nn = sg.F, sg.nn

local fx = H.fixture("nnfns")
local function fix(name) return (assert(fx[name], name)) end
local function d(name) return fix(name):double() end

local function gradgradcheck(f, inputs)
  for _, t in ipairs(inputs) do t:requires_grad_() end
  assert.is_true(sg.gradgradcheck(f, inputs, {eps = 1e-6, atol = 1e-5}))
end

-- Runs fn on the case's inputs (float64, with grad) and checks out and the
-- gradients of sum(out * r) against PyTorch.
local function check(case, names, fn, tol)
  tol = tol or 1e-10
  local ins = {}
  for i, n in ipairs(names) do ins[i] = d(case .. "." .. n):requires_grad_() end
  local out = fn(table.unpack(ins))
  H.assert_close(out, fix(case .. ".out"), tol, case .. ".out")
  local gs = sg.grad({(out * d(case .. ".r")):sum()}, ins)
  for i, n in ipairs(names) do
    H.assert_close(gs[i], fix(case .. ".grad_" .. n), tol, case .. ".grad_" .. n)
  end
end

local function msg(f, ...) return H.error_message(f, ...) end

describe("sg.erf", function()
  it("matches torch.erf and has gradients of every order", function()
    -- torch.erf(torch.tensor([-2., -0.5, 0., 0.5, 2.], dtype=torch.float64))
    H.assert_close(sg.erf(H.f64({-2, -0.5, 0, 0.5, 2})),
      {-0.9953222650189527, -0.5204998778130465, 0, 0.5204998778130465, 0.9953222650189527}, 1e-15)
    assert.equal(sg.erf, sg.core.erf)
    H.assert_close(sg.tensor({1.0}):erf(), {0.8427007794}, 1e-6)
    H.gradcheck(function(x) return sg.erf(x) end, {H.f64({-1.5, -0.3, 0.2, 1.1})})
    gradgradcheck(function(x) return sg.erf(x) end, {H.f64({-1.5, -0.3, 0.2, 1.1})})
    assert.matches("expected a tensor", msg(sg.erf, 3))
  end)
end)

describe("F: new functional ops", function()
  it("gelu (exact and tanh) against PyTorch, gradients of two orders", function()
    check("gelu", {"x"}, function(x) return F.gelu(x) end)
    check("gelu_tanh", {"x"}, function(x) return F.gelu(x, {approximate = "tanh"}) end)
    H.assert_close(F.gelu(fix("gelu.x")), fix("gelu.out"), 1e-6, "float32")
    for _, a in ipairs({"none", "tanh"}) do
      local x = H.f64({-2, -0.4, 0.3, 1.7})
      H.gradcheck(function(t) return F.gelu(t, {approximate = a}) end, {x})
      gradgradcheck(function(t) return F.gelu(t, {approximate = a}) end, {x})
    end
    assert.matches("sgen.gelu: option 'approximate' expected \"none\" or \"tanh\", got \"erf\"",
      msg(F.gelu, sg.ones(2), {approximate = "erf"}), 1, true)
    assert.matches("unknown option 'approx'", msg(F.gelu, sg.ones(2), {approx = "tanh"}), 1, true)
    assert.matches("argument 1 (input) expected a tensor", msg(F.gelu, {1, 2}), 1, true)
  end)

  it("one_hot: 1-based labels, PyTorch's layout", function()
    local y = F.one_hot(sg.tensor({1, 3, 2}, {dtype = "int64"}))
    assert.equal("int64", y:dtype())
    -- torch.nn.functional.one_hot(torch.tensor([0, 2, 1]))
    assert.same({{1, 0, 0}, {0, 0, 1}, {0, 1, 0}}, y:totable())
    local z = F.one_hot(sg.tensor({{2}, {1}}, {dtype = "int64"}), 4)
    assert.same({2, 1, 4}, z:shape())
    assert.same({{{0, 1, 0, 0}}, {{1, 0, 0, 0}}}, z:totable())
    assert.matches("class labels must be in 1..3 (1-based), got 0",
      msg(F.one_hot, sg.tensor({0, 1}, {dtype = "int64"}), 3), 1, true)
    assert.matches("class labels must be in 1..2 (1-based), got 3",
      msg(F.one_hot, sg.tensor({3}, {dtype = "int64"}), 2), 1, true)
    assert.matches("expected an int64 tensor", msg(F.one_hot, sg.tensor({1.0})), 1, true)
    assert.matches("num_classes) expected a positive integer",
      msg(F.one_hot, sg.tensor({1}, {dtype = "int64"}), 1.5), 1, true)
  end)

  it("binary_cross_entropy against PyTorch; double backward", function()
    check("bce", {"x"}, function(x) return F.binary_cross_entropy(x, d("bce.t")) end)
    check("bce_w", {"x"}, function(x)
      return F.binary_cross_entropy(x, d("bce.t"), {weight = d("bce_w.w"), reduction = "none"})
    end)
    -- F.binary_cross_entropy(torch.tensor([0.5, 0.9]), torch.tensor([1., 1.]), reduction="sum")
    H.assert_close(F.binary_cross_entropy(sg.tensor({0.5, 0.9}), sg.tensor({1.0, 1}),
      {reduction = "sum"}), 0.7985, 1e-4)
    -- log clamped at -100 as PyTorch: BCE(0, 1) = 100
    H.assert_close(F.binary_cross_entropy(H.f64({0}), H.f64({1})), 100, 1e-12)
    local p, t = H.f64({0.2, 0.7, 0.4}), H.f64({0, 1, 0.3})
    H.gradcheck(function(x) return F.binary_cross_entropy(x, t) end, {p})
    gradgradcheck(function(x) return F.binary_cross_entropy(x, t) end, {p})
    H.gradcheck(function(y) return F.binary_cross_entropy(p:detach(), y) end, {t})
    assert.matches("all elements of input should be between 0 and 1",
      msg(F.binary_cross_entropy, sg.tensor({1.5}), sg.tensor({1.0})), 1, true)
    assert.matches("target has shape 3 but input has shape 2",
      msg(F.binary_cross_entropy, sg.tensor({0.5, 0.5}), sg.ones(3)), 1, true)
    assert.matches("option 'reduction' expected",
      msg(F.binary_cross_entropy, sg.tensor({0.5}), sg.ones(1), {reduction = "avg"}), 1, true)
  end)

  it("normalize and cosine_similarity against PyTorch; double backward", function()
    check("normalize", {"x"}, function(x) return F.normalize(x) end)
    check("normalize_p1", {"x"}, function(x) return F.normalize(x, {p = 1, dim = 1}) end)
    check("cos", {"a", "b"}, function(a, b) return F.cosine_similarity(a, b) end)
    check("cos_bc", {"a", "b"}, function(a, b) return F.cosine_similarity(a, b, {dim = -1}) end)
    -- torch: F.normalize(torch.tensor([[3., 4.]])), F.cosine_similarity([[1, 0]], [[1, 1]])
    H.assert_close(F.normalize(sg.tensor({{3.0, 4}})), {{0.6, 0.8}}, 1e-6)
    H.assert_close(F.cosine_similarity(sg.tensor({{1.0, 0}}), sg.tensor({{1.0, 1}})), {0.7071068}, 1e-6)
    -- a zero row stays zero (the norm is clamped to eps)
    H.assert_close(F.normalize(sg.zeros(1, 3)), {{0, 0, 0}}, 0)
    local x, y = H.f64({{1, -2, 0.5}, {0.3, 0.2, -1}}), H.f64({{0.4, 1, -1}, {2, 0.1, 0.7}})
    gradgradcheck(function(a) return F.normalize(a) end, {x})
    gradgradcheck(function(a, b) return F.cosine_similarity(a, b) end, {x, y})
    assert.matches("option 'dim' must be a non-zero integer in [-2, 2], got 3",
      msg(F.normalize, sg.ones(2, 2), {dim = 3}), 1, true)
    assert.matches("x1 (2x3) and x2 (4) do not broadcast",
      msg(F.cosine_similarity, sg.ones(2, 3), sg.ones(4)), 1, true)
  end)

  it("embedding against PyTorch, padding_idx rows get no gradient", function()
    local idx = fix("emb.idx")
    check("emb", {"w"}, function(w) return F.embedding(idx, w) end)
    check("emb_pad", {"w"}, function(w) return F.embedding(idx, w, {padding_idx = 2}) end)
    H.gradcheck(function(w) return F.embedding(idx, w) end, {d("emb.w")})
    -- padding_idx = -4 is row 2: its gradient is zero, the others' are not
    local w = d("emb.w"):requires_grad_()
    local g = sg.grad({F.embedding(idx, w, {padding_idx = -4}):sum()}, {w})[1]
    assert.same({0, 0, 0}, g[2]:totable())
    assert.same({1, 1, 1}, g[1]:totable())
    assert.matches("index 6 out of range",
      msg(F.embedding, sg.tensor({6}, {dtype = "int64"}), sg.ones(5, 2)), 1, true)
    assert.matches("expected an int64 tensor of 1-based indices",
      msg(F.embedding, sg.tensor({1.0}), sg.ones(5, 2)), 1, true)
    assert.matches("weight has 1 dims (5), expected 2",
      msg(F.embedding, idx, sg.ones(5)), 1, true)
    assert.matches("option 'padding_idx' must be within 1..5 or -5..-1, got 0",
      msg(F.embedding, idx, sg.ones(5, 2), {padding_idx = 0}), 1, true)
    assert.matches("unknown option 'max_norm'",
      msg(F.embedding, idx, sg.ones(5, 2), {max_norm = 1}), 1, true)
  end)

  it("group_norm against PyTorch; double backward", function()
    check("gn", {"x", "w", "b"}, function(x, w, b) return F.group_norm(x, 2, w, b, {eps = 1e-3}) end)
    sg.manual_seed(3)
    local x = sg.randn(2, 4, 2, {dtype = "float64"})
    local w, b = sg.randn(4, {dtype = "float64"}), sg.randn(4, {dtype = "float64"})
    gradgradcheck(function(a, c, e) return F.group_norm(a, 2, c, e) end, {x, w, b})
    assert.matches("input has 4 channels (1x4x3), not divisible by num_groups = 3",
      msg(F.group_norm, sg.ones(1, 4, 3), 3), 1, true)
    assert.matches("weight has shape 3, expected 4",
      msg(F.group_norm, sg.ones(1, 4, 3), 2, sg.ones(3)), 1, true)
  end)
end)

describe("nn: new modules", function()
  it("print like PyTorch", function()
    assert.equal("GELU(approximate='none')", tostring(nn.GELU()))
    assert.equal("GELU(approximate='tanh')", tostring(nn.GELU({approximate = "tanh"})))
    assert.equal("SiLU()", tostring(nn.SiLU()))
    assert.equal("Dropout2d(p=0.5, inplace=False)", tostring(nn.Dropout2d()))
    assert.equal("Embedding(10, 3)", tostring(nn.Embedding(10, 3)))
    assert.equal("GroupNorm(2, 4, eps=1e-05, affine=True)", tostring(nn.GroupNorm(2, 4)))
    assert.equal("MSELoss()", tostring(nn.MSELoss()))
    assert.equal("L1Loss()", tostring(nn.L1Loss()))
    assert.equal("BCEWithLogitsLoss()", tostring(nn.BCEWithLogitsLoss()))
    assert.equal("CrossEntropyLoss()", tostring(nn.CrossEntropyLoss()))
  end)

  it("SiLU and GELU apply F.silu and F.gelu", function()
    local x = sg.randn(3, 4)
    H.assert_equal_tensors(nn.SiLU()(x), F.silu(x))
    H.assert_equal_tensors(nn.GELU()(x), F.gelu(x))
    H.assert_equal_tensors(nn.GELU({approximate = "tanh"})(x), F.gelu(x, {approximate = "tanh"}))
    assert.matches("option 'approximate' must be", msg(nn.GELU, {approximate = "x"}), 1, true)
  end)

  it("Embedding: N(0, 1) init, padding row zero, state_dict 'weight', from_pretrained", function()
    sg.manual_seed(0)
    local e = nn.Embedding(1000, 8, {padding_idx = 3})
    assert.same({"weight"}, e:state_dict_keys())
    assert.same({0, 0, 0, 0, 0, 0, 0, 0}, e.weight[3]:totable())
    local w = e.weight:detach()
    assert.is_true(math.abs(w:mean():item()) < 0.05 and math.abs(w:std():item() - 1) < 0.05)
    local idx = sg.tensor({{3, 1}, {2, 3}}, {dtype = "int64"})
    local y = e(idx)
    assert.same({2, 2, 8}, y:shape())
    y:sum():backward()
    assert.same({0, 0, 0, 0, 0, 0, 0, 0}, e.weight.grad[3]:totable())
    H.assert_close(e.weight.grad[1], sg.ones(8), 0)
    assert.equal("Embedding(1000, 8, padding_idx=3)", tostring(e))
    local p = nn.Embedding.from_pretrained(sg.tensor({{1.0, 2}, {3, 4}}))
    assert.same({{3, 4}, {1, 2}}, p(sg.tensor({2, 1}, {dtype = "int64"})):totable())
    assert.is_false(p.weight:needs_grad())
    assert.same({"weight"}, p:state_dict_keys())
    assert.is_true(nn.Embedding.from_pretrained(sg.ones(2, 2), {freeze = false}).weight:needs_grad())
    assert.matches("padding_idx' must be within 1..4", msg(nn.Embedding, 4, 2, {padding_idx = 5}), 1, true)
  end)

  it("GroupNorm: PyTorch's parameters and values", function()
    local g = nn.GroupNorm(2, 4, {eps = 1e-3, dtype = "float64"})
    assert.same({"weight", "bias"}, g:state_dict_keys())
    g:load_state_dict({weight = d("gn.w"), bias = d("gn.b")})
    H.assert_close(g(d("gn.x")), fix("gn.out"), 1e-10)
    assert.equal("GroupNorm(3, 6, eps=1e-05, affine=False)", tostring(nn.GroupNorm(3, 6, {affine = false})))
    assert.same({}, nn.GroupNorm(3, 6, {affine = false}):state_dict_keys())
    assert.matches("num_channels (5) must be divisible by num_groups (2)", msg(nn.GroupNorm, 2, 5), 1, true)
    assert.matches("expected N x 4 x ...", msg(function() return g(sg.ones(2, 3)) end), 1, true)
  end)

  it("Dropout2d zeroes whole channels, scaled by 1/(1-p); identity in eval", function()
    sg.manual_seed(1)
    local m = nn.Dropout2d(0.5)
    local y = m(sg.ones(8, 16, 3, 3))
    local zeros = 0
    for n = 1, 8 do
      for c = 1, 16 do
        local ch = y[n][c]
        local v = ch:max():item()
        assert.equal(v, ch:min():item()) -- the whole channel alike
        assert.is_true(v == 0 or v == 2)
        if v == 0 then zeros = zeros + 1 end
      end
    end
    assert.is_true(zeros > 32 and zeros < 96, "about half the channels dropped: " .. zeros)
    m:eval()
    local x = sg.randn(2, 3, 2, 2)
    H.assert_equal_tensors(m(x), x)
    m:train()
    H.assert_close(nn.Dropout2d(1)(sg.ones(1, 2, 2, 2)), sg.zeros(1, 2, 2, 2), 0)
    assert.matches("input has 2 dims (2x3), expected 4", msg(function() return m(sg.ones(2, 3)) end), 1, true)
    local xg = sg.randn(2, 3, 2, 2):requires_grad_()
    sg.manual_seed(4)
    local out = nn.Dropout2d(0.3)(xg)
    out:sum():backward()
    H.assert_close(xg.grad, out:detach() / xg:detach(), 1e-5)
  end)

  it("loss modules call F with PyTorch's options; weights are buffers", function()
    local a, b = sg.randn(3, 4), sg.randn(3, 4)
    H.assert_equal_tensors(nn.MSELoss()(a, b), F.mse_loss(a, b))
    H.assert_equal_tensors(nn.MSELoss({reduction = "none"})(a, b), F.mse_loss(a, b, {reduction = "none"}))
    H.assert_equal_tensors(nn.L1Loss({reduction = "sum"})(a, b), F.l1_loss(a, b, {reduction = "sum"}))
    local t = sg.rand(3, 4)
    local pw = sg.rand(4) + 0.5
    local bce = nn.BCEWithLogitsLoss({pos_weight = pw})
    assert.same({"pos_weight"}, bce:state_dict_keys())
    H.assert_equal_tensors(bce(a, t), F.binary_cross_entropy_with_logits(a, t, {pos_weight = pw}))
    local labels = sg.tensor({1, 4, 2}, {dtype = "int64"})
    local cw = sg.rand(4) + 0.5
    local ce = nn.CrossEntropyLoss({weight = cw, label_smoothing = 0.1, ignore_index = 2})
    assert.same({"weight"}, ce:state_dict_keys())
    H.assert_equal_tensors(ce(a, labels),
      F.cross_entropy(a, labels, {weight = cw, label_smoothing = 0.1, ignore_index = 2}))
    -- torch.nn.CrossEntropyLoss()(torch.tensor([[2., 0, 0], [0, 0, 3]]), torch.tensor([0, 2]))
    H.assert_close(nn.CrossEntropyLoss()(sg.tensor({{2.0, 0, 0}, {0, 0, 3}}),
      sg.tensor({1, 3}, {dtype = "int64"})), 0.1672, 1e-4)
    assert.matches("sgen.nn.MSELoss: unknown option 'size_average'",
      msg(nn.MSELoss, {size_average = true}), 1, true)
    assert.matches("option 'reduction' must be", msg(nn.L1Loss, {reduction = "avg"}), 1, true)
    assert.matches("option 'weight' must be a tensor", msg(nn.CrossEntropyLoss, {weight = {1, 2}}), 1, true)
    assert.matches("expected a tensor target", msg(function() return nn.MSELoss()(a, 1) end), 1, true)
  end)
end)

describe("nn.utils", function()
  local function params()
    local p1 = sg.zeros(3, 3, {dtype = "float64"}):requires_grad_()
    local p2 = sg.zeros(4, {dtype = "float64"}):requires_grad_()
    p1.grad, p2.grad = d("clip.g1"), d("clip.g2")
    return p1, p2
  end

  it("clip_grad_norm_ against PyTorch (norm 2 and inf)", function()
    local p1, p2 = params()
    local total = nn.utils.clip_grad_norm_({p1, p2}, 1.0)
    H.assert_close(total, fix("clip_2.total"), 1e-12)
    H.assert_close(p1.grad, fix("clip_2.g1"), 1e-12)
    H.assert_close(p2.grad, fix("clip_2.g2"), 1e-12)
    p1, p2 = params()
    total = nn.utils.clip_grad_norm_({p1, p2}, 0.5, {norm_type = math.huge})
    H.assert_close(total, fix("clip_inf.total"), 1e-12)
    H.assert_close(p1.grad, fix("clip_inf.g1"), 1e-12)
    H.assert_close(p2.grad, fix("clip_inf.g2"), 1e-12)
    -- below max_norm: unchanged
    p1, p2 = params()
    nn.utils.clip_grad_norm_(p1, 1e9)
    H.assert_close(p1.grad, d("clip.g1"), 1e-12)
    -- a module's parameters; no gradients: 0
    assert.equal(0, nn.utils.clip_grad_norm_(nn.Linear(2, 2), 1):item())
    p1.grad = H.f64({0 / 0, 1, 1, 1, 1, 1, 1, 1, 1}):reshape(3, 3)
    assert.matches("is non-finite", msg(nn.utils.clip_grad_norm_, p1, 1, {error_if_nonfinite = true}), 1, true)
    assert.matches("parameters must be a tensor, a list of tensors or a module",
      msg(nn.utils.clip_grad_norm_, 3, 1), 1, true)
  end)

  it("clip_grad_value_", function()
    local p = sg.zeros(3):requires_grad_()
    p.grad = sg.tensor({-2, 0.5, 3})
    nn.utils.clip_grad_value_({p}, 1)
    assert.same({-1, 0.5, 1}, p.grad:totable())
    assert.matches("clip_value must be a number >= 0", msg(nn.utils.clip_grad_value_, p, -1), 1, true)
  end)

  it("parameters_to_vector / vector_to_parameters", function()
    local net = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    local v = nn.utils.parameters_to_vector(net:parameters())
    assert.same({net:num_parameters()}, v:shape())
    H.assert_close(v:narrow(1, 1, 6), net:parameters()[1]:reshape(-1), 0)
    -- differentiable
    local g = sg.grad({(v * v):sum()}, {net:parameters()[1]})[1]
    H.assert_close(g, net:parameters()[1]:detach() * 2, 1e-6)
    nn.utils.vector_to_parameters(sg.arange(1, 12):float(), net)
    assert.same({{1, 2, 3}, {4, 5, 6}}, net:parameters()[1]:totable())
    assert.same({11}, net:parameters()[4]:totable())
    assert.is_true(net:parameters()[1].is_leaf)
    assert.matches("vec has shape 5, expected a 1-D tensor of 11 elements",
      msg(nn.utils.vector_to_parameters, sg.ones(5), net), 1, true)
  end)

  it("spectral_norm: PyTorch's names, power iteration and weight (Linear, Conv2d)", function()
    local lin = nn.utils.spectral_norm(nn.Linear(4, 3, {dtype = "float64"}))
    assert.same({"bias", "weight_orig", "weight_u", "weight_v"}, lin:state_dict_keys())
    assert.equal(fx.__metadata__ and fx.__metadata__.sn_keys or "bias,weight_orig,weight_u,weight_v",
      table.concat(lin:state_dict_keys(), ","))
    lin:load_state_dict({weight_orig = d("sn.weight_orig"), bias = d("sn.bias"),
                         weight_u = d("sn.weight_u"), weight_v = d("sn.weight_v")})
    local y = lin(d("sn.x"))
    H.assert_close(y, fix("sn.y"), 1e-12, "y")
    H.assert_close(lin.weight_u, fix("sn.u1"), 1e-12, "u")
    H.assert_close(lin.weight_v, fix("sn.v1"), 1e-12, "v")
    H.assert_close(lin.weight, fix("sn.weight"), 1e-12, "weight")
    y:sum():backward()
    H.assert_close(lin.weight_orig.grad, fix("sn.grad_weight_orig"), 1e-12, "grad")
    lin:eval()
    local u1 = lin.weight_u:clone()
    H.assert_close(lin(d("sn.x")), fix("sn.y_eval"), 1e-12, "eval")
    H.assert_equal_tensors(lin.weight_u, u1, "u unchanged in eval")
    local conv = nn.utils.spectral_norm(nn.Conv2d(2, 3, 2, {dtype = "float64"}), {n_power_iterations = 3})
    conv:load_state_dict({weight_orig = d("snc.weight_orig"), bias = d("snc.bias"),
                          weight_u = d("snc.weight_u"), weight_v = d("snc.weight_v")})
    H.assert_close(conv(d("snc.x")), fix("snc.y"), 1e-12, "conv y")
    H.assert_close(conv.weight_u, fix("snc.u1"), 1e-12, "conv u")
    H.assert_close(conv.weight_v, fix("snc.v1"), 1e-12, "conv v")
    -- the largest singular value of the normalized weight is about 1
    sg.manual_seed(0)
    local big = nn.utils.spectral_norm(nn.Linear(6, 5))
    for _ = 1, 30 do big(sg.ones(1, 6)) end
    local w = big.weight:detach()
    local v = sg.randn(6, 1)
    for _ = 1, 100 do v = w:t():matmul(w:matmul(v)); v = v / v:norm() end
    H.assert_close(w:matmul(v):norm(), 1, 1e-3)
    -- double backward through the normalized weight
    local sn = nn.utils.spectral_norm(nn.Linear(3, 2, {dtype = "float64"}))
    sn:eval()
    local x = H.f64({{0.3, -1, 2}})
    gradgradcheck(function(wo)
      sg.no_grad(function() sn.weight_orig:copy_(wo:detach()) end)
      local wm = wo
      local sigma = (sn.weight_u * wm:matmul(sn.weight_v:unsqueeze(2)):squeeze(2)):sum()
      return F.linear(x, wm / sigma, sn.bias:detach())
    end, {sn.weight_orig:detach():clone()})
    assert.matches("has no parameter 'kernel'",
      msg(nn.utils.spectral_norm, nn.Linear(2, 2), {name = "kernel"}), 1, true)
    assert.matches("cannot register two spectral_norm hooks on the same parameter weight",
      msg(nn.utils.spectral_norm, lin), 1, true)
  end)
end)

describe("Module:clone", function()
  it("is a deep copy with independent storage", function()
    local net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU())
    net:eval()
    net[1].weight.grad = sg.ones(4, 3)
    local c = net:clone()
    assert.equal(tostring(net), tostring(c))
    assert.is_false(c.training)
    assert.same(net:state_dict_keys(), c:state_dict_keys())
    local sd, cd = net:state_dict(), c:state_dict()
    for k, v in pairs(sd) do
      H.assert_equal_tensors(cd[k], v, k)
      assert.are_not.equal(v:data_ptr(), cd[k]:data_ptr(), k)
    end
    assert.is_true(c[1].weight:needs_grad() and c[1].weight.is_leaf)
    H.assert_equal_tensors(c[1].weight.grad, sg.ones(4, 3))
    sg.no_grad(function() c[1].weight:fill_(7) c[2].running_mean:fill_(7) end)
    assert.are_not.equal(7, net[1].weight[1][1]:item())
    assert.equal(0, net[2].running_mean[1]:item())
    local x = sg.randn(2, 3)
    c = net:clone()
    H.assert_equal_tensors(c(x), net(x))
    -- a shared module stays shared in the copy
    local l = nn.Linear(2, 2)
    local s = nn.Sequential(l, l)
    local sc = s:clone()
    assert.equal(sc[1], sc[2])
    assert.are_not.equal(l, sc[1])
    -- spectral norm survives a clone (its own buffers)
    local sn = nn.utils.spectral_norm(nn.Linear(2, 2)):clone()
    sn(sg.ones(1, 2))
    assert.same({"bias", "weight_orig", "weight_u", "weight_v"}, sn:state_dict_keys())
  end)
end)

describe("sg.optim.EMA", function()
  it("averages parameters and buffers, copies to a model, round-trips state", function()
    local net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    local ema = sg.optim.EMA(net, {decay = 0.9})
    assert.is_false(ema.module.training)
    assert.is_false(ema.module[1].weight:needs_grad())
    local w0 = net[1].weight:detach():clone()
    sg.no_grad(function() net[1].weight:copy_(w0 + 1) end)
    net(sg.randn(4, 2)) -- moves the running stats and the batch count
    ema:update()
    -- e = w0 + 0.1 * (w0 + 1 - w0)
    H.assert_close(ema.module[1].weight, w0 + 0.1, 1e-6)
    local rm = net[2].running_mean:clone()
    H.assert_close(ema.module[2].running_mean, rm * 0.1, 1e-6)
    assert.equal(1, ema.module[2].num_batches_tracked:item())
    ema:update(net)
    H.assert_close(ema.module[1].weight, w0 + 0.19, 1e-6)
    assert.equal(2, ema.num_updates)
    local other = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema:copy_to(other)
    H.assert_close(other[1].weight, w0 + 0.19, 1e-6)
    local sd = ema:state_dict()
    assert.same(net:state_dict_keys(), (function() local k = {} for n in pairs(sd) do k[#k + 1] = n end return k end)())
    local ema2 = sg.optim.EMA(net, {decay = 0.9}):load_state_dict(sd)
    H.assert_close(ema2.module[1].weight, w0 + 0.19, 1e-6)
    assert.equal("EMA(decay=0.9, updates=2)", tostring(ema))
    assert.matches("option 'decay' must be a number in [0, 1], got 2",
      msg(sg.optim.EMA, net, {decay = 2}), 1, true)
    assert.matches("model expected a module, got table", msg(sg.optim.EMA, {}), 1, true)
  end)
end)

describe("sg.autograd", function()
  it("grad is sg.grad", function()
    assert.equal(sg.grad, sg.autograd.grad)
    local w = sg.tensor({2.0}):requires_grad_()
    H.assert_close(sg.autograd.grad({(w * w):sum()}, {w})[1], {4}, 0)
  end)
end)
