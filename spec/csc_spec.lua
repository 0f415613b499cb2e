-- nn.CSC and nn.CSCDecoder (lua/sgen/nn/csc.lua): the unrolled FISTA/ISTA
-- sparse code against an independent float64 reference (ISTA on the dense
-- matrix of A built element by element from the definition of the
-- transposed convolution, with its own power iteration), ISTA's monotone
-- objective, FISTA beating ISTA, the adjoint pair, gradients (float64
-- gradcheck and gradgradcheck), λ at inference, atom normalization, the L
-- cache schedule and its exact resume (state_dict), the shared dictionary of
-- CSCDecoder, errors.
local sg = require "sgen"
local nn = sg.nn
local F = sg.F
local H = require "spec.helpers"

local F64 = {dtype = "float64"}

-- The dense matrix D (C·H·W x atoms·h·w, row-major flattening of both) of
-- A(z) = conv_transpose2d(z, W, {stride = s, padding = p, output_padding}),
-- written from the definition: out[c][i·s − p + ki][j·s − p + kj] += z[a][i][j]·W[a][c][ki][kj]
-- (0-based), for the output positions inside Hout x Wout.
local function dense_A(W, Hout, Wout, s, p)
  local Wt = W:totable()
  local na, C, kh, kw = #Wt, #Wt[1], #Wt[1][1], #Wt[1][1][1]
  local h = (Hout + 2 * p - kh) // s + 1
  local w = (Wout + 2 * p - kw) // s + 1
  local rows, cols = C * Hout * Wout, na * h * w
  local D = {}
  for r = 1, rows do
    local row = {}
    for c = 1, cols do row[c] = 0 end
    D[r] = row
  end
  for a = 1, na do
    for i = 0, h - 1 do
      for j = 0, w - 1 do
        local col = ((a - 1) * h + i) * w + j + 1
        for c = 1, C do
          for ki = 0, kh - 1 do
            for kj = 0, kw - 1 do
              local oi, oj = i * s - p + ki, j * s - p + kj
              if oi >= 0 and oi < Hout and oj >= 0 and oj < Wout then
                local row = ((c - 1) * Hout + oi) * Wout + oj + 1
                D[row][col] = D[row][col] + Wt[a][c][ki + 1][kj + 1]
              end
            end
          end
        end
      end
    end
  end
  return sg.tensor(D, F64), {na, h, w}
end

-- λ_max(DᵀD) by its own power iteration (plain matmuls, to convergence).
local function ref_lmax(D)
  local M = D:t():matmul(D)
  local v = sg.ones(M:size(1), 1, F64)
  v = v / v:norm()
  local lam = 0
  for _ = 1, 5000 do
    local u = M:matmul(v)
    local new = (u * v):sum():item()
    v = u / u:norm()
    if math.abs(new - lam) <= 1e-15 * new then lam = new break end
    lam = new
  end
  return lam
end

-- Plain ISTA on the dense problem: z ← prox(z + step·Dᵀ(x − Dz)), z₀ = 0.
local function ref_ista(D, x, lambda, iters, nonneg, lmax)
  local step = 0.9 / lmax
  local thr = lambda * step
  local xv = x:reshape(-1, 1)
  local z = sg.zeros(D:size(2), 1, F64)
  for _ = 1, iters do
    local v = z + D:t():matmul(xv - D:matmul(z)) * step
    if nonneg then
      z = (v - thr):relu()
    else
      z = v:sign() * ((v:abs() - thr):relu())
    end
  end
  return z
end

local function maxabs(t) return t:abs():max():item() end

local function objective(D, x, z, lambda)
  local r = x:reshape(-1, 1) - D:matmul(z:reshape(-1, 1))
  return lambda * z:abs():sum():item() + 0.5 * (r * r):sum():item()
end

