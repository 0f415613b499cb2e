-- Random numbers: seeding, generator state, random tensor creation.
-- Values are checked through :totable() and plain Lua arithmetic so that the
-- spec depends on nothing but the random bindings and creation.
local sg = require "sgen"
local H = require "spec.helpers"

local flat = H.flat

local function mean_std(xs)
  local s, s2 = 0, 0
  for _, v in ipairs(xs) do s = s + v end
  local m = s / #xs
  for _, v in ipairs(xs) do s2 = s2 + (v - m) ^ 2 end
  return m, math.sqrt(s2 / (#xs - 1))
end

describe("sg.manual_seed", function()
  it("makes every random function reproducible", function()
    local function draw()
      return {
        flat(sg.rand(3, 4)), flat(sg.randn({5}, {dtype = "float64"})),
        flat(sg.randint(0, 100, {7})), flat(sg.normal(2, 3, {4})),
        flat(sg.bernoulli(0.5, {9})), flat(sg.randperm(10)),
        flat(sg.bernoulli(sg.full({6}, 0.5))), flat(sg.rand_like(sg.zeros(2, 2))),
        flat(sg.randn_like(sg.zeros(3))),
      }
    end
    sg.manual_seed(42)
    local a = draw()
    sg.manual_seed(42)
    local b = draw()
    assert.same(a, b)
    sg.manual_seed(43)
    local c = draw()
    assert.are_not.same(a[1], c[1])
    assert.are_not.same(a[2], c[2])
  end)

  it("sets initial_seed and restarts the stream", function()
    sg.manual_seed(1234)
    assert.equal(1234, sg.initial_seed())
    assert.same({seed = 1234, offset = 0}, sg.get_rng_state())
    sg.rand(8) -- float32: 4 numbers per Philox block
    assert.same({seed = 1234, offset = 2}, sg.get_rng_state())
  end)

  it("accepts integral floats and negative seeds (taken mod 2^64)", function()
    sg.manual_seed(7.0)
    assert.equal(7, sg.initial_seed())
    sg.manual_seed(-1)
    assert.equal(-1, sg.initial_seed()) -- 2^64 - 1, shown as a Lua integer
  end)

  it("rejects non-integers", function()
    assert.has_error(function() sg.manual_seed(1.5) end,
      "sgen.manual_seed: argument 1 (seed) expected an integer, got 1.5")
    assert.has_error(function() sg.manual_seed("1") end,
      "sgen.manual_seed: argument 1 (seed) expected an integer, got string")
  end)
end)

describe("sg.get_rng_state / sg.set_rng_state", function()
  it("round trip: restoring the state replays the stream", function()
    sg.manual_seed(5)
    sg.rand(3)
    local st = sg.get_rng_state()
    local a = flat(sg.randn(6))
    local b = flat(sg.randint(-5, 5, {4}))
    sg.rand(100)
    sg.set_rng_state(st)
    assert.same(st, sg.get_rng_state())
    assert.same(a, flat(sg.randn(6)))
    assert.same(b, flat(sg.randint(-5, 5, {4})))
  end)

  it("is a plain table that can be edited and saved", function()
    sg.set_rng_state({seed = 9, offset = 0})
    local a = flat(sg.rand(4))
    sg.manual_seed(9)
    assert.same(a, flat(sg.rand(4)))
  end)

  it("rand(4); rand(4) equals rand(8) (whole blocks per call)", function()
    sg.manual_seed(3)
    local a = flat(sg.rand(4))
    local b = flat(sg.rand(4))
    sg.manual_seed(3)
    local c = flat(sg.rand(8))
    for i = 1, 4 do
      assert.equal(c[i], a[i])
      assert.equal(c[i + 4], b[i])
    end
  end)

  it("checks its argument", function()
    assert.has_error(function() sg.set_rng_state(5) end,
      "sgen.set_rng_state: argument 1 (state) expected a table {seed=, offset=} from "
      .. "sg.get_rng_state(), got number")
    assert.has_error(function() sg.set_rng_state({seed = 1}) end,
      "sgen.set_rng_state: argument 1 (state) has no field 'offset' (expected a table "
      .. "{seed=, offset=} from sg.get_rng_state())")
    assert.has_error(function() sg.set_rng_state({seed = 1, offset = 0.5}) end,
      "sgen.set_rng_state: field 'offset' expected an integer, got a fraction")
    assert.has_error(function() sg.set_rng_state({seed = 1, offset = 0, extra = 1}) end,
      "sgen.set_rng_state: unknown option 'extra' (expected seed, offset)")
  end)
end)

describe("sg.rand / sg.randn", function()
  it("take sizes as integers or a table, then options", function()
    sg.manual_seed(0)
    local x = sg.rand(2, 3)
    assert.same({2, 3}, x:shape())
    assert.equal("float32", x:dtype())
    local y = sg.randn({4, 1, 2}, {dtype = "float64"})
    assert.same({4, 1, 2}, y:shape())
    assert.equal("float64", y:dtype())
    assert.same({}, sg.rand({}):shape()) -- 0-dim
    assert.same({0, 3}, sg.randn(0, 3):shape())
    assert.same({5}, sg.rand(5, {device = "cpu"}):shape())
  end)

  it("rand is uniform in [0, 1)", function()
    sg.manual_seed(11)
    local xs = flat(sg.rand(20000, {dtype = "float64"}))
    local lo, hi = math.huge, -math.huge
    for _, v in ipairs(xs) do
      lo, hi = math.min(lo, v), math.max(hi, v)
    end
    assert.is_true(lo >= 0 and hi < 1)
    assert.is_true(lo < 0.001 and hi > 0.999)
    local m, s = mean_std(xs)
    assert.near(0.5, m, 0.01)
    assert.near(math.sqrt(1 / 12), s, 0.01)
  end)

  it("randn is standard normal", function()
    sg.manual_seed(12)
    local m, s = mean_std(flat(sg.randn(20000)))
    assert.near(0, m, 0.03)
    assert.near(1, s, 0.03)
  end)

  it("rand_like / randn_like keep shape, dtype (and accept options), also as methods", function()
    local z = sg.zeros(3, 2, {dtype = "float64"})
    local a = sg.rand_like(z)
    assert.same({3, 2}, a:shape())
    assert.equal("float64", a:dtype())
    local b = z:randn_like({dtype = "float32"})
    assert.same({3, 2}, b:shape())
    assert.equal("float32", b:dtype())
    for _, v in ipairs(flat(z:rand_like())) do assert.is_true(v >= 0 and v < 1) end
  end)

  it("raise clear errors", function()
    assert.has_error(function() sg.rand() end,
      "sgen.rand: argument 1 (size) expected sizes (integers or a table like {2, 3}), got no value")
    assert.has_error(function() sg.rand("a") end,
      "sgen.rand: argument 1 (size) expected sizes (integers or a table like {2, 3}), got string")
    assert.has_error(function() sg.randn(2, -1) end,
      "sgen.randn: size 2 must be non-negative, got -1")
    assert.has_error(function() sg.rand(2, {dtype = "int64"}) end,
      "sgen.rand: dtype int64 is not supported, expected float32 or float64")
    assert.has_error(function() sg.rand(2, {dtyp = "float64"}) end,
      "sgen.rand: unknown option 'dtyp' (expected dtype, device)")
    assert.has_error(function() sg.rand(2, {}, 3) end,
      "sgen.rand: unexpected argument 3 (number) after the options table")
    assert.has_error(function() sg.rand_like(3) end,
      "sgen.rand_like: argument 1 (input) expected a tensor, got number")
    assert.has_error(function() sg.randn_like(sg.zeros(2, {dtype = "int64"})) end,
      "sgen.randn: dtype int64 is not supported, expected float32 or float64")
  end)
end)

describe("sg.randint", function()
  it("draws integers in [low, high) as int64 (PyTorch semantics)", function()
    sg.manual_seed(1)
    local x = sg.randint(-3, 4, {5000})
    assert.equal("int64", x:dtype())
    assert.same({5000}, x:shape())
    local seen = {}
    for _, v in ipairs(flat(x)) do
      assert.is_true(math.type(v) == "integer" and v >= -3 and v < 4)
      seen[v] = true
    end
    for v = -3, 3 do assert.is_true(seen[v], "value " .. v .. " never drawn") end
  end)

  it("accepts (high, size) and a dtype", function()
    sg.manual_seed(2)
    local x = sg.randint(3, {2, 50}, {dtype = "float32"})
    assert.equal("float32", x:dtype())
    assert.same({2, 50}, x:shape())
    for _, v in ipairs(flat(x)) do assert.is_true(v == 0 or v == 1 or v == 2) end
    local b = sg.randint(0, 2, {10}, {dtype = "uint8"})
    assert.equal("uint8", b:dtype())
  end)

  it("raises clear errors", function()
    assert.has_error(function() sg.randint(5, 5, {3}) end,
      "sgen.randint: high (5) must be greater than low (5)")
    assert.has_error(function() sg.randint(0, 10, 3) end,
      "sgen.randint: argument 3 (size) expected a table of sizes like {2, 3}, got number")
    assert.has_error(function() sg.randint(0.5, 10, {3}) end,
      "sgen.randint: argument 1 (low) expected an integer, got 0.5")
    assert.has_error(function() sg.randint(0, 300, {3}, {dtype = "uint8"}) end,
      "sgen.randint: range [0, 300) does not fit dtype uint8, expected values in [0, 255]")
  end)
end)

describe("sg.normal", function()
  it("draws N(mean, std^2)", function()
    sg.manual_seed(4)
    local x = sg.normal(3, 0.5, {20000}, {dtype = "float64"})
    assert.equal("float64", x:dtype())
    local m, s = mean_std(flat(x))
    assert.near(3, m, 0.02)
    assert.near(0.5, s, 0.02)
  end)

  it("raises clear errors", function()
    assert.has_error(function() sg.normal(0, -1, {3}) end,
      "sgen.normal: std must be finite and >= 0, got -1")
    assert.has_error(function() sg.normal(0, 1, 3) end,
      "sgen.normal: argument 3 (size) expected a table of sizes like {2, 3}, got number")
    assert.has_error(function() sg.normal("0", 1, {3}) end,
      "sgen.normal: argument 1 (mean) expected a number, got string")
  end)
end)

describe("sg.bernoulli", function()
  it("draws 0/1 with the probabilities of a tensor, in its dtype", function()
    sg.manual_seed(6)
    local p = sg.tensor({0, 1, 0, 1, 0.5}, {dtype = "float64"})
    local x = sg.bernoulli(p)
    assert.equal("float64", x:dtype())
    local v = flat(x)
    assert.same({0, 1, 0, 1}, {v[1], v[2], v[3], v[4]})
    assert.is_true(v[5] == 0 or v[5] == 1)
    assert.same({5}, p:bernoulli():shape()) -- method form
  end)

  it("draws with a scalar probability and a size", function()
    sg.manual_seed(7)
    local x = sg.bernoulli(0.3, {20000})
    assert.equal("float32", x:dtype())
    local m = mean_std(flat(x))
    assert.near(0.3, m, 0.015)
    assert.equal("bool", sg.bernoulli(0.5, {3}, {dtype = "bool"}):dtype())
  end)

  it("raises clear errors", function()
    assert.has_error(function() sg.bernoulli(1.5, {2}) end,
      "sgen.bernoulli: p must be a probability in [0, 1], got 1.5")
    assert.has_error(function() sg.bernoulli(sg.tensor({0.5, 2})) end,
      "sgen.bernoulli: p (2) must hold probabilities in [0, 1], got 2 at flat index 1")
    assert.has_error(function() sg.bernoulli(sg.tensor({0, 1}, {dtype = "int64"})) end,
      "sgen.bernoulli: p (2) has dtype int64, expected float32 or float64")
    assert.has_error(function() sg.bernoulli("x") end,
      "sgen.bernoulli: argument 1 (p) expected a tensor of probabilities or a number, got string")
    assert.has_error(function() sg.bernoulli(sg.rand(2), {2}) end,
      "sgen.bernoulli: unexpected argument 2 (table): with a tensor of probabilities the result "
      .. "takes its shape")
    assert.has_error(function() sg.bernoulli(0.5) end,
      "sgen.bernoulli: argument 2 (size) expected a table of sizes like {2, 3}, got no value")
  end)
end)

describe("sg.randperm", function()
  it("is a permutation of 1..n (1-based, for indexing)", function()
    sg.manual_seed(8)
    for _, n in ipairs({1, 2, 10, 1000}) do
      local p = sg.randperm(n)
      assert.equal("int64", p:dtype())
      assert.same({n}, p:shape())
      local v = flat(p)
      table.sort(v)
      for i = 1, n do assert.equal(i, v[i]) end
    end
    assert.same({0}, sg.randperm(0):shape())
  end)

  it("shuffles (not the identity) and accepts a dtype", function()
    sg.manual_seed(9)
    local v = flat(sg.randperm(50))
    local fixed = 0
    for i = 1, 50 do if v[i] == i then fixed = fixed + 1 end end
    assert.is_true(fixed < 10)
    local f = sg.randperm(5, {dtype = "float64"})
    assert.equal("float64", f:dtype())
  end)

  it("raises clear errors", function()
    assert.has_error(function() sg.randperm(-1) end, "sgen.randperm: n must be >= 0, got -1")
    assert.has_error(function() sg.randperm({3}) end,
      "sgen.randperm: argument 1 (n) expected an integer, got table")
  end)
end)
