-- sg.F.coding_rate and sg.F.rate_reduction (lua/sgen/F_rate.lua) against
-- PyTorch (spec/fixtures/rate_reduction.safetensors, tools/make_rate_fixture.py,
-- which computes the CTRL code's d x d forms): values and gradients in float64
-- (1e-10) and float32 (1e-5), the Gram identity, gradcheck, errors.
local sg = require "sgen"
local F = sg.F
local H = require "spec.helpers"

local fx = H.fixture("rate_reduction")

local TERMS = {"total", "R_Z", "Rc_Z", "delta_R_Z", "R_Zhat", "Rc_Zhat", "delta_R_Zhat", "delta_R_pairs"}

describe("F.coding_rate", function()
  it("matches PyTorch's ½ logdet(I + d/(nε²) ZᵀZ): n > d and n < d (the n x n Gram form)", function()
    H.assert_close(F.coding_rate(fx.Z, 0.5), fx["cr.Z"], 1e-10, "Z 12x5")
    H.assert_close(F.coding_rate(fx.Zw, 0.5), fx["cr.Zw"], 1e-10, "Zw 4x9")
    H.assert_close(F.coding_rate(fx.Z, 1.0), fx["cr.Z.eps1"], 1e-10, "eps2 = 1")
    H.assert_close(F.coding_rate(fx.Z), fx["cr.Z"], 1e-10, "default eps2 0.5")
    H.assert_close(F.coding_rate(fx.Z:float(), 0.5), fx["cr.Z"], 1e-5, "float32")
    assert.equal(0, F.coding_rate(fx.Z):dim())
  end)

  it("has PyTorch's gradient, passes gradcheck, and batches over leading dims", function()
    local Z = fx.Z:clone():requires_grad_()
    F.coding_rate(Z, 0.5):backward()
    H.assert_close(Z.grad, fx["cr.grad.Z"], 1e-10, "d R / d Z")
    local Zf = fx.Z:float():requires_grad_()
    F.coding_rate(Zf, 0.5):backward()
    H.assert_close(Zf.grad, fx["cr.grad.Z"], 1e-5, "float32 gradient")
    sg.manual_seed(0)
    H.gradcheck(function(z) return F.coding_rate(z, 0.5) end, {sg.randn(6, 4, {dtype = "float64"})})
    H.gradcheck(function(z) return F.coding_rate(z, 0.5) end, {sg.randn(3, 7, {dtype = "float64"})})
    local batch = sg.stack({fx.Z, fx.Z * 2})
    local r = F.coding_rate(batch, 0.5)
    assert.same({2}, r:shape())
    H.assert_close(r[1], fx["cr.Z"], 1e-10, "batch element 1")
    H.assert_close(r[2], F.coding_rate(fx.Z * 2, 0.5), 1e-10, "batch element 2")
  end)

  it("raises errors for bad arguments", function()
    assert.has_error(function() F.coding_rate({1, 2}) end,
      "sgen.F.coding_rate: argument 1 (Z) expected a tensor, got table")
    assert.has_error(function() F.coding_rate(sg.randn(5)) end,
      "sgen.F.coding_rate: argument 1 (Z) has 1 dims (5), expected 2 (n x d, rows are samples) or more (... x n x d)")
    assert.has_error(function() F.coding_rate(sg.randn(5, 3), 0) end,
      "sgen.F.coding_rate: eps2 must be a positive number, got 0")
    assert.has_error(function() F.coding_rate(sg.ones(2, 2, {dtype = "int64"})) end,
      "sgen.F.coding_rate: argument 1 (Z) must be float32 or float64, got int64")
  end)
end)

describe("F.rate_reduction", function()
  for _, mode in ipairs({"norm", "raw"}) do
    it("matches PyTorch's CTRL objective and its terms (" .. mode .. ")", function()
      local opts = {normalize = mode == "norm"}
      for _, dt in ipairs({"float64", "float32"}) do
        local tol = dt == "float64" and 1e-10 or 1e-5
        local Z, Zh = fx.Z:to(dt):clone():requires_grad_(), fx.Zhat:to(dt):clone():requires_grad_()
        local total, terms = F.rate_reduction(Z, Zh, fx.labels, 0.5, opts)
        terms.total = total
        for _, t in ipairs(TERMS) do
          H.assert_close(terms[t], fx["rr." .. mode .. "." .. t], tol, dt .. " " .. t)
        end
        H.assert_close(sg.stack(terms.pairs), fx["rr." .. mode .. ".pairs"], tol, dt .. " pairs")
        assert.same({1, 2, 4}, terms.classes)
        total:backward()
        H.assert_close(Z.grad, fx["rr." .. mode .. ".grad.Z"], tol, dt .. " d total / d Z")
        H.assert_close(Zh.grad, fx["rr." .. mode .. ".grad.Zhat"], tol, dt .. " d total / d Zhat")
      end
    end)
  end

  it("takes labels as a list, eps2 defaulting to 0.5 and options in its place; nil labels: one class", function()
    local list = fx.labels:totable()
    local a = F.rate_reduction(fx.Z, fx.Zhat, list, {normalize = false})
    H.assert_close(a, fx["rr.raw.total"], 1e-10, "list labels, default eps2")
    H.assert_close(F.rate_reduction(fx.Z, fx.Zhat, list), fx["rr.norm.total"], 1e-10, "defaults")
    -- one class: ΔR(Z) = ΔR(Ẑ) = 0 and the total is ΔR(Z, Ẑ)
    local t, terms = F.rate_reduction(fx.Z, fx.Zhat, nil, 0.5, {normalize = false})
    H.assert_close(terms.delta_R_Z, {0}, 1e-12, "one class")
    local expect = F.coding_rate(sg.cat({fx.Z, fx.Zhat}, 1), 0.5)
      - (F.coding_rate(fx.Z, 0.5) + F.coding_rate(fx.Zhat, 0.5)) * 0.5
    H.assert_close(t, expect, 1e-12, "ΔR(Z, Ẑ)")
    -- Ẑ = Z: the two ΔR terms agree
    local _, same = F.rate_reduction(fx.Z, fx.Z, fx.labels, 0.5, {normalize = false})
    H.assert_close(same.delta_R_Z, same.delta_R_Zhat, 1e-12, "symmetric")
  end)

  it("passes gradcheck (float64)", function()
    sg.manual_seed(1)
    local labels = {1, 2, 1, 2, 2, 1, 1}
    H.gradcheck(function(z, zh) return F.rate_reduction(z, zh, labels, 0.5) end,
      {sg.randn(7, 3, {dtype = "float64"}), sg.randn(7, 3, {dtype = "float64"})})
  end)

  it("raises errors for bad arguments", function()
    local E = "sgen.F.rate_reduction: "
    assert.has_error(function() F.rate_reduction(fx.Z, fx.Zhat:narrow(1, 1, 5), fx.labels) end,
      E .. "Z (12x5) and Zhat (5x5) must have the same shape")
    assert.has_error(function() F.rate_reduction(fx.Z, fx.Zhat, {1, 2}) end,
      E .. "labels has 2 entries, expected 12 (one per row)")
    assert.has_error(function() F.rate_reduction(fx.Z, fx.Zhat, sg.ones(3, 4)) end,
      E .. "labels has shape 3x4, expected 12 entries (one per row)")
    assert.has_error(function() F.rate_reduction(fx.Z, fx.Zhat, fx.labels, 0.5, {normalise = true}) end,
      E .. "unknown option 'normalise' (expected normalize)")
    assert.has_error(function() F.rate_reduction(fx.Z, fx.Zhat, fx.labels, -1) end,
      E .. "eps2 must be a positive number, got -1")
    assert.has_error(function() F.rate_reduction(fx.Z:view(2, 6, 5), fx.Zhat, fx.labels) end,
      E .. "argument 1 (Z) has 3 dims (2x6x5), expected 2 (n x d, rows are samples)")
  end)
end)