describe("nn.CSC", function()
  it("is an nn module with the dictionary atoms x in_channels x k x k", function()
    local l = nn.CSC(3, 8, 4, {stride = 2, padding = 1})
    assert.same({8, 3, 4, 4}, l.weight:shape())
    assert.equal(1, #l:parameters())
    assert.same({"weight", "power_L", "power_state"}, l:state_dict_keys())
    assert.equal(1, #l:parameters())
    assert.equal(0.1, l.lambda)
    assert.equal(2, l.iters)
    assert.equal("CSC(3, 8, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), lambda=0.1, "
      .. "iters=2, algorithm=fista)", tostring(l))
    assert.equal(nn.CSC, require("sgen.nn.csc").CSC)
  end)

  for _, case in ipairs({
    {name = "stride 1, no padding, nonneg", C = 1, atoms = 2, k = 3, s = 1, p = 0, H = 6, nonneg = true},
    {name = "stride 2, padding 1, output_padding 1, nonneg", C = 2, atoms = 3, k = 3, s = 2, p = 1, H = 8, nonneg = true},
    {name = "stride 2, padding 1, signed codes", C = 2, atoms = 3, k = 4, s = 2, p = 1, H = 7, nonneg = false, lambda = 0.5},
  }) do
    it("matches a dense float64 ISTA reference after 500 iterations (" .. case.name .. ")", function()
      sg.manual_seed(1)
      local lambda = case.lambda or 0.05
      local l = nn.CSC(case.C, case.atoms, case.k, {stride = case.s, padding = case.p, lambda = lambda,
        iters = 500, algorithm = "ista", nonneg = case.nonneg, dtype = "float64",
        power_iters = 5000, power_tol = 1e-12})
      local x = sg.randn(1, case.C, case.H, case.H, F64)
      local z = l(x)
      local D, cshape = dense_A(l.weight, case.H, case.H, case.s, case.p)
      assert.same({1, cshape[1], cshape[2], cshape[3]}, z:shape())
      local lmax = ref_lmax(D)
      local relL = math.abs(l.L - lmax) / lmax
      assert.is_true(relL < 1e-8, "L " .. l.L .. " vs " .. lmax)
      -- the default power iteration (≤ 50 steps, tol 1e-5) is a lower bound within 1 %
      local _, op = l:code_shape(x)
      l.power_iters, l.power_tol = 50, 1e-5
      local L50 = l:power_iteration(cshape, op)
      assert.is_true(L50 <= lmax * (1 + 1e-12) and L50 > 0.99 * lmax, "L50 " .. L50 .. " vs " .. lmax)
      local zref = ref_ista(D, x, lambda, 500, case.nonneg, lmax)
      local rel = maxabs(z:reshape(-1, 1) - zref) / maxabs(zref)
      if os.getenv("SGEN_SPEC_VERBOSE") then
        print(string.format("\n%s: L rel err %.2e (50-step L %.2e low), code rel err %.2e, %d/%d non-zeros",
          case.name, relL, (lmax - L50) / lmax, rel, z:ne(0):sum():item(), z:numel()))
      end
      assert.is_true(rel < 1e-6, "relative code error " .. rel)
      assert.is_true(maxabs(zref) > 0.01)
      -- the layer's A is the dense D
      local Az = l:decode(z, op)
      assert.is_true(maxabs(Az:reshape(-1, 1) - D:matmul(z:reshape(-1, 1))) < 1e-12)
      -- and the objective agrees
      H.assert_close(l:objective(x, z):item(), {objective(D, x, z, lambda)}, 1e-10, "objective")
    end)
  end

  it("ISTA's objective decreases at every iteration with step 0.9/L", function()
    sg.manual_seed(2)
    local l = nn.CSC(2, 4, 3, {stride = 2, padding = 1, lambda = 0.1, algorithm = "ista", dtype = "float64"})
    local x = sg.randn(2, 2, 8, 8, F64)
    local prev = 0.5 * (x * x):sum():item() -- z = 0
    for k = 1, 25 do
      local f = l:objective(x, l:solve(x, nil, {iters = k})):item()
      assert.is_true(f <= prev + 1e-12, string.format("iteration %d: %.17g > %.17g", k, f, prev))
      prev = f
    end
  end)

  it("FISTA reaches a lower objective than ISTA at equal iterations", function()
    sg.manual_seed(3)
    local l = nn.CSC(3, 6, 3, {stride = 1, padding = 1, lambda = 0.1, dtype = "float64"})
    local x = sg.randn(2, 3, 8, 8, F64)
    local ista = l:objective(x, l:solve(x, nil, {iters = 20, algorithm = "ista"})):item()
    local fista = l:objective(x, l:solve(x, nil, {iters = 20, algorithm = "fista"})):item()
    assert.is_true(fista < ista, fista .. " vs " .. ista)
    -- two steps of FISTA are two steps of ISTA (the first momentum is 0)
    assert.is_true(maxabs(l:solve(x, nil, {iters = 2, algorithm = "ista"})
      - l:solve(x, nil, {iters = 2, algorithm = "fista"})) == 0)
  end)

  it("A and Aᵀ are adjoint: <A z, x> = <z, Aᵀ x> (float64, stride 1 and 2 with padding)", function()
    sg.manual_seed(4)
    for _, g in ipairs({{s = 1, p = 0, H = 7, k = 3}, {s = 2, p = 1, H = 8, k = 4}, {s = 2, p = 1, H = 9, k = 3}}) do
      local l = nn.CSC(3, 5, g.k, {stride = g.s, padding = g.p, dtype = "float64"})
      local x = sg.randn(2, 3, g.H, g.H, F64)
      local cshape, op = l:code_shape(x)
      local z = sg.randn(2, cshape[1], cshape[2], cshape[3], F64)
      local Az = l:decode(z, op)
      assert.same(x:shape(), Az:shape())
      local Atx = F.conv2d(x, l.weight, nil, {stride = g.s, padding = g.p})
      local lhs, rhs = (Az * x):sum():item(), (z * Atx):sum():item()
      assert.is_true(math.abs(lhs - rhs) <= 1e-5 * math.abs(lhs) + 1e-12, lhs .. " vs " .. rhs)
      assert.is_true(math.abs(lhs - rhs) <= 1e-12 * (1 + math.abs(lhs)))
    end
  end)

  it("output shape: the code map of conv2d, and A(z) has x's size (stride 2, odd and even sizes)", function()
    local l = nn.CSC(3, 8, 4, {stride = 2, padding = 1})
    for _, hw in ipairs({{32, 32}, {31, 30}}) do
      local x = sg.randn(2, 3, hw[1], hw[2])
      local z = l(x)
      assert.same(F.conv2d(x, l.weight, nil, {stride = 2, padding = 1}):shape(), z:shape())
      local _, op = l:code_shape(x)
      assert.same(x:shape(), l:decode(z, op):shape())
    end
    assert.same({8, 16, 16}, l(sg.randn(3, 32, 32)):shape()) -- unbatched
  end)

  it("gradients flow through the unrolled iterations (gradcheck, gradgradcheck; input and dictionary)", function()
    sg.manual_seed(5)
    local l = nn.CSC(1, 2, 3, {lambda = 0.01, iters = 3, normalize = false, dtype = "float64"})
    local x = sg.randn(1, 1, 5, 5, F64):requires_grad_()
    local W = l.weight:detach():clone():requires_grad_()
    local L = l:refresh(x)
    local function f(xx, ww) return l:solve(xx, ww, {L = L}) end
    assert.is_true(maxabs(f(x, W)) > 0)
    assert.is_true(sg.gradcheck(f, {x, W}, {eps = 1e-6, atol = 1e-6}))
    assert.is_true(sg.gradgradcheck(f, {x, W}, {eps = 1e-6, atol = 1e-6}))
    -- through the module: input and weight get gradients
    l:eval()
    local z = l(x)
    z:sum():backward()
    assert.is_not_nil(x.grad)
    assert.is_not_nil(l.weight.grad)
    assert.is_true(maxabs(l.weight.grad) > 0)
  end)

  it("lambda can be changed at inference: a higher lambda gives more zeros", function()
    sg.manual_seed(6)
    local l = nn.CSC(3, 16, 3, {padding = 1, iters = 10}):eval()
    local x = sg.randn(2, 3, 8, 8)
    local zeros = {}
    for i, lam in ipairs({0.01, 0.1, 0.5}) do
      l.lambda = lam
      zeros[i] = l(x):eq(0):float():mean():item()
    end
    assert.is_true(zeros[1] < zeros[2] and zeros[2] < zeros[3], table.concat(zeros, " "))
    -- nonneg codes
    assert.is_true(l(x):min():item() >= 0)
    l.lambda = -1
    assert.has_error(function() l(x) end, "sgen.nn.CSC: lambda must be a number >= 0, got -1")
  end)

  it("normalizes the atoms to unit norm before each forward (in place, no gradient); optional", function()
    sg.manual_seed(7)
    local l = nn.CSC(3, 5, 3)
    local norms = function(m) return m.weight:norm(2, {2, 3, 4}) end
    H.assert_close(norms(l), sg.ones(5), 1e-6, "after init")
    local w = l.weight
    sg.no_grad(function() w:copy_(w * sg.tensor({1.0, 2, 3, 4, 5}):view(5, 1, 1, 1)) end)
    l(sg.randn(1, 3, 6, 6))
    assert.is_true(rawequal(w, l.weight))
    H.assert_close(norms(l), sg.ones(5), 1e-6, "after forward")
    assert.is_true(l.weight.is_leaf and l.weight.grad_fn == nil)
    -- off: the weight is left alone
    local m = nn.CSC(3, 5, 3, {normalize = false})
    local before = m.weight:clone()
    m(sg.randn(1, 3, 6, 6))
    H.assert_equal_tensors(m.weight, before, "normalize = false")
    assert.is_true(maxabs(norms(m) - 1) > 1e-3)
  end)

  it("caches L: refreshed every refresh_every training forwards, on a new code shape, once in eval", function()
    local l = nn.CSC(2, 3, 3, {refresh_every = 3})
    local calls = 0
    local orig = nn.CSC.power_iteration
    l.power_iteration = function(self, ...) calls = calls + 1 return orig(self, ...) end
    local x = sg.randn(2, 2, 6, 6)
    local st = sg.get_rng_state()
    for _ = 1, 7 do l(x) end
    assert.same(st, sg.get_rng_state()) -- the power iteration leaves the RNG stream alone
    assert.equal(3, calls) -- forwards 1, 4, 7
    l(sg.randn(2, 2, 8, 8))
    assert.equal(4, calls) -- a new code shape
    l:eval()
    l(sg.randn(1, 2, 8, 8))
    l(sg.randn(1, 2, 8, 8))
    assert.equal(5, calls) -- once after training forwards, then cached
    local L = l.L
    assert.is_true(L > 0)
    assert.equal(L, l:refresh(sg.randn(1, 2, 8, 8)))
    -- deterministic
    assert.equal(L, nn.CSC.power_iteration(l, {3, 6, 6}, {0, 0}))
  end)

  it("power iteration: the host-read interval (power_read_every) changes neither L nor where it stops", function()
    local core = require "sgen.core"
    -- the plain loop: read the norm and the move after every step
    local function plain(l, shape, op)
      local W, s, p = l.weight, l.stride, l.padding
      local function AtA(v)
        local y = core.conv_transpose2d(v, W, nil, {stride = s, padding = p, output_padding = op})
        return core.conv2d(y, W, nil, {stride = s, padding = p})
      end
      return sg.no_grad(function()
        local st = sg.get_rng_state()
        sg.manual_seed(20240607)
        local v = sg.rand({1, shape[1], shape[2], shape[3]}, {dtype = W:dtype()})
        sg.set_rng_state(st)
        v = v / v:norm()
        local steps = l.power_iters
        for i = 1, l.power_iters do
          local u = AtA(v)
          local nu = u:norm():item()
          if nu == 0 then return 0, i end
          local vn = u / nu
          local moved = (vn - v):norm():item()
          v = vn
          if moved < l.power_tol then steps = i break end
        end
        return (AtA(v) * v):sum():item(), steps
      end)
    end
    local stops = {}
    for i, c in ipairs({
      {seed = 31, iters = 50, tol = 1e-5, dtype = "float32"},   -- runs all 50 steps
      {seed = 33, iters = 5000, tol = 1e-6, dtype = "float32"}, -- stops at 202
      {seed = 32, iters = 5000, tol = 1e-7, dtype = "float64"}, -- stops at 97
      {seed = 34, iters = 37, tol = 1e-3, dtype = "float64"},
    }) do
      sg.manual_seed(c.seed)
      local l = nn.CSC(2, 3, 3, {stride = 2, padding = 1, power_iters = c.iters, power_tol = c.tol,
        dtype = c.dtype})
      local shape, op = l:code_shape(sg.zeros(1, 2, 8, 8, {dtype = c.dtype}))
      local L, steps = plain(l, shape, op)
      stops[i] = steps
      for _, every in ipairs({1, 3, 8, 1000}) do
        l.power_read_every = every
        assert.equal(L, l:power_iteration(shape, op), "case " .. i .. ", reads every " .. every)
      end
      l.power_read_every = nil
      assert.equal(L, l:power_iteration(shape, op), "case " .. i .. ", default")
    end
    assert.equal(50, stops[1])
    -- the early stops fall inside a block of 3 and of 8 reads
    for i = 2, 3 do
      assert.is_true(stops[i] < 5000 and stops[i] % 3 ~= 0 and stops[i] % 8 ~= 0, table.concat(stops, ","))
    end
    -- all-zero atoms: 0
    local z = nn.CSC(2, 3, 3, {normalize = false})
    sg.no_grad(function() z.weight:zero_() end)
    for _, every in ipairs({1, 4}) do
      z.power_read_every = every
      assert.equal(0, z:power_iteration({3, 4, 4}, {0, 0}))
    end
  end)

  it("exact resume: L and the refresh counter are in the state_dict; a loaded layer continues bitwise", function()
    sg.manual_seed(21)
    local a = nn.CSC(2, 4, 3, {stride = 2, padding = 1, refresh_every = 3, iters = 3})
    local opt = sg.optim.SGD(a:parameters(), {lr = 0.5})
    local xs = {}
    for i = 1, 8 do xs[i] = sg.randn(3, 2, 8, 8) end
    local function train_step(l, o, x)
      o:zero_grad()
      local z = l(x)
      z:pow(2):sum():backward()
      o:step()
      return z
    end
    for i = 1, 4 do train_step(a, opt, xs[i]) end -- L computed at forward 4: since = 1
    local st = a.power_state:totable()
    assert.same({1, 4, 4, 4, 1, 1, 1}, st)
    assert.equal(a.L, a.power_L:item())
    -- through a file, as a checkpoint does
    local path = os.tmpname()
    sg.save(path, a:state_dict())
    local b = nn.CSC(2, 4, 3, {stride = 2, padding = 1, refresh_every = 3, iters = 3})
    b:load_state_dict(sg.load(path))
    os.remove(path)
    local optb = sg.optim.SGD(b:parameters(), {lr = 0.5})
    assert.is_nil(b.L) -- the mirror is set by the next forward; the buffers hold L
    assert.equal(a.power_L:item(), b.power_L:item())
    -- without the buffers (L recomputed at load time) the next output differs: the test can fail
    local c = nn.CSC(2, 4, 3, {stride = 2, padding = 1, refresh_every = 3, iters = 3})
    sg.no_grad(function() c.weight:copy_(b.weight) end)
    local zc = c(xs[5])
    -- the next forwards (training: the refresh at forward 7 falls at the same time; then eval)
    for i = 5, 8 do
      local za, zb = train_step(a, opt, xs[i]), train_step(b, optb, xs[i])
      if i == 5 then assert.is_true(maxabs(zc - za) > 0) end
      H.assert_equal_tensors(za, zb, "training forward " .. i)
      H.assert_equal_tensors(a.weight, b.weight, "weight after step " .. i)
      assert.equal(a.L, b.L)
    end
    a:eval() b:eval()
    H.assert_equal_tensors(a(xs[1]), b(xs[1]), "eval forward")
    -- invalidate() forgets L; reset_parameters too
    b:invalidate()
    assert.same({0, 0, 0, 0, 0, 0, 0}, b.power_state:totable())
    assert.is_nil(b.L)
    b(xs[1])
    assert.is_true(b.L > 0)
  end)

  it("forward(x, {detach_dictionary = true}): same codes, no gradient to the dictionary", function()
    sg.manual_seed(22)
    local l = nn.CSC(2, 3, 3, {padding = 1, iters = 3}):eval()
    local x = sg.randn(2, 2, 6, 6):requires_grad_()
    local z1 = l(x)
    local z2 = l(x, {detach_dictionary = true})
    H.assert_equal_tensors(z1, z2, "codes")
    z2:sum():backward()
    assert.is_nil(l.weight.grad)
    assert.is_true(maxabs(x.grad) > 0)
    assert.has_error(function() l(x, {detach = true}) end,
      "sgen.nn.CSC:forward: unknown option 'detach' (expected detach_dictionary)")
  end)

  it("raises errors for bad arguments", function()
    local E = "sgen.nn.CSC: "
    assert.has_error(function() nn.CSC(0, 4, 3) end, E .. "in_channels must be an integer >= 1, got 0")
    assert.has_error(function() nn.CSC(3, 4, 3, {algorithm = "admm"}) end,
      E .. 'option \'algorithm\' must be "fista" or "ista", got "admm"')
    assert.has_error(function() nn.CSC(3, 4, 3, {lambda = -0.1}) end,
      E .. "option 'lambda' must be a number >= 0, got -0.1")
    assert.has_error(function() nn.CSC(3, 4, 3, {iters = 0}) end,
      E .. "option 'iters' must be an integer >= 1, got 0")
    assert.has_error(function() nn.CSC(3, 4, 3, {power_tol = 0}) end,
      E .. "option 'power_tol' must be a positive number, got 0")
    assert.has_error(function() nn.CSC(3, 4, 3, {nonneg = 1}) end,
      E .. "option 'nonneg' must be a boolean, got number")
    assert.has_error(function() nn.CSC(3, 4, 3, {lamda = 1}) end,
      E .. "unknown option 'lamda' (expected stride, padding, lambda, iters, algorithm, nonneg, "
      .. "normalize, power_iters, power_tol, refresh_every, dtype, device)")
    local l = nn.CSC(3, 4, 3)
    assert.has_error(function() l(sg.randn(1, 2, 8, 8)) end,
      E .. "input has 2 channels (1x2x8x8), expected in_channels = 3")
    assert.has_error(function() l(sg.randn(8, 8)) end,
      E .. "input has 2 dims (8x8), expected 3 (CxHxW) or 4 (NxCxHxW)")
    assert.has_error(function() l(sg.randn(1, 3, 2, 2)) end,
      E .. "input of spatial size 2x2 is smaller than the kernel 3x3 with padding 0")
  end)
end)

describe("nn.CSCDecoder", function()
  it("holds the encoder's very dictionary, listed once", function()
    local enc = nn.CSC(3, 8, 4, {stride = 2, padding = 1})
    local dec = nn.CSCDecoder(enc)
    local p = dec:parameters()
    assert.equal(1, #p)
    assert.is_true(rawequal(p[1], enc.weight))
    local Both = nn.Module:extend("Both")
    function Both:init() self.enc = enc self.dec = dec end
    local both = Both()
    assert.equal(1, #both:parameters())
    assert.is_true(rawequal(both:parameters()[1], enc.weight))
    assert.equal(8 * 3 * 4 * 4, both:num_parameters())
    -- a conversion keeps them one tensor
    both:double()
    assert.is_true(rawequal(enc.weight, dec.csc.weight))
    assert.equal("float64", enc.weight:dtype())
  end)

  it("a gradient step through either moves both (they are one tensor)", function()
    sg.manual_seed(8)
    local enc = nn.CSC(2, 4, 3, {stride = 2, padding = 1})
    local dec = nn.CSCDecoder(enc, {output_padding = 1})
    local opt = sg.optim.SGD(dec:parameters(), {lr = 0.1})
    local x = sg.randn(2, 2, 8, 8)
    local before = enc.weight:clone()
    local z = enc(x)
    local xhat = dec(z)
    assert.same(x:shape(), xhat:shape())
    ;((xhat - x) ^ 2):mean():backward()
    opt:step()
    assert.is_true(maxabs(enc.weight - before) > 0)
    assert.is_true(maxabs(dec.csc.weight - enc.weight) == 0)
    -- decoding is A(z): conv_transpose2d with the shared weight
    H.assert_close(dec(z), F.conv_transpose2d(z, enc.weight, nil, {stride = 2, padding = 1,
      output_padding = 1}), 1e-6, "A(z)")
  end)

  it("a closed loop Z = f(X), Ẑ = f(g(Z)) with F.rate_reduction reaches the one dictionary", function()
    sg.manual_seed(9)
    local enc = nn.CSC(1, 4, 4, {stride = 2, padding = 1, iters = 3, lambda = 0.01})
    local dec = nn.CSCDecoder(enc, {output_padding = 0})
    local x = sg.randn(6, 1, 8, 8)
    local z = enc(x)
    local w_before = enc.weight:clone()
    local zhat = enc(dec(z))
    -- the second forward did not rewrite the (already unit-norm) dictionary
    H.assert_equal_tensors(enc.weight, w_before, "second forward")
    local total = F.rate_reduction(z:flatten(2), zhat:flatten(2), {1, 2, 1, 2, 1, 2}, 0.5)
    total:backward()
    assert.is_not_nil(enc.weight.grad)
    assert.is_true(maxabs(enc.weight.grad) > 0)
    assert.equal(1, #nn.Sequential(enc, dec):parameters())
  end)

  it("output size: output_padding, output_size (constructor or forward)", function()
    local enc = nn.CSC(3, 4, 4, {stride = 2, padding = 1, normalize = false})
    local z = sg.randn(1, 4, 5, 5)
    assert.same({1, 3, 10, 10}, nn.CSCDecoder(enc)(z):shape())
    assert.same({1, 3, 11, 11}, nn.CSCDecoder(enc, {output_padding = 1})(z):shape())
    assert.same({1, 3, 11, 10}, nn.CSCDecoder(enc, {output_size = {11, 10}})(z):shape())
    assert.same({1, 3, 11, 11}, nn.CSCDecoder(enc)(z, {11, 11}):shape())
    assert.same({3, 11, 10}, nn.CSCDecoder(enc)(z[1], {2, 3, 11, 10}):shape()) -- unbatched, a full shape
    local x = sg.randn(1, 3, 11, 10)
    assert.same(x:shape(), nn.CSCDecoder(enc)(enc(x), x:shape()):shape())
    local E = "sgen.nn.CSCDecoder: "
    assert.has_error(function() nn.CSCDecoder(nn.Conv2d(3, 4, 4)) end,
      E .. "argument 1 expected an nn.CSC layer, got module")
    assert.has_error(function() nn.CSCDecoder(enc, {output_padding = 2}) end,
      E .. "output_padding (2) must be smaller than the stride (2)")
    assert.has_error(function() nn.CSCDecoder(enc, {output_padding = 1, output_size = {10, 10}}) end,
      E .. "give option 'output_padding' or 'output_size', not both")
    assert.has_error(function() nn.CSCDecoder(enc)(z, {12, 10}) end,
      E .. "output_size 12x10 is not reachable from codes of size 5x5 (sizes 10 to 11 in dim 1 "
      .. "with stride 2, padding 1, kernel 4)")
    assert.has_error(function() nn.CSCDecoder(enc)(sg.randn(1, 3, 5, 5)) end,
      E .. "input has 3 channels (1x3x5x5), expected the 4 atoms of the CSC layer")
  end)
end)
